-- Merge every loaded, not yet merged contact and event file into contacts (DESIGN 5.2), in ledger order,
-- in one set-based pass rather than one pass per file. Statuses and consent are not decided here:
-- sql/models/status_history.sql replays them afterwards in the same transaction. Run by assets/contacts/merge.py.
-- `{each_field: ...}` repeats its text once per custom field of contacts.yaml, with @f the field's column.
--
-- The result is what merging the files one after another gives:
-- - a contact file's rows fold per address (later non-empty values win, tags union, the earliest
--   created_at), and each file then folds onto the contact as the previous files left it;
-- - a new address becomes a contact in its first file that may create one (a `subscribe` or `unsubscribe`
--   file, or a signup or confirm in an event file); the rows of `suppress` files before that merge into
--   nothing, and an event file adds nothing to a contact that exists;
-- - new contacts are numbered in order of first appearance (creating file, then row);
-- - `updated_at` is the load time of the last file that changed the contact.

create or replace temp table merge_files as
select file_id, kind, mode, loaded_at
from import_files
where kind in ('contacts', 'events') and status = 'loaded' and merged_at is null;

-- Step 1. Grain: one row per (email, file).
create or replace temp table merge_batch as
with contact_file_rows as (
    select
        email,
        file_id,
        arg_max(email_ascii, row_number) filter (where email_ascii is not null) as email_ascii,
        any_value(email_domain) as email_domain,
        arg_max(first_name, row_number) filter (where first_name is not null) as first_name,
        arg_max(last_name, row_number) filter (where last_name is not null) as last_name,
        list_sort(list_distinct(flatten(list(tags)))) as tags,
        min(created_at) as created_at,
        count(*) as row_count,
        min(row_number) as first_row{each_field:,
        arg_max(@f, row_number) filter (where @f is not null) as @f}
    from staging.contact_rows
    where file_id in (select file_id from merge_files where kind = 'contacts')
    group by email, file_id
),

event_file_rows as (
    -- signups and confirms can only create a contact: the address's first such event is its created_at
    select
        email,
        file_id,
        any_value(email_ascii) as email_ascii,
        string_split(email, '@')[-1] as email_domain,
        []::varchar[] as tags,
        min(occurred_at) as created_at,
        min(row_number) as first_row
    from staging.event_rows
    where file_id in (select file_id from merge_files where kind = 'events') and event in {signup_events}
    group by email, file_id
),

final as (
    select
        b.*, f.kind, f.mode, f.loaded_at, c.contact_id is not null as existed,
        -- created_at if this file creates the contact: a contact file dates it from the load when its rows carry no date
        if(f.kind = 'contacts', coalesce(b.created_at, f.loaded_at), b.created_at) as created_on_creation
    from (select * from contact_file_rows union all by name select * from event_file_rows) b
    join merge_files f using (file_id)
    left join staging.contacts c using (email)
    -- an event file adds nothing to an existing contact (most of its addresses): leave those out here
    where f.kind = 'contacts' or c.contact_id is null
)

select * from final;

-- Step 2. Grain: one row per email: whether it is a contact already, else the file that creates it and
-- the new contact's number.
create or replace temp table merge_addresses as
with per_email as (
    select
        email,
        any_value(existed) as existed,
        -- the first file that may create a contact, for an address that is not one yet
        min(file_id) filter (where not existed and (kind = 'events' or mode <> 'suppress')) as creating_file,
        arg_min(first_row, file_id) filter (where not existed and (kind = 'events' or mode <> 'suppress')) as creating_row,
        count(*) as files
    from merge_batch
    group by email
)

select
    *,
    -- new contacts are numbered in order of first appearance: creating file, then row
    if(creating_file is null, null, row_number() over (partition by creating_file is null order by creating_file, creating_row)) as position
from per_email;

