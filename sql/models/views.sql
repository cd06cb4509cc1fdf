-- Public relations that are views (DESIGN 6): the current version of each versioned relation, and the
-- relations derived from them. Recreated on every connection set-up, after the tables they read.

-- The version a relation's public view shows. Relations computed as of a day (engagement, segments, list
-- health) show, of the versions that changed them, the one with the newest as-of date (the newest version on a
-- tie): a backfill (a run as of an earlier day) adds versions that time travel reads, but never moves the
-- current view back. Contacts and list membership do not depend on the as-of date, so they show the last
-- version written: a file loaded by a backfill run is current at once.
create or replace macro current_version(relation) as (
    select version from versions
    where list_contains(tables_changed, relation)
    order by as_of_date desc, version desc
    limit 1
);

-- The version that shows a relation as of a day: of the versions that changed it with an as-of date on or
-- before the day, the newest. `select * from segment_members_at('engaged-users', version_as_of('segment_members', date '2026-06-30'))`.
create or replace macro version_as_of(relation, day) as (
    select version from versions
    where list_contains(tables_changed, relation) and as_of_date <= day
    order by as_of_date desc, version desc
    limit 1
);

create or replace view contacts as
select * exclude (valid_from_version, valid_to_version) from contacts_history where valid_to_version is null;

create or replace view contact_engagement as
select * exclude (valid_from_version, valid_to_version) from contact_engagement_history
where valid_from_version <= current_version('contact_engagement')
  and (valid_to_version is null or valid_to_version > current_version('contact_engagement'));

create or replace view list_members as
select * exclude (valid_from_version, valid_to_version) from list_members_history where valid_to_version is null;

create or replace view segment_members as
select * exclude (valid_from_version, valid_to_version, sql_sha256) from segment_members_history
where valid_from_version <= current_version('segment_members')
  and (valid_to_version is null or valid_to_version > current_version('segment_members'));

create or replace view list_health as
select * exclude (valid_from_version, valid_to_version) from list_health_history
where valid_from_version <= current_version('list_health')
  and (valid_to_version is null or valid_to_version > current_version('list_health'));

create or replace view duplicate_candidates as
select * exclude (valid_from_version, valid_to_version) from duplicate_candidates_history where valid_to_version is null;

create or replace view contact_predictions as
select * exclude (valid_from_version, valid_to_version) from contact_predictions_history
where valid_from_version <= current_version('contact_predictions')
  and (valid_to_version is null or valid_to_version > current_version('contact_predictions'));

-- Every as-of date's back-test rows are kept (the working table only replaces its own day's rows).
create or replace view prediction_backtest as
select * exclude (valid_from_version, valid_to_version) from prediction_backtest_history
where valid_from_version <= current_version('prediction_backtest')
  and (valid_to_version is null or valid_to_version > current_version('prediction_backtest'));

create or replace view events as
select c.contact_id, e.email, e.event, e.occurred_at, e.campaign_id, e.list, e.value, e.url,
       e.message_id, e.tags, e.machine_open, e.service_event
from staging.event_rows e
left join contacts c using (email);

create or replace view lists as
select l.list_id, l.name, l.kind, count(m.contact_id) as member_count
from staging.list_catalog l
left join list_members m using (list_id)
group by all;

create or replace view segments as
with changes as (
    -- the last version, up to the one the view shows, at which the segment's membership changed
    select segment_id, max(greatest(valid_from_version, case when valid_to_version <= current_version('segment_members') then valid_to_version else 0 end)) as version
    from segment_members_history
    where valid_from_version <= current_version('segment_members')
    group by segment_id
)

select s.segment_id, s.description, s.sql_sha256, count(m.contact_id) as member_count, any_value(c.version) as version
from staging.segment_catalog s
left join segment_members m using (segment_id)
left join changes c using (segment_id)
where s.retired_version is null
group by all;

