-- List membership (DESIGN 6): one row per (list, contact) in staging.list_members, rebuilt from every
-- input for the addresses in scope (`{scope:X}`: the addresses new files mention, or every address; see
-- pipelines/warehouse/scope.py); publishing turns the difference into a version. Membership of static and test
-- lists does not depend on status (an unsubscribed member stays a member, just not mailable).

delete from staging.list_members where {scope:email};

insert into staging.list_members
with manifest_members as (
    -- every accepted row of a file joins the lists its manifest names, from the row's date or the load
    -- (the lists are unnested per file first: unnesting per row made DuckDB run a lateral join over every row)
    select f.list_id, r.email, coalesce(r.created_at, f.loaded_at) as added_at
    from staging.contact_rows r
    join (select file_id, loaded_at, unnest(lists) as list_id from import_files where mode <> 'suppress') f using (file_id)
    where {scope:r.email}
),

event_members as (
    -- a signup or confirm for a declared list joins it
    select e.list as list_id, e.email, e.occurred_at as added_at
    from staging.event_rows e
    where e.event in {signup_events} and e.list is not null and {scope:e.email}
),

static_members as (
    select m.list_id, c.contact_id, m.email, m.added_at
    from (
        select list_id, email, min(added_at) as added_at
        from (select * from manifest_members union all select * from event_members)  -- DuckDB needs no alias here -- noqa: AL10
        where list_id in (select list_id from staging.list_catalog where kind in ('static', 'test'))
        group by all
    ) m
    join staging.contacts c using (email)
),

system_members as (
    select 'all' as list_id, contact_id, email, created_at as added_at from staging.contacts where {scope:email}
    union all
    select 'subscribed', contact_id, email, status_changed_at from staging.contacts where status = 'subscribed' and {scope:email}
    union all
    select 'suppressed', c.contact_id, c.email, s.since from staging.contacts c join suppressions s using (email) where {scope:c.email}
)

select * from static_members
union all
select * from system_members;
