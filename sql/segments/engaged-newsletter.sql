-- Engaged newsletter readers: engaged users who are on the Newsletter list.
with engaged as (
    select contact_id from segment('engaged-users')
),

newsletter as (
    select contact_id from list_members where list_id = 'newsletter'
)

select contact_id
from engaged
join newsletter using (contact_id)
