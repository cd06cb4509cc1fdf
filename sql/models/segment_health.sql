-- segment_health: one row per segment and version at which its membership changed: size, entered,
-- exited, and the open and click rates of its members over the engaged window ending on that
-- version's as-of date (unique openers or clickers over members reached: delivered to, sent to, or who
-- opened or clicked, which proves delivery; the same definition as list_health).
-- Parameters: $tz; {engaged_window_days}.

delete from segment_health;

insert into segment_health
with changes as (
    select segment_id, valid_from_version as version from segment_members_history
    union
    select segment_id, valid_to_version from segment_members_history where valid_to_version is not null
),

sized as (
    select
        c.segment_id,
        c.version,
        v.as_of_date,
        count(*) filter (where h.valid_from_version <= c.version and (h.valid_to_version is null or h.valid_to_version > c.version)) as size,
        count(*) filter (where h.valid_from_version = c.version) as entered,
        count(*) filter (where h.valid_to_version = c.version) as exited
    from changes c
    join versions v using (version)
    join segment_members_history h using (segment_id)
    group by all
),

window_events as (
    -- a coarse cut first (a day of slack either side for the timezone); the exact day test is below
    select email, event, occurred_at
    from staging.event_rows
    where event in ('open', 'click', 'delivered', 'sent')
      and occurred_at >= (select min(as_of_date) from versions) - interval ({engaged_window_days} + 1) day
      and occurred_at < (select max(as_of_date) from versions) + interval 2 day
),

member_activity as (
    select
        c.segment_id,
        c.version,
        count(distinct h.email) filter (where e.event = 'open') as opened,
        count(distinct h.email) filter (where e.event = 'click') as clicked,
        count(distinct h.email) as reached
    from changes c
    join versions v using (version)
    join segment_members_history h
      on h.segment_id = c.segment_id and h.valid_from_version <= c.version and (h.valid_to_version is null or h.valid_to_version > c.version)
    join window_events e
      on e.email = h.email
     and timezone($tz, e.occurred_at)::date between v.as_of_date - ({engaged_window_days} - 1) and v.as_of_date
    group by all
),

final as (
    select
        s.segment_id,
        s.version,
        s.as_of_date,
        s.size,
        s.entered,
        s.exited,
        round(a.opened / nullif(a.reached, 0), 4) as open_rate,
        round(a.clicked / nullif(a.reached, 0), 4) as click_rate
    from sized s
    left join member_activity a using (segment_id, version)
)

select * from final order by segment_id, version;
