-- Check one_contact_per_email (contacts, blocking): every email and every contact_id appears in exactly
-- one contact. One row: contacts, duplicate emails, duplicate contact ids. Run by assets/contacts/asset_defs.py.
select
    count(*) as contacts,
    count(*) - count(distinct email) as duplicate_emails,
    count(*) - count(distinct contact_id) as duplicate_contact_ids
from contacts
