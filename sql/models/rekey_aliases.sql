-- Staged contact and event rows of an alias move to the contact it belongs to (staging.contact_aliases), so that
-- every model downstream (merge_contacts.sql, status_history.sql, list_members.sql, contact_engagement.sql,
-- list_health.sql, the events view) sees one person under the kept address. Run by assets/contacts/pair_merge.py:
-- before the run's files are merged (their rows, $from_file_id on, of every alias) and after merge files are
-- applied (every row of the aliases they made: temp table `rekey_pairs`, alias_email -> kept_email).
-- The address each row had is kept in staging.rekeyed_rows, once (a chain re-keys a row again).

insert into staging.rekeyed_rows
with staged as (
    select 'contacts' as kind, file_id, row_number, email from staging.contact_rows
    union all
    select 'events' as kind, file_id, row_number, email from staging.event_rows
)

select s.kind, s.file_id, s.row_number, s.email as original_email
from staged s
join rekey_pairs p on p.alias_email = s.email
where s.file_id >= $from_file_id
  and not exists (
      select 1 from staging.rekeyed_rows k
      where k.kind = s.kind and k.file_id = s.file_id and k.row_number = s.row_number
  );

update staging.contact_rows as r set
    email = p.kept_email,
    email_ascii = c.email_ascii,
    email_domain = c.email_domain
from rekey_pairs p, staging.contacts c
where r.email = p.alias_email and c.email = p.kept_email and r.file_id >= $from_file_id;

update staging.event_rows as e set
    email = p.kept_email,
    email_ascii = c.email_ascii
from rekey_pairs p, staging.contacts c
where e.email = p.alias_email and c.email = p.kept_email and e.file_id >= $from_file_id;
