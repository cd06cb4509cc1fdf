-- Engaged users: opened in the last 30 days, clicked in the last 60, still subscribed.
select contact_id
from contacts
join contact_engagement using (contact_id)
where status = 'subscribed'
  and last_open_at >= as_of_date() - interval 30 day
  and last_click_at >= as_of_date() - interval 60 day
