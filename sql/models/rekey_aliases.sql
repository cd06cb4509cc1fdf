-- Staged contact and event rows of an alias move to the contact it belongs to (staging.contact_aliases), so that
-- every model downstream (merge_contacts.sql, status_history.sql, list_members.sql, contact_engagement.sql,
-- list_health.sql, the events view) sees one person under the kept address. Run by assets/contacts/pair_merge.py:
-- before the run's files are merged (their rows, $from_file_id on, of every alias) and after merge files are
-- applied (every row of the aliases they made: temp table `rekey_pairs`, alias_email -> kept_email).
-- The address each row had is kept in staging.rekeyed_rows, once (a chain re-keys a row again).

insert into staging.rekeyed_rows
select 'contacts' as kind, r.file_id, r.row_number, r.email as original_email
from staging.contact_rows r
join rekey_pairs p on p.alias_email = r.email
where r.file_id >= $from_file_id
  and not exists (
      select 1 from staging.rekeyed_rows k
      where k.kind = 'contacts' and k.file_id = r.file_id and k.row_number = r.row_number
  );

insert into staging.rekeyed_rows
select 'events' as kind, e.file_id, e.row_number, e.email as original_email
from staging.event_rows e
join rekey_pairs p on p.alias_email = e.email
where e.file_id >= $from_file_id
  and not exists (
      select 1 from staging.rekeyed_rows k
      where k.kind = 'events' and k.file_id = e.file_id and k.row_number = e.row_number
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
