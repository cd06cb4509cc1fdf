-- list_health (DESIGN 8): one row per list per day, in the configured timezone, rebuilt from business-time
-- history (status_history, list membership, events) so that any past day is reproducible.
-- Computes the days $start_day .. $as_of into staging.list_health (assets/metrics.py picks $start_day:
-- the first day that new inputs touch). Parameters: $tz, $start_day, $as_of; {engaged_window_days}.
--
-- Day arithmetic: a status row is the end-of-day status for the days [day(valid_from), day(valid_to)); an
-- event on day e falls in the engaged window of the days [e, e + window - 1].

-- Status intervals, in days, with the status that ended each one.
create or replace temp table lh_status as
select
    email,
    status,
    timezone($tz, valid_from)::date as day_from,
    timezone($tz, valid_to)::date as day_to,
    lead(status) over (partition by email order by valid_from) as next_status
from status_history;

-- Membership intervals (list_id, email, m_from, m_to). Contacts on a test list stay out of the system lists.
create or replace temp table lh_members as
with test_members as (
    select distinct m.email
    from staging.list_members m
    join staging.list_catalog c using (list_id)
    where c.kind = 'test'
),

static_members as (
    select m.list_id, m.email, timezone($tz, m.added_at)::date as m_from, null::date as m_to
    from staging.list_members m
    join staging.list_catalog c using (list_id)
    where c.kind in ('static', 'test')
),

everyone as (
    select 'all' as list_id, email, timezone($tz, created_at)::date as m_from, null::date as m_to
    from staging.contacts
    where email not in (select email from test_members)
),

by_status as (
    select if(status = 'subscribed', 'subscribed', 'suppressed') as list_id, email, day_from as m_from, day_to as m_to
    from lh_status
    where status <> 'unconfirmed'
      and (day_to is null or day_to > day_from)
      and email in (select email from staging.contacts)
      and email not in (select email from test_members)
)

select * from static_members
union all select * from everyone
union all select * from by_status;

-- Subscribed-while-member intervals: where a membership and a subscribed status overlap.
create or replace temp table lh_subscribed as
with overlapping as (
    select
        m.list_id,
        m.email,
        greatest(m.m_from, s.day_from) as s_from,
        case when m.m_to is null then s.day_to when s.day_to is null then m.m_to else least(m.m_to, s.day_to) end as s_to,
        s.day_to as status_to,
        s.next_status
    from lh_members m
    join lh_status s using (email)
    where s.status = 'subscribed'
)

select * from overlapping where s_to is null or s_to > s_from;

-- The days to compute, per list: from its first member (or $start_day, if later) to the as-of date.
create or replace temp table lh_days as
with first_days as (
    select list_id, min(m_from) as first_day from lh_members group by list_id
)

select f.list_id, unnest(generate_series(greatest(f.first_day, $start_day::date - 1), $as_of::date, interval 1 day))::date as day
from first_days f
join staging.list_catalog c using (list_id)
where f.first_day <= $as_of::date;

-- Opens, clicks, deliveries and sends, spread over the days whose engaged window holds them.
create or replace temp table lh_activity as
select distinct e.email, e.event, unnest(generate_series(e.event_day, e.event_day + interval ({engaged_window_days} - 1) day, interval 1 day))::date as day
from (
    select email, event, timezone($tz, occurred_at)::date as event_day
    from staging.event_rows
    where event in ('open', 'click', 'delivered', 'sent')
      and timezone($tz, occurred_at)::date between $start_day::date - {engaged_window_days} and $as_of::date
) e;

delete from staging.list_health where day >= $start_day::date or day > $as_of::date;

insert into staging.list_health
with member_days as (
    select d.list_id, d.day, m.email
    from lh_days d
    join lh_members m on m.list_id = d.list_id and m.m_from <= d.day and (m.m_to is null or m.m_to > d.day)
),

subscribed_days as (
    select d.list_id, d.day, s.email
    from lh_days d
    join lh_subscribed s on s.list_id = d.list_id and s.s_from <= d.day and (s.s_to is null or s.s_to > d.day)
),

members as (
    select list_id, day, count(*) as members from member_days group by all
),

subscribed as (
    select d.list_id, d.day, count(s.email) as subscribed
    from lh_days d
    left join subscribed_days s using (list_id, day)
    group by all
),

starts as (
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

engaged as (
    select s.list_id, s.day, count(distinct s.email) as engaged
    from subscribed_days s
    join lh_activity a on a.email = s.email and a.day = s.day and a.event in ('open', 'click')
    group by all
),

reach as (
    select
        m.list_id,
        m.day,
        count(distinct m.email) filter (where a.event = 'open') as opened,
        count(distinct m.email) filter (where a.event = 'click') as clicked,
        count(distinct m.email) as reached  -- delivered, sent, or proved delivered by an open or click
    from member_days m
    join lh_activity a on a.email = m.email and a.day = m.day
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
        coalesce(m.members, 0) as members,
        s.subscribed,
        lag(s.subscribed) over (partition by d.list_id order by d.day) as subscribed_before,
        coalesce(st.new_subscribers, 0) as new_subscribers,
        coalesce(en.unsubscribes, 0) as unsubscribes,
        coalesce(en.bounces, 0) as bounces,
        coalesce(en.complaints, 0) as complaints,
        coalesce(eg.engaged, 0) as engaged,
        coalesce(r.opened, 0) as opened,
        coalesce(r.clicked, 0) as clicked,
        r.reached,
        o.rows_offered,
        o.rows_invalid
    from lh_days d
    left join members m using (list_id, day)
    left join subscribed s using (list_id, day)
    left join starts st using (list_id, day)
    left join ends en using (list_id, day)
    left join engaged eg using (list_id, day)
    left join reach r using (list_id, day)
    left join offered o using (list_id, day)
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
        round(coalesce(rows_invalid, 0) / nullif(rows_offered, 0), 4) as invalid_rate
    from combined
    where day >= $start_day::date  -- the day before the start only supplied subscribed_before
)

select * from final;

drop table lh_status;
drop table lh_members;
drop table lh_subscribed;
drop table lh_days;
drop table lh_activity;
