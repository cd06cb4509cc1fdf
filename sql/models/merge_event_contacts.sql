-- Addresses that sign up or confirm through an event file become contacts, numbered in order of first
-- appearance. Their status comes from the replay (sql/models/status_history.sql) in the same transaction.
-- Parameters: $file_id, $loaded_at.
create or replace temp table merge_inserts as
with candidates as (
    select
        email,
        any_value(email_ascii) as email_ascii,
        min(occurred_at) as created_at,
        min(row_number) as first_row
    from staging.event_rows
    where file_id = $file_id and event in ('signup', 'confirm')
    group by email
),

final as (
    select
        candidates.*,
        (select greatest(coalesce(max(contact_id), 0), (select coalesce(max(contact_id), 0) from contacts_history)) from staging.contacts) + row_number() over (order by first_row) as contact_id
    from candidates
    where not exists (select 1 from staging.contacts c where c.email = candidates.email)
)

select * from final;

insert into staging.contacts (contact_id, email, email_ascii, email_domain, tags, status, status_changed_at, created_at, updated_at)
select contact_id, email, email_ascii, string_split(email, '@')[-1], [], 'unconfirmed', created_at, created_at, $loaded_at
from merge_inserts;

update import_files set
    contacts_created = (select count(*) from merge_inserts),
    merged_at = $loaded_at
where file_id = $file_id;
