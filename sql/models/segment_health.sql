-- segment_health: one row per segment and version at which its membership changed: size, entered,
-- exited, and the open and click rates of its members over the engaged window ending on that
-- version's as-of date (unique openers or clickers over members reached: delivered to, sent to, or who
-- opened or clicked, which proves delivery; the same definition as list_health).
-- Rows of versions from $from_version on are computed (assets/metrics/health.py passes 0, every version, unless
-- only new versions came since the last computation, none of them a backfill, and no file or setting).
-- Parameters: $tz, $from_version; {engaged_window_days}.

delete from segment_health where version >= $from_version;

insert into segment_health
with changes as (
    select segment_id, valid_from_version as version from segment_members_history
    union
    select segment_id, valid_to_version from segment_members_history where valid_to_version is not null
),

-- Each change compared with the one before it in as-of order (then version): a backfill, a run as of an
-- earlier day, takes its place among the days, so it neither exits today's members nor re-enters them next run.
ordered as (
    select c.segment_id, c.version, v.as_of_date,
           lag(c.version) over (partition by c.segment_id order by v.as_of_date, c.version) as previous_version
    from changes c
    join versions v using (version)
),

computed as (
    select * from ordered where version >= $from_version
),

-- the versions whose members are counted: those computed and the change before each
needed as (
    select segment_id, version from computed
    union
    select segment_id, previous_version from computed where previous_version is not null
),

members as (
    select n.segment_id, n.version, h.contact_id
    from needed n
    join segment_members_history h
      on h.segment_id = n.segment_id and h.valid_from_version <= n.version and (h.valid_to_version is null or h.valid_to_version > n.version)
),

sized as (
    select
        o.segment_id,
        o.version,
        o.as_of_date,
        count(m.contact_id) as size,
        count(m.contact_id) filter (where p.contact_id is null) as entered
    from computed o
    left join members m on m.segment_id = o.segment_id and m.version = o.version
    left join members p on p.segment_id = o.segment_id and p.version = o.previous_version and p.contact_id = m.contact_id
    group by all
),

exits as (
    select o.segment_id, o.version, count(*) as exited
    from computed o
    join members p on p.segment_id = o.segment_id and p.version = o.previous_version
    anti join members m on m.segment_id = o.segment_id and m.version = o.version and m.contact_id = p.contact_id
    group by all
),

window_events as (
    -- a coarse cut first (a day of slack either side for the timezone); the exact day test is below
    -- an open the sending service marks as a machine's (Apple Mail privacy) proves delivery, not interest
    select email, case when event = 'open' and machine_open then 'delivered' else event end as event, occurred_at
    from staging.event_rows
    where event in {reach_events}
      and occurred_at >= (select min(as_of_date) from computed) - interval ({engaged_window_days} + 1) day
      and occurred_at < (select max(as_of_date) from computed) + interval 2 day
),

member_activity as (
    select
        c.segment_id,
        c.version,
        count(distinct h.email) filter (where e.event = 'open') as opened,
        count(distinct h.email) filter (where e.event = 'click') as clicked,
        count(distinct h.email) as reached
    from computed c
    join segment_members_history h
      on h.segment_id = c.segment_id and h.valid_from_version <= c.version and (h.valid_to_version is null or h.valid_to_version > c.version)
    join window_events e
      on e.email = h.email
     and timezone($tz, e.occurred_at)::date between c.as_of_date - ({engaged_window_days} - 1) and c.as_of_date
    group by all
),

final as (
    select
        s.segment_id,
        s.version,
        s.as_of_date,
        s.size,
        s.entered,
        coalesce(x.exited, 0) as exited,
        round(a.opened / nullif(a.reached, 0), 4) as open_rate,
        round(a.clicked / nullif(a.reached, 0), 4) as click_rate
    from sized s
    left join exits x using (segment_id, version)
    left join member_activity a using (segment_id, version)
)

select * from final order by segment_id, version;
