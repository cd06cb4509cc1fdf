-- Check nothing_lost_per_file (import_files, blocking): every loaded file's rows add up. One row per file
-- whose counts do not: rows_total = rows_accepted + rows_rejected, and every row is staged, rejected or
-- erased. Run by assets/ingest/asset_defs.py.
with counted as (
    select
        f.file_id,
        f.path,
        f.rows_total,
        f.rows_accepted,
        f.rows_rejected,
        coalesce(f.rows_erased, 0) as rows_erased,
        case f.kind
            when 'contacts' then (select count(*) from staging.contact_rows s where s.file_id = f.file_id)
            when 'events' then (select count(*) from staging.event_rows s where s.file_id = f.file_id)
            when 'merges' then (select count(*) from staging.merge_rows s where s.file_id = f.file_id)
            else f.rows_accepted  -- erasure requests keep no rows
        end as rows_staged,
        (select count(*) from rejected_rows r where r.file_id = f.file_id) as rows_in_rejects
    from import_files f
    where f.status = 'loaded'
)

select * from counted
where
    rows_total is distinct from rows_accepted + rows_rejected
    or rows_staged + rows_in_rejects + rows_erased <> rows_total
order by file_id