-- Overlap of every pair of audiences (lists, system lists included, and current segments), as of the current
-- versions: shared members, overlap = shared / the smaller audience (Mailtrap's formula) and Jaccard = shared /
-- the union. Each unordered pair once (a before b by kind, then id); pairs with no shared member included.
create or replace view list_overlap as
with audiences as (
    select 'list' as kind, list_id as audience_id, contact_id from list_members
    union all
    select 'segment', segment_id, contact_id from segment_members where segment_id in (select segment_id from segments)
),

sizes as (
    select 'list' as kind, list_id as audience_id, member_count as members from lists
    union all
    select 'segment', segment_id, member_count from segments
),

shared as (
    select a.kind as kind_a, a.audience_id as id_a, b.kind as kind_b, b.audience_id as id_b, count(*) as shared
    from audiences a
    join audiences b on b.contact_id = a.contact_id and (b.kind, b.audience_id) > (a.kind, a.audience_id)
    group by all
)

select
    a.kind as kind_a,
    a.audience_id as id_a,
    b.kind as kind_b,
    b.audience_id as id_b,
    a.members as members_a,
    b.members as members_b,
    coalesce(s.shared, 0) as shared,
    round(coalesce(s.shared, 0) / nullif(least(a.members, b.members), 0), 4) as overlap,
    round(coalesce(s.shared, 0) / nullif(a.members + b.members - coalesce(s.shared, 0), 0), 4) as jaccard
from sizes a
join sizes b on (b.kind, b.audience_id) > (a.kind, a.audience_id)
left join shared s on s.kind_a = a.kind and s.id_a = a.audience_id and s.kind_b = b.kind and s.id_b = b.audience_id;

-- Time travel (DESIGN 6.3): the relation as it was at a version.
create or replace macro contacts_at(v) as table
select * exclude (valid_from_version, valid_to_version) from contacts_history
where valid_from_version <= v and (valid_to_version is null or valid_to_version > v);

create or replace macro contact_engagement_at(v) as table
select * exclude (valid_from_version, valid_to_version) from contact_engagement_history
where valid_from_version <= v and (valid_to_version is null or valid_to_version > v);

create or replace macro duplicate_candidates_at(v) as table
select * exclude (valid_from_version, valid_to_version) from duplicate_candidates_history
where valid_from_version <= v and (valid_to_version is null or valid_to_version > v);

create or replace macro contact_predictions_at(v) as table
select * exclude (valid_from_version, valid_to_version) from contact_predictions_history
where valid_from_version <= v and (valid_to_version is null or valid_to_version > v);

create or replace macro prediction_backtest_at(v) as table
select * exclude (valid_from_version, valid_to_version) from prediction_backtest_history
where valid_from_version <= v and (valid_to_version is null or valid_to_version > v);

create or replace macro list_health_at(v) as table
select * exclude (valid_from_version, valid_to_version) from list_health_history
where valid_from_version <= v and (valid_to_version is null or valid_to_version > v);

create or replace macro list_members_at(list, v) as table
select list_id, contact_id, email, added_at from list_members_history
where list_id = list and valid_from_version <= v and (valid_to_version is null or valid_to_version > v);

create or replace macro segment_members_at(segment, v) as table
select segment_id, contact_id, email from segment_members_history
where segment_id = segment and valid_from_version <= v and (valid_to_version is null or valid_to_version > v);

-- Diffs between two versions: rows contact_id, email, change ('added' | 'removed').
create or replace macro segment_changes(segment, from_v, to_v) as table
(select contact_id, email, 'added' as change from segment_members_at(segment, to_v)
 except select contact_id, email, 'added' from segment_members_at(segment, from_v))
union all
(select contact_id, email, 'removed' from segment_members_at(segment, from_v)
 except select contact_id, email, 'removed' from segment_members_at(segment, to_v));

create or replace macro list_changes(list, from_v, to_v) as table
(select contact_id, email, 'added' as change from list_members_at(list, to_v)
 except select contact_id, email, 'added' from list_members_at(list, from_v))
union all
(select contact_id, email, 'removed' from list_members_at(list, from_v)
 except select contact_id, email, 'removed' from list_members_at(list, to_v));

-- Status of every address at a moment: `select * from status_at(timestamptz '2026-03-01 00:00+00')`.
create or replace macro status_at(moment) as table
select email, status, valid_from, reason, source
from status_history
where valid_from <= moment and (valid_to is null or valid_to > moment);

-- One row per address merged into another contact (a reviewed merge file, README "Merge files"): the alias, the
-- address and contact_id of the contact it belongs to, and the merge file's row that made it.
create or replace view contact_aliases as
select a.alias_email, a.kept_email, c.contact_id, a.file_id, a.row_number, a.merged_at
from staging.contact_aliases a
left join contacts c on c.email = a.kept_email;
