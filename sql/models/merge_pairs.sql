-- One reviewed pair of a merge file (DESIGN 5.2, 3.5): contact $merged goes into contact $kept. Run once per
-- accepted pair, in ledger order then row order, by assets/contacts/pair_merge.py inside the contacts
-- transaction, after the run's contact and event files are merged and their statuses replayed; both addresses
-- are current contacts, resolved through earlier aliases. $file_id, $row_number: the merge file's row;
-- $at: the merge file's load time. `{each_field: ...}` repeats its text per custom field, @f the column.
--
-- The kept contact keeps its contact_id and takes what imports would have given one contact with both
-- addresses' rows: per field the value of the latest row (ledger order, then row order) that has one (empty
-- never blanks), tags unioned, the earliest created_at. Lists, events and engagement follow from the staged
-- rows, which pair_merge.py re-keys to the kept address (sql/models/rekey_aliases.sql); statuses from the
-- replay, which reads the alias row's status_at_merge as a fact. The staged rows of the file's addresses are in
-- temp tables pair_rows and pair_signups (sql/models/merge_pair_rows.sql).

-- Grain: one row per contact of the pair, as stored before the merge.
create or replace temp table pair_contacts as
select * from staging.contacts where email in ($kept, $merged);

-- Grain: one row, the kept contact's fields after the merge.
create or replace temp table pair_fields as
with addresses as (
    -- both contacts' addresses, and the aliases merged into either before (their rows still under the alias
    -- when that merge was an earlier row of this file)
    select $kept as email
    union
    select $merged
    union
    select alias_email from staging.contact_aliases where kept_email in ($kept, $merged)
),

staged as (
    select * from pair_rows where email in (select email from addresses)
),

creating as (
    -- the file that made each address a contact (merge_contacts.sql): the rows of `suppress` files before it
    -- merged into nothing, so they give no value here either
    select email, min(file_id) as creating_file
    from (
        select email, file_id from staged where mode <> 'suppress'
        union all
        select email, file_id from pair_signups where email in (select email from addresses)
    ) candidates
    group by email
),

contributions as (
    -- the stored contacts first (the kept one after the merged one), so that a value no staged row holds is
    -- still kept, and any staged value wins over them
    select 0 as file_id, if(email = $kept, 1, 0) as row_number, first_name, last_name{each_field:, @f}
    from pair_contacts
    union all
    select s.file_id, s.row_number, s.first_name, s.last_name{each_field:, s.@f}
    from staged s
    left join creating c using (email)
    where s.mode <> 'suppress' or s.file_id >= c.creating_file
),

ordered as (
    select *, row_number() over (order by file_id, row_number) as seq
    from contributions
),

final as (
    select
        arg_max(first_name, seq) filter (where first_name is not null) as first_name,
        arg_max(last_name, seq) filter (where last_name is not null) as last_name{each_field:,
        arg_max(@f, seq) filter (where @f is not null) as @f}
    from ordered
)

select * from final;

-- Grain: one row, what the two contacts give together: tags, the earliest created_at, and the most restrictive
-- status (the replay's precedence: complained > bounced > unsubscribed > subscribed > unconfirmed).
create or replace temp table pair_union as
select
    list_sort(list_distinct(flatten(list(tags)))) as tags,
    min(created_at) as created_at,
    arg_max(status, list_position(['unconfirmed', 'subscribed', 'unsubscribed', 'bounced', 'complained'], status)) as status
from pair_contacts;

update staging.contacts as c set
    first_name = p.first_name,
    last_name = p.last_name,
    tags = u.tags,
    created_at = u.created_at{each_field:,
    @f = p.@f},
    updated_at = $at
from pair_fields p, pair_union u
where c.email = $kept;

-- Earlier aliases of the merged contact now belong to the kept one: a chain resolves to its end.
update staging.contact_aliases set kept_email = $kept
where kept_email = $merged;

insert into staging.contact_aliases
select
    m.email as alias_email,
    m.email_ascii as alias_email_ascii,
    $kept as kept_email,
    $file_id,
    $row_number,
    $at as merged_at,
    u.status as status_at_merge
from pair_contacts m, pair_union u
where m.email = $merged;

-- The merged contact leaves; its contact_id stays in contacts_history and is never given again.
delete from staging.contacts where email = $merged;
