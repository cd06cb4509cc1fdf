-- The staged rows one merge file's pairs read (sql/models/merge_pairs.sql), taken once per file so that a pair
-- does not scan every staged contact and event row. Run by assets/contacts/pair_merge.py before the file's
-- pairs; $file_id: the merge file. The addresses are the pairs' own and those they resolve to through earlier
-- aliases, whose rows are under the kept address already (re-keyed after each file); an alias a pair of this
-- file makes is one of the file's addresses.

create or replace temp table pair_addresses as
select keep_email as email from staging.merge_rows where file_id = $file_id
union
select merge_email from staging.merge_rows where file_id = $file_id
union
select a.kept_email
from staging.contact_aliases a
join staging.merge_rows m on a.alias_email in (m.keep_email, m.merge_email)
where m.file_id = $file_id;

-- Grain: one row per staged contact row of those addresses, with its file's mode.
create or replace temp table pair_rows as
select r.email, r.file_id, r.row_number, f.mode, r.first_name, r.last_name{each_field:, r.@f}
from staging.contact_rows r
join import_files f using (file_id)
where r.email in (select email from pair_addresses);

-- Grain: one row per address of those with a signup or confirm: the first file that had one.
create or replace temp table pair_signups as
select email, min(file_id) as file_id
from staging.event_rows
where email in (select email from pair_addresses) and event in {signup_events}
group by email;
