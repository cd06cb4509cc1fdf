-- High-value customers: over 100 spent and more than 3 purchases in a year, engagement above 50, account older than 6 months.
select contact_id
from contacts
join contact_engagement using (contact_id)
where status = 'subscribed'
  and purchase_value_365d > 100
  and purchases_365d > 3
  and engagement_score > 50
  and created_at < as_of_date() - interval 6 month
