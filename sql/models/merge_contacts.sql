-- Merge one staged file into contacts (DESIGN 5.2, 5.3). Run by assets/merge.py, one file per
-- transaction, in ledger order. Parameters: $file_id, $mode, $source, $loaded_at.
-- {custom_*} placeholders are filled with one entry per custom field from contacts.yaml.

-- Step 1. Grain: one row per email in this file; later non-empty values win, tags union,
-- the earliest created_at, the most severe row status (same-instant precedence).
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
        arg_max(status, list_position(['unconfirmed', 'subscribed', 'unsubscribed', 'bounced', 'complained'], status))
            filter (where status is not null) as row_status,
        min(created_at) as created_at,
        count(*) as row_count,
        min(row_number) as first_row{custom_aggregates}
    from file_rows
    group by email
),

final as (
    select
        per_email.*,
        case
            when $mode = 'subscribe' then coalesce(row_status, 'subscribed')
            when row_status in ('bounced', 'complained') then row_status
            else 'unsubscribed'
        end as wanted_status,
        exists (select 1 from suppressions s where s.email = per_email.email) as is_suppressed
    from per_email
)

select * from final;

-- Step 2. Existing contacts: profile fields fill in, statuses move only as 5.3 allows.
create or replace temp table merge_updates as
with matched as (
    select
        c.contact_id,
        b.*,
        c.status as old_status,
        c.status in ('unsubscribed', 'bounced', 'complained') as old_closed,
        b.wanted_status in ('unsubscribed', 'bounced', 'complained') as wanted_closed
    from contacts c
    join merge_batch b using (email)
),

decided as (
    select
        *,
        case
            when not old_closed and wanted_closed then wanted_status
            when old_closed and wanted_closed
                then case when list_position(['unsubscribed', 'bounced', 'complained'], wanted_status)
                             > list_position(['unsubscribed', 'bounced', 'complained'], old_status)
                          then wanted_status else old_status end
            when old_status = 'unconfirmed' and wanted_status = 'subscribed' then 'subscribed'
            else old_status
        end as new_status,
        $mode = 'subscribe' and old_closed and not wanted_closed as blocked
    from matched
)

select * from decided;

update contacts as c set
    email_ascii = coalesce(u.email_ascii, c.email_ascii),
    first_name = coalesce(u.first_name, c.first_name),
    last_name = coalesce(u.last_name, c.last_name),
    tags = list_sort(list_distinct(list_concat(c.tags, u.tags))),
    status = u.new_status,
    status_changed_at = case when u.new_status <> c.status then $loaded_at else c.status_changed_at end,
    consent_source = case when u.new_status = 'subscribed' and c.status <> 'subscribed' then coalesce($source, c.consent_source) else c.consent_source end,
    consent_at = case when u.new_status = 'subscribed' and c.status <> 'subscribed' then $loaded_at else c.consent_at end,
    created_at = least(c.created_at, u.created_at){custom_updates},
    updated_at = case
        when (c.email_ascii, c.first_name, c.last_name, c.tags, c.status, c.created_at{custom_old})
             is distinct from
             (coalesce(u.email_ascii, c.email_ascii), coalesce(u.first_name, c.first_name), coalesce(u.last_name, c.last_name),
              list_sort(list_distinct(list_concat(c.tags, u.tags))), u.new_status, least(c.created_at, u.created_at){custom_new})
        then $loaded_at else c.updated_at end
from merge_updates u
where c.contact_id = u.contact_id;

-- Step 3. New contacts, numbered in order of first appearance; `suppress` files create none, and a
-- suppressed address arrives unsubscribed (an import never subscribes it).
create or replace temp table merge_inserts as
select
    b.*,
    case
        when b.is_suppressed and b.wanted_status in ('subscribed', 'unconfirmed') then 'unsubscribed'
        else b.wanted_status
    end as new_status,
    b.is_suppressed and b.wanted_status in ('subscribed', 'unconfirmed') as blocked,
    (select coalesce(max(contact_id), 0) from contacts) + row_number() over (order by b.first_row) as contact_id
from merge_batch b
where $mode <> 'suppress'
  and not exists (select 1 from contacts c where c.email = b.email);

insert into contacts by name
select
    contact_id,
    email,
    email_ascii,
    email_domain,
    first_name,
    last_name,
    tags,
    new_status as status,
    coalesce(created_at, $loaded_at) as status_changed_at,
    case when new_status = 'subscribed' then coalesce($source, 'import') end as consent_source,
    case when new_status = 'subscribed' then coalesce(created_at, $loaded_at) end as consent_at,
    coalesce(created_at, $loaded_at) as created_at,
    $loaded_at as updated_at{custom_inserts}
from merge_inserts;

-- Step 4. Manual suppressions from `suppress` files, once per address.
insert into suppressions (email, email_sha256, reason, since)
select b.email, sha256(b.email), 'manual', $loaded_at
from merge_batch b
where $mode = 'suppress'
  and not exists (select 1 from suppressions s where s.email = b.email and s.reason = 'manual');

-- Step 5. The file's merge counts, recorded in the ledger.
update import_files set
    contacts_created = (select count(*) from merge_inserts),
    rows_merged = (select coalesce(sum(row_count), 0) from merge_batch)
        - (select count(*) from merge_inserts)
        - (select count(*) from merge_batch b
           where $mode = 'suppress' and not exists (select 1 from merge_updates u where u.email = b.email)),
    resubscribe_blocked = (select count(*) from merge_updates where blocked)
        + (select count(*) from merge_inserts where blocked),
    merged_at = $loaded_at
where file_id = $file_id;
