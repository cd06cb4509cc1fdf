-- prediction_features: one row per contact created by $day_end (the end of the feature day in the configured
-- timezone), with the features churn_risk and predicted_value_365d are computed from (README "Predictions"),
-- counted from events and statuses before $day_end only, and what happened in [$day_end, $label_end): the
-- labels a model fitted on this day learns from. Scoring passes $label_end = $day_end (no label window).
-- Machine opens (Apple Mail privacy) are not the person's and do not count, as in contact_engagement.
--
-- recency_days: days from the last open or click to $day_end (the contact's creation when none)
-- frequency: opens and clicks ever; tenure_days: days since created_at; opens_90d, clicks_90d: in the 90 days
-- before $day_end. Purchases go by day (a day = 24 hours back from $day_end): repeat_purchases = purchase days
-- - 1 (BG/NBD's x), purchase_span_days = first to last purchase day (t_x), purchase_age_days = first purchase
-- day to $day_end (T), mean_repeat_value = the mean value of the purchase days after the first (Gamma-Gamma's m).

with contacts_then as (
    select contact_id, email, created_at
    from staging.contacts
    where created_at < $day_end
),

statuses as (
    select
        email,
        bool_or(status in {closed_statuses}) filter (
            where valid_from < $day_end and (valid_to is null or valid_to >= $day_end)
        ) as closed_at_day,
        bool_or(status in {closed_statuses}) filter (
            where valid_from >= $day_end and valid_from < $label_end
        ) as closed_in_window
    from status_history
    where valid_from < $label_end
    group by email
),

actions as (
    select
        email,
        event,
        occurred_at,
        value,
        floor((epoch($day_end) - epoch(occurred_at)) / 86400)::bigint as days_before
    from staging.event_rows
    where occurred_at < $label_end and event in {engagement_events}
      and not (event = 'open' and coalesce(machine_open, false))
),

per_email as (
    select
        email,
        max(occurred_at) filter (where event in {interaction_events} and days_before >= 0) as last_engaged_at,
        count(*) filter (where event in {interaction_events} and days_before >= 0) as frequency,
        count(*) filter (where event = 'open' and days_before >= 0 and days_before < 90) as opens_90d,
        count(*) filter (where event = 'click' and days_before >= 0 and days_before < 90) as clicks_90d,
        count(*) filter (where event = 'purchase' and days_before >= 0) as purchases,
        coalesce(sum(value) filter (where event = 'purchase' and days_before >= 0), 0) as historical_value,
        count(*) filter (where event in {interaction_events} and days_before < 0) as interactions_in_window,
        count(*) filter (where event = 'purchase' and days_before < 0) as purchases_in_window,
        coalesce(sum(value) filter (where event = 'purchase' and days_before < 0), 0) as value_in_window
    from actions
    group by email
),

purchase_days as (
    select email, days_before, coalesce(sum(value), 0) as day_value
    from actions
    where event = 'purchase' and days_before >= 0
    group by email, days_before
),

per_buyer as (
    select
        email,
        count(*) - 1 as repeat_purchases,
        max(days_before) - min(days_before) as purchase_span_days,
        max(days_before) as purchase_age_days,
        (sum(day_value) - arg_max(day_value, days_before)) / nullif(count(*) - 1, 0) as mean_repeat_value
    from purchase_days
    group by email
),

final as (
    select
        c.contact_id,
        c.email,
        b.mean_repeat_value,
        greatest(0, (epoch($day_end) - epoch(coalesce(p.last_engaged_at, c.created_at))) / 86400.0) as recency_days,
        coalesce(p.frequency, 0) as frequency,
        greatest(0, (epoch($day_end) - epoch(c.created_at)) / 86400.0) as tenure_days,
        coalesce(p.opens_90d, 0) as opens_90d,
        coalesce(p.clicks_90d, 0) as clicks_90d,
        coalesce(p.purchases, 0) as purchases,
        coalesce(p.historical_value, 0) as historical_value,
        coalesce(b.repeat_purchases, 0) as repeat_purchases,
        coalesce(b.purchase_span_days, 0) as purchase_span_days,
        coalesce(b.purchase_age_days, 0) as purchase_age_days,
        coalesce(s.closed_at_day, false) as closed_at_day,
        -- the churn label: closed in the window, or no open or click in it
        coalesce(s.closed_in_window, false) or coalesce(p.interactions_in_window, 0) = 0 as churned_in_window,
        coalesce(p.purchases_in_window, 0) > 0 as purchased_in_window,
        coalesce(p.value_in_window, 0) as value_in_window
    from contacts_then c
    left join per_email p using (email)
    left join per_buyer b using (email)
    left join statuses s using (email)
)

select * from final
order by contact_id