-- Step 3. Each address's state after each file that changes it, in ledger order. An existing contact
-- starts from its stored row (file_id 0); a new address from the file that creates it. Most addresses
-- are new and in one file: their contact is that file's row as it is (step 5), so they are left out here.
create or replace temp table merge_states as
with contributions as (
    select
        b.email, b.file_id, b.loaded_at, b.email_ascii, b.email_domain, b.first_name, b.last_name, b.tags,
        if(b.file_id = a.creating_file, b.created_on_creation, b.created_at) as created_at,
        b.existed{each_field:, b.@f}
    from merge_batch b
    join merge_addresses a using (email)
    where (a.existed or a.files > 1)
      and (b.existed
           or b.file_id = a.creating_file
           or (b.kind = 'contacts' and b.file_id > a.creating_file))
    union all
    select
        c.email, 0 as file_id, null as loaded_at, c.email_ascii, c.email_domain, c.first_name, c.last_name, c.tags,
        c.created_at, true as existed{each_field:, c.@f}
    from staging.contacts c
    where c.email in (select email from merge_addresses where existed)
),

states as (
    select
        email, file_id, loaded_at, existed,
        first_value(created_at) over running as created_on_creation,
        last_value(email_ascii ignore nulls) over running as email_ascii,
        first_value(email_domain) over running as email_domain,
        last_value(first_name ignore nulls) over running as first_name,
        last_value(last_name ignore nulls) over running as last_name,
        list_sort(list_distinct(flatten(list(tags) over running))) as tags,
        min(created_at) over running as created_at{each_field:,
        last_value(@f ignore nulls) over running as @f}
    from contributions
    window running as (partition by email order by file_id rows between unbounded preceding and current row)
),

changes as (
    select
        *,
        file_id > 0 and (
            lag(file_id) over by_file is null  -- the file that creates the contact
            or email_ascii is distinct from lag(email_ascii) over by_file
            or first_name is distinct from lag(first_name) over by_file
            or last_name is distinct from lag(last_name) over by_file
            or tags is distinct from lag(tags) over by_file
            or created_at is distinct from lag(created_at) over by_file{each_field:
            or @f is distinct from lag(@f) over by_file}
        ) as changed
    from states
    window by_file as (partition by email order by file_id)
),

final as (
    select
        * exclude (changed),
        max(loaded_at) filter (where changed) over (partition by email) as changed_at
    from changes
    qualify row_number() over (partition by email order by file_id desc) = 1
)

select * from final;

-- Step 4. Existing contacts that changed.
update staging.contacts as c set
    email_ascii = s.email_ascii,
    first_name = s.first_name,
    last_name = s.last_name,
    tags = s.tags,
    created_at = s.created_at{each_field:,
    @f = s.@f},
    updated_at = s.changed_at
from merge_states s
where c.email = s.email and s.existed and s.changed_at is not null;

-- Step 5. New contacts. The status is a placeholder until the replay that follows in the same transaction.
insert into staging.contacts by name
with new_contacts as (
    select
        a.position, s.email, s.email_ascii, s.email_domain, s.first_name, s.last_name, s.tags,
        s.created_on_creation, s.created_at, s.changed_at{each_field:, s.@f}
    from merge_states s
    join merge_addresses a using (email)
    where not s.existed
    union all
    select
        a.position, b.email, b.email_ascii, b.email_domain, b.first_name, b.last_name, b.tags,
        b.created_on_creation, b.created_on_creation as created_at, b.loaded_at{each_field:, b.@f}
    from merge_batch b
    join merge_addresses a on a.email = b.email and a.creating_file = b.file_id
    where not a.existed and a.files = 1
)

select
    (select greatest(coalesce(max(contact_id), 0), (select coalesce(max(contact_id), 0) from contacts_history)) from staging.contacts)
        + position as contact_id,
    email,
    email_ascii,
    email_domain,
    first_name,
    last_name,
    tags,
    'unconfirmed' as status,
    created_on_creation as status_changed_at,
    created_at,
    changed_at as updated_at{each_field:,
    @f}
from new_contacts;

-- Step 6. Each file's counts, which the ledger records (pipelines/warehouse/ledger.py record_merged). Rows of a `suppress` file for an address that is
-- not a contact at that point merge into nothing.
create or replace temp table merge_counts as
select
    b.file_id,
    sum(b.row_count) as rows_in_file,
    count(*) filter (where b.file_id = n.creating_file) as created,
    coalesce(sum(b.row_count) filter (where not b.existed and (n.creating_file is null or b.file_id < n.creating_file)), 0) as rows_into_nothing
from merge_batch b
left join merge_addresses n using (email)
group by b.file_id;
