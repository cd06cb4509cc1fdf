-- contact_engagement: one row per contact, as of the run's as-of date (windows end at the end of that
-- day in the configured timezone). Events after the as-of date are not counted. Parameters: $day_end,
-- $as_of_date; {engaged_window_days} and {inactive_after_days} come from contacts.yaml. `{scope:X}` narrows the
-- work to the addresses new files mention, or is `true` for every contact (pipelines/warehouse/scope.py).
--
-- engagement_score (0-100) = 30 * min(opens in window, 5) / 5
--                          + 40 * min(clicks in window, 3) / 3
--                          + 30 * max(0, 1 - days since the last open or click / inactive_after_days)
-- lifecycle: churned (unsubscribed, bounced, complained) > pending (unconfirmed) > active (an open or click
-- in the engaged window) > new (created in the engaged window) > lapsing (engaged, or created, within
-- inactive_after_days) > inactive.

delete from staging.contact_engagement where {scope:email};

insert into staging.contact_engagement
with known_events as (
    -- only opens, clicks and purchases count (sends and deliveries are three quarters of all events); an
    -- open the sending service marks as a machine's (Apple Mail privacy) is not the person's
    select email, event, occurred_at, value
    from staging.event_rows
    where occurred_at < $day_end and event in {engagement_events} and {scope:email}
      and not (event = 'open' and coalesce(machine_open, false))
),

per_email as (
    select
        email,
        max(occurred_at) filter (where event = 'open') as last_open_at,
        max(occurred_at) filter (where event = 'click') as last_click_at,
        count(*) filter (where event = 'open' and occurred_at >= $day_end - interval ({engaged_window_days}) day) as opens_30d,
        count(*) filter (where event = 'click' and occurred_at >= $day_end - interval ({engaged_window_days}) day) as clicks_30d,
        count(*) filter (where event = 'purchase' and occurred_at >= $day_end - interval 365 day) as purchases_365d,
        coalesce(sum(value) filter (where event = 'purchase' and occurred_at >= $day_end - interval 365 day), 0) as purchase_value_365d
    from known_events
    group by email
),

joined as (
    select
        c.contact_id,
        c.email,
        c.status,
        c.created_at,
        p.last_open_at,
        p.last_click_at,
        coalesce(p.opens_30d, 0) as opens_30d,
        coalesce(p.clicks_30d, 0) as clicks_30d,
        coalesce(p.purchases_365d, 0) as purchases_365d,
        coalesce(p.purchase_value_365d, 0) as purchase_value_365d,
        greatest(p.last_open_at, p.last_click_at) as last_engaged_at
    from staging.contacts c
    left join per_email p using (email)
    where {scope:c.email}
),

scored as (
    select
        *,
        round(
            30 * least(opens_30d, 5) / 5
            + 40 * least(clicks_30d, 3) / 3
            + 30 * coalesce(greatest(0, 1 - (epoch($day_end) - epoch(last_engaged_at)) / 86400.0 / {inactive_after_days}), 0),
            1
        ) as engagement_score
    from joined
),

final as (
    select
        *,
        case
            when status in {closed_statuses} then 'churned'
            when status = 'unconfirmed' then 'pending'
            when last_engaged_at >= $day_end - interval ({engaged_window_days}) day then 'active'
            when created_at >= $day_end - interval ({engaged_window_days}) day then 'new'
            when greatest(last_engaged_at, created_at) >= $day_end - interval ({inactive_after_days}) day then 'lapsing'
            else 'inactive'
        end as lifecycle
    from scored
)

select
    contact_id, email, $as_of_date as as_of_date, last_open_at, last_click_at, opens_30d, clicks_30d,
    purchases_365d, purchase_value_365d, engagement_score, lifecycle
from final;
