-- Sunset candidates: subscribed for over 90 days with no open or click in the last 90 days.
select contact_id
from contacts
join contact_engagement using (contact_id)
where status = 'subscribed'
  and created_at < as_of_date() - interval 90 day
  and coalesce(greatest(last_open_at, last_click_at), timestamptz '1970-01-01') < as_of_date() - interval 90 day
