-- New subscribers: subscribed within the 30 days up to the as-of date.
select contact_id
from contacts
where status = 'subscribed'
  and consent_at >= as_of_date() - interval 30 day
  and consent_at < as_of_date() + interval 1 day
