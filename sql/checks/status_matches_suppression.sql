-- Check status_matches_suppression (suppressions, blocking): a contact's status and the suppressions in
-- force say the same thing. One row: the contacts whose closed status and suppression disagree.
-- Run by assets/contacts/asset_defs.py.
select count(*) as mismatched_contacts
from staging.contacts c
full join (select email from suppressions where reason <> 'erased') s using (email)
where
    c.email is not null
    and (c.status in {closed_statuses}) is distinct from (s.email is not null)
