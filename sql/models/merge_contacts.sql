-- Merge one staged contact file's profile fields into contacts (DESIGN 5.2), in ledger order.
-- Statuses and consent are not decided here: sql/models/status_history.sql replays them afterwards in
-- the same transaction. Run by assets/merge.py. Parameters: $file_id, $mode, $loaded_at.
-- {custom_*} placeholders are filled with one entry per custom field from contacts.yaml.

-- Step 1. Grain: one row per email in this file; later non-empty values win, tags union,
-- the earliest created_at.
create or replace temp table merge_batch as
with file_rows as (
    select * from staging.contact_rows where file_id = $file_id
),

per_email as (
    select
        email,
        arg_max(email_ascii, row_number) as email_ascii,
        any_value(email_domain) as email_domain,
        arg_max(first_name, row_number) filter (where first_name is not null) as first_name,
        arg_max(last_name, row_number) filter (where last_name is not null) as last_name,
        list_sort(list_distinct(flatten(list(tags)))) as tags,
        min(created_at) as created_at,
        count(*) as row_count,
        min(row_number) as first_row{custom_aggregates}
    from file_rows
    group by email
),

final as (
    select * from per_email
)

select * from final;

-- Step 2. Existing contacts: profile fields fill in.
create or replace temp table merge_updates as
select c.contact_id, b.*
from staging.contacts c
join merge_batch b using (email);

update staging.contacts as c set
    email_ascii = coalesce(u.email_ascii, c.email_ascii),
    first_name = coalesce(u.first_name, c.first_name),
    last_name = coalesce(u.last_name, c.last_name),
    tags = list_sort(list_distinct(list_concat(c.tags, u.tags))),
    created_at = least(c.created_at, u.created_at){custom_updates},
    updated_at = case
        when (c.email_ascii, c.first_name, c.last_name, c.tags, c.created_at{custom_old})
             is distinct from
             (coalesce(u.email_ascii, c.email_ascii), coalesce(u.first_name, c.first_name), coalesce(u.last_name, c.last_name),
              list_sort(list_distinct(list_concat(c.tags, u.tags))), least(c.created_at, u.created_at){custom_new})
        then $loaded_at else c.updated_at end
from merge_updates u
where c.contact_id = u.contact_id;

-- Step 3. New contacts, numbered in order of first appearance; `suppress` files create none. The
-- status is a placeholder until the replay that follows in the same transaction.
create or replace temp table merge_inserts as
select
    b.*,
    (select greatest(coalesce(max(contact_id), 0), (select coalesce(max(contact_id), 0) from contacts_history)) from staging.contacts) + row_number() over (order by b.first_row) as contact_id
from merge_batch b
where $mode <> 'suppress'
  and not exists (select 1 from staging.contacts c where c.email = b.email);

insert into staging.contacts by name
select
    contact_id,
    email,
    email_ascii,
    email_domain,
    first_name,
    last_name,
    tags,
    'unconfirmed' as status,
    coalesce(created_at, $loaded_at) as status_changed_at,
    coalesce(created_at, $loaded_at) as created_at,
    $loaded_at as updated_at{custom_inserts}
from merge_inserts;

-- Step 4. The file's merge counts, recorded in the ledger. Rows of a `suppress` file for addresses that
-- are not contacts merge into nothing.
update import_files set
    contacts_created = (select count(*) from merge_inserts),
    rows_merged = (select coalesce(sum(row_count), 0) from merge_batch)
        - (select count(*) from merge_inserts)
        - (select count(*) from merge_batch b
           where $mode = 'suppress' and not exists (select 1 from merge_updates u where u.email = b.email)),
    merged_at = $loaded_at
where file_id = $file_id;
