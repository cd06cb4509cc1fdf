-- list_health (DESIGN 8): one row per list per day, in the configured timezone, rebuilt from business-time
-- history (status_history, list membership, events) so that any past day is reproducible.
-- Computes the days $start_day .. $until (assets/metrics/health.py picks $start_day, the first day that new
-- inputs touch, and $until, a year after the as-of date): those up to $as_of into staging.list_health, the
-- later ones into staging.list_health_ahead, from which a run on a later day takes its days while no input
-- changed (a day's figures depend on the inputs and the day, never on the as-of date). Parameters: $tz,
-- $start_day, $as_of, $until, $last_file_id; {engaged_window_days}.
--
-- Day arithmetic: a status row is the end-of-day status for the days [day(valid_from), day(valid_to)); an
-- event on day e falls in the engaged window of the days [e, e + window - 1].

-- Status intervals, in days, with the status that ended each one and the status at the end of the day it
-- ended (the first later one that outlasts its first day; statuses that start and end on one day are no
-- end-of-day status).
create or replace temp table lh_status as
with dated as (
    select email, status, valid_from, timezone($tz, valid_from)::date as day_from, timezone($tz, valid_to)::date as day_to
    from status_history
)

select
    email,
    status,
    day_from,
    day_to,
    lead(status) over w as next_status,
    first_value(if(day_to is null or day_to > day_from, status, null) ignore nulls) over (w rows between 1 following and unbounded following) as day_to_status
from dated
window w as (partition by email order by valid_from);

-- Membership intervals (list_id, email, contact_id, m_from, m_to, m_last). Contacts on a test list stay out
-- of the system lists. Every member is a contact; the integer contact_id makes the big joins below cheaper.
-- m_last: the last day the address is a member at some moment of the day, for the deliverability counts:
-- m_to, the day it left (it was a member when the day began), unless the next interval of the same list
-- starts that day (a status list: subscribed again, or from one closed status to another), which then
-- has that day; null while the membership lasts.
create or replace temp table lh_members as
with test_members as (
    select distinct m.email
    from staging.list_members m
    join staging.list_catalog c using (list_id)
    where c.kind = 'test'
),

static_members as (
    select m.list_id, m.email, timezone($tz, m.added_at)::date as m_from, null::date as m_to, null::date as m_last
    from staging.list_members m
    join staging.list_catalog c using (list_id)
    where c.kind in ('static', 'test')
),

everyone as (
    select 'all' as list_id, email, timezone($tz, created_at)::date as m_from, null::date as m_to, null::date as m_last
    from staging.contacts
    where email not in (select email from test_members)
),

by_status as (
    select
        if(status = 'subscribed', 'subscribed', 'suppressed') as list_id,
        email,
        day_from as m_from,
        day_to as m_to,
        case
            when status = 'subscribed' and day_to_status = 'subscribed' then day_to - 1
            when status <> 'subscribed' and day_to_status in {closed_statuses} then day_to - 1
            else day_to
        end as m_last
    from lh_status
    where status <> 'unconfirmed'
      and (day_to is null or day_to > day_from)
      and email in (select email from staging.contacts)
      and email not in (select email from test_members)
),

memberships as (
    select * from static_members
    union all select * from everyone
    union all select * from by_status
)

select m.*, c.contact_id
from memberships m
join staging.contacts c using (email);

-- Subscribed-while-member intervals: where a membership and a subscribed status overlap.
create or replace temp table lh_subscribed as
with overlapping as (
    select
        m.list_id,
        m.email,
        m.contact_id,
        greatest(m.m_from, s.day_from) as s_from,
        case when m.m_to is null then s.day_to when s.day_to is null then m.m_to else least(m.m_to, s.day_to) end as s_to,
        s.day_to as status_to,
        s.next_status
    from lh_members m
    join lh_status s using (email)
    where s.status = 'subscribed'
)

select * from overlapping where s_to is null or s_to > s_from;

-- The days to compute, per list: from its first member (or $start_day, if later) to $until.
create or replace temp table lh_days as
with first_days as (
    select list_id, min(m_from) as first_day from lh_members group by list_id
)

select f.list_id, unnest(generate_series(greatest(f.first_day, $start_day::date - 1), $until::date, interval 1 day))::date as day
from first_days f
join staging.list_catalog using (list_id)
where f.first_day <= $until::date;

-- Engagement windows as islands: an event on day e makes its contact active on the days [e, e + window).
-- Overlapping windows of one contact and kind merge into one island, so islands of a contact never
-- overlap and counting covering islands counts contacts. Kinds: 0 engage (open, click), 1 open, 2 click,
-- 3 reach (delivered, sent, or an open or click, which proves delivery). Only contacts can be members.
-- Islands cover all history and hold for any as-of date: a day is covered only by events up to it.
-- They are kept in staging.engagement_islands; a run recomputes the contacts that files loaded since
-- the last computation mention ($last_file_id; -1 recomputes every contact).
-- (Each case is its own branch: with `or`, DuckDB would scan every event for the full recompute too.)
create or replace temp table lh_touched as
select contact_id, email from staging.contacts where $last_file_id < 0
union all
select contact_id, email from staging.contacts
where $last_file_id >= 0
  and (email in (select email from staging.event_rows where file_id > $last_file_id)
       or email in (select email from staging.contact_rows where file_id > $last_file_id));

delete from staging.engagement_islands where $last_file_id < 0;

delete from staging.engagement_islands
where $last_file_id >= 0
  and (contact_id in (select contact_id from lh_touched) or contact_id not in (select contact_id from staging.contacts));

create or replace temp table lh_event_days as
with dated as (
    -- an open the sending service marks as a machine's (Apple Mail privacy) proves delivery, not interest
    select email, case when event = 'open' and machine_open then 'delivered' else event end as event, timezone($tz, occurred_at)::date as event_day
    from staging.event_rows
    where event in {reach_events}
),

contact_days as (
    select t.contact_id, e.event_day, bool_or(e.event = 'open') as opened, bool_or(e.event = 'click') as clicked
    from dated e
    join lh_touched t using (email)
    group by all
),

event_days as (
    select contact_id, 3 as kind, event_day from contact_days
    union all select contact_id, 0, event_day from contact_days where opened or clicked
    union all select contact_id, 1, event_day from contact_days where opened
    union all select contact_id, 2, event_day from contact_days where clicked
)

select * from event_days;

-- An island starts on a day no earlier window reaches and ends on a day whose window the next day does
-- not reach; lag and lead share one sort. Kept are the start and end days only (one day can be both),
-- so each end's island starts on the kept day before it, or on itself.
insert into staging.engagement_islands
with edges as (
    select
        contact_id,
        kind,
        event_day,
        coalesce(event_day >= lag(event_day) over w + {engaged_window_days}, true) as is_start,
        coalesce(lead(event_day) over w >= event_day + {engaged_window_days}, true) as is_end
    from lh_event_days
    window w as (partition by contact_id, kind order by event_day)
),

paired as (
    select *, lag(event_day) over (partition by contact_id, kind order by event_day) as previous_edge
    from edges
    where is_start or is_end
)

select contact_id, kind, if(is_start, event_day, previous_edge) as i_from, event_day + {engaged_window_days} as i_to
from paired
where is_end;

-- The islands that can matter from the day before $start_day on: one that ended earlier adds +1 and -1
-- before it, nothing after.
create or replace temp table lh_islands as
select * from staging.engagement_islands where i_to >= $start_day::date - 1;

-- Day counts by sweeping intervals: +1 on the day an interval starts, -1 on the day it ends, summed per
-- list, metric and day. Every interval here is [from, to) per (list, address), and an address's intervals
-- never overlap. Each kind of interval is summed by its own statement into the small lh_changes, which
-- streams every interval once and stores none: a union of the four in one statement, with the day filter
-- pushed into it, makes DuckDB 2.0.0 fail on a warehouse read back from disk ("dict-surviving cache:
-- global dictionary column 3 changed identity", which invalidates the database), and storing the intervals
-- first spills at 10M contacts.
create or replace temp table lh_changes (list_id varchar, metric varchar, day date, delta bigint);

insert into lh_changes
select list_id, 'members', day, sum(delta)
from (select list_id, unnest([m_from, m_to]) as day, unnest([1, -1]) as delta from lh_members) edges
where day <= $until::date
group by all;

insert into lh_changes
select list_id, 'subscribed', day, sum(delta)
from (select list_id, unnest([s_from, s_to]) as day, unnest([1, -1]) as delta from lh_subscribed) edges
where day <= $until::date
group by all;

insert into lh_changes
select list_id, 'engaged', day, sum(delta)
from (
    select
        s.list_id,
        unnest([greatest(s.s_from, i.i_from), if(s.s_to is null, i.i_to, least(s.s_to, i.i_to))]) as day,
        unnest([1, -1]) as delta
    from lh_subscribed s join lh_islands i on i.contact_id = s.contact_id and i.kind = 0
    where i.i_to > s.s_from and (s.s_to is null or s.s_to > i.i_from)
) edges
where day <= $until::date
group by all;

insert into lh_changes
select list_id, metric, day, sum(delta)
from (
    select
        m.list_id,
        ['engage', 'open', 'click', 'reach'][i.kind + 1] as metric,
        unnest([greatest(m.m_from, i.i_from), if(m.m_to is null, i.i_to, least(m.m_to, i.i_to))]) as day,
        unnest([1, -1]) as delta
    from lh_members m join lh_islands i on i.contact_id = m.contact_id and i.kind > 0
    where i.i_to > m.m_from and (m.m_to is null or m.m_to > i.i_from)
) edges
where day <= $until::date
group by all;

create or replace temp table lh_deltas as
select list_id, day,
       sum(delta) filter (where metric = 'members') as members,
       sum(delta) filter (where metric = 'subscribed') as subscribed,
       sum(delta) filter (where metric = 'engaged') as engaged,
       sum(delta) filter (where metric = 'open') as opened,
       sum(delta) filter (where metric = 'click') as clicked,
       sum(delta) filter (where metric = 'reach') as reached
from lh_changes
group by all;

create or replace temp table lh_counts as
with grid as (
    select list_id, day from lh_days
    union
    select list_id, day from lh_deltas
),

running as (
    select
        g.list_id,
        g.day,
        sum(coalesce(d.members, 0)) over w as members,
        sum(coalesce(d.subscribed, 0)) over w as subscribed,
        sum(coalesce(d.engaged, 0)) over w as engaged,
        sum(coalesce(d.opened, 0)) over w as opened,
        sum(coalesce(d.clicked, 0)) over w as clicked,
        sum(coalesce(d.reached, 0)) over w as reached
    from grid g
    left join lh_deltas d using (list_id, day)
    window w as (partition by g.list_id order by g.day rows unbounded preceding)
)

select r.* from running r semi join lh_days using (list_id, day);

-- Deliverability (README "List-health metrics"): per list and day, the messages sent to its members and
-- their hard bounces, soft bounces, complaints and unsubscribes. A message is counted on each day it has a
-- sent or delivered event: with a message_id once per contact and message whether it has a sent, a
-- delivered or both events (and each other kind once per message); without one, per contact, campaign and
-- day, the larger of its sent and its delivered events, and every other event. One row per contact, day
-- and message (or campaign), then each row counts for each list the contact is a member of at some moment
-- of its day (m_from to m_last). A day depends only on its own events, so only the days from $start_day on
-- are read (the time bound lets DuckDB skip row groups; two days cover any zone's offset).
create or replace temp table lh_delivery as
with messages as (
    select
        c.contact_id,
        timezone($tz, e.occurred_at)::date as day,
        e.message_id is not null as identified,
        count(*) filter (where e.event = 'sent') as sent,
        count(*) filter (where e.event = 'delivered') as delivered,
        count(*) filter (where e.event = 'hard_bounce') as hard_bounces,
        count(*) filter (where e.event = 'soft_bounce') as soft_bounces,
        count(*) filter (where e.event = 'complaint') as complaints,
        count(*) filter (where e.event = 'unsubscribe') as unsubscribes
    from staging.event_rows e
    join staging.contacts c using (email)
    where e.event in ('sent', 'delivered', 'hard_bounce', 'soft_bounce', 'complaint', 'unsubscribe')
      and e.occurred_at >= $start_day::date - interval 2 day
    group by c.contact_id, day, e.message_id, if(e.message_id is null, e.campaign_id, null)
)

select
    m.list_id,
    d.day,
    sum(if(d.identified, least(d.sent + d.delivered, 1), greatest(d.sent, d.delivered))) as messages_sent,
    sum(if(d.identified, least(d.hard_bounces, 1), d.hard_bounces)) as hard_bounces,
    sum(if(d.identified, least(d.soft_bounces, 1), d.soft_bounces)) as soft_bounces,
    sum(if(d.identified, least(d.complaints, 1), d.complaints)) as complaints,
    sum(if(d.identified, least(d.unsubscribes, 1), d.unsubscribes)) as unsubscribes
from messages d
join lh_members m on m.contact_id = d.contact_id
where d.day >= $start_day::date and d.day <= $until::date
  and d.day >= m.m_from and (m.m_last is null or d.day <= m.m_last)
group by all;

create or replace temp table lh_final as
with starts as (
    select list_id, s_from as day, count(*) as new_subscribers from lh_subscribed group by all
),

ends as (
    -- a subscription that ends because the status changed, by the status it changed to
    select
        list_id,
        s_to as day,
        count(*) filter (where next_status = 'unsubscribed') as unsubscribes,
        count(*) filter (where next_status = 'bounced') as bounces,
        count(*) filter (where next_status = 'complained') as complaints
    from lh_subscribed
    where s_to = status_to
    group by all
),

offered as (
    -- rows of contact files offered to a list on the day the file was loaded, and how many were invalid
    select
        coalesce(l.list_id, 'all') as list_id,
        timezone($tz, f.loaded_at)::date as day,
        sum(f.rows_total) as rows_offered,
        sum((select count(*) from rejected_rows r where r.file_id = f.file_id and r.reason = 'invalid_email')) as rows_invalid
    from import_files f
    left join lateral (select unnest(f.lists) as list_id union all select 'all') l on true
    where f.kind = 'contacts' and f.status = 'loaded'
    group by all
),

combined as (
    select
        d.list_id,
        d.day,
        c.members::bigint as members,
        c.subscribed::bigint as subscribed,
        lag(c.subscribed) over (partition by d.list_id order by d.day) as subscribed_before,
        coalesce(st.new_subscribers, 0) as new_subscribers,
        coalesce(en.unsubscribes, 0) as unsubscribes,
        coalesce(en.bounces, 0) as bounces,
        coalesce(en.complaints, 0) as complaints,
        c.engaged,
        c.opened,
        c.clicked,
        c.reached,
        o.rows_offered,
        o.rows_invalid,
        coalesce(dv.messages_sent, 0)::bigint as messages_sent,
        coalesce(dv.hard_bounces, 0)::bigint as hard_bounce_events,
        coalesce(dv.soft_bounces, 0)::bigint as soft_bounce_events,
        coalesce(dv.complaints, 0)::bigint as complaint_events,
        coalesce(dv.unsubscribes, 0)::bigint as unsubscribe_events
    from lh_days d
    join lh_counts c using (list_id, day)
    left join starts st using (list_id, day)
    left join ends en using (list_id, day)
    left join offered o using (list_id, day)
    left join lh_delivery dv using (list_id, day)
),

final as (
    select
        list_id,
        day,
        members,
        subscribed,
        new_subscribers,
        unsubscribes,
        bounces,
        complaints,
        unsubscribes + bounces + complaints as churned,
        round((new_subscribers - (unsubscribes + bounces + complaints)) / nullif(subscribed_before, 0), 4) as growth_rate,
        round((unsubscribes + bounces + complaints) / nullif(subscribed_before, 0), 4) as churn_rate,
        round(engaged / nullif(subscribed, 0), 4) as engagement_rate,
        round(opened / nullif(reached, 0), 4) as open_rate,
        round(clicked / nullif(reached, 0), 4) as click_rate,
        round(coalesce(rows_invalid, 0) / nullif(rows_offered, 0), 4) as invalid_rate,
        messages_sent,
        hard_bounce_events,
        soft_bounce_events,
        complaint_events,
        unsubscribe_events,
        -- 6 places: the providers' complaint limit is 0.3%
        round(hard_bounce_events / nullif(messages_sent, 0), 6) as bounce_rate,
        round(complaint_events / nullif(messages_sent, 0), 6) as complaint_rate,
        round(unsubscribe_events / nullif(messages_sent, 0), 6) as unsubscribe_rate
    from combined
    where day >= $start_day::date  -- the day before the start only supplied subscribed_before
)

select * from final;

delete from staging.list_health where day >= $start_day::date or day > $as_of::date;

insert into staging.list_health
select * from lh_final where day <= $as_of::date;

delete from staging.list_health_ahead;

insert into staging.list_health_ahead
select * from lh_final where day > $as_of::date;

drop table lh_status;
drop table lh_members;
drop table lh_subscribed;
drop table lh_days;
drop table lh_touched;
drop table lh_event_days;
drop table lh_islands;
drop table lh_changes;
drop table lh_deltas;
drop table lh_counts;
drop table lh_delivery;
drop table lh_final;
