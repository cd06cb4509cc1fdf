-- Subscription status in business time (DESIGN 5.3), replayed from every status fact ever received,
-- so late-arriving inputs land where they belong in time. Run by assets/contacts/merge.py inside the contacts
-- transaction. {soft_bounce_limit} and {soft_bounce_window_days} come from contacts.yaml.
--
-- An address's status depends on that address's facts only, so a run replays just the addresses its new
-- files mention: `{scope:X}` becomes `X in (select email from replay_scope)`, or `true` for a full replay
-- (the first run, or after a change of the rules above).
--
-- The rule that makes a replay possible with window functions: closing facts (unsubscribe, bounce,
-- complaint, suppression) and `confirm` always decide the status; opening facts (an import, a signup)
-- only count while no closing fact is in force. So the status after any fact is the latest deciding
-- fact's status, or, before any, `subscribed` once an import subscribed the address, else `unconfirmed`.

create or replace temp table status_facts as
with import_rows as (
    select r.email, r.file_id, r.row_number, r.status as row_status, r.created_at,
           f.mode, coalesce(f.source, f.path) as source, f.loaded_at
    from staging.contact_rows r
    join import_files f using (file_id)
    where {scope:r.email}
),

import_facts as (
    select
        email,
        case
            when mode = 'suppress' then 'unsubscribed'
            when mode = 'unsubscribe' then if(row_status in ('bounced', 'complained'), row_status, 'unsubscribed')
            else coalesce(row_status, 'subscribed')
        end as wanted,
        case mode when 'suppress' then 'manual suppression' when 'unsubscribe' then 'unsubscribe import' else 'import' end as reason,
        source, file_id, row_number, created_at, loaded_at
    from import_rows
),

import_timed as (
    -- An opening row happened when the contact signed up (created_at) if the file says so; a closing
    -- row is only known from the moment the file arrived.
    select email, wanted, reason, source, file_id, row_number, 'import' as origin,
           if(wanted in ('subscribed', 'unconfirmed'), coalesce(created_at, loaded_at), loaded_at) as happened_at
    from import_facts
),

event_facts as (
    select email,
           case event
               when 'signup' then 'unconfirmed' when 'confirm' then 'subscribed' when 'unsubscribe' then 'unsubscribed'
               when 'hard_bounce' then 'bounced' when 'complaint' then 'complained'
           end as wanted,
           event as reason,
           coalesce('list ' || list, 'campaign ' || campaign_id, 'event file') as source,
           file_id, row_number, 'event' as origin, occurred_at as happened_at
    from staging.event_rows
    where event in {status_events} and {scope:email}
),

soft_bounce_stream as (
    -- Soft bounces counted in a sliding window; a confirm starts the count afresh.
    select email, occurred_at, event, file_id, row_number, list, campaign_id,
           sum(if(event = 'confirm', 1, 0)) over (partition by email order by occurred_at, event = 'soft_bounce' rows unbounded preceding) as epoch
    from staging.event_rows
    where event in ('soft_bounce', 'confirm') and {scope:email}
),

soft_bounce_counts as (
    select *,
           count(*) over (
               partition by email, epoch order by occurred_at
               range between interval ({soft_bounce_window_days}) day preceding and current row
           ) as bounces_in_window
    from soft_bounce_stream
    where event = 'soft_bounce'
),

soft_bounce_facts as (
    select email, 'bounced' as wanted, 'soft bounce limit' as reason,
           coalesce('list ' || list, 'campaign ' || campaign_id, 'event file') as source,
           file_id, row_number, 'event' as origin, occurred_at as happened_at
    from soft_bounce_counts
    where bounces_in_window >= {soft_bounce_limit}
),

merge_facts as (
    -- A reviewed merge (sql/models/merge_pairs.sql) holds the kept contact at the most restrictive status of the
    -- two from the merge on: the merged address's facts now replay as the kept one's, and this fact keeps a
    -- confirm of one address that came before the other's unsubscribe from resubscribing the person, in every
    -- later replay too. Only closed statuses need it: opening facts never decide.
    select a.kept_email as email, a.status_at_merge as wanted, 'merge' as reason, f.path as source,
           a.file_id, a.row_number, 'merge' as origin, a.merged_at as happened_at
    from staging.contact_aliases a
    join import_files f using (file_id)
    where a.status_at_merge in {closed_statuses} and {scope:a.kept_email}
),

final as (
    select * from import_timed
    union all by name select * from event_facts
    union all by name select * from soft_bounce_facts
    union all by name select * from merge_facts
)

select
    *,
    -- same-instant precedence: complained > bounced > unsubscribed > subscribed (later in the order wins)
    list_position(['unconfirmed', 'subscribed', 'unsubscribed', 'bounced', 'complained'], wanted) as precedence,
    wanted in {closed_statuses} or reason = 'confirm' as decides
from final;

create or replace temp table status_replay as
with ordered as (
    select
        *,
        last_value(if(decides, wanted, null) ignore nulls) over running as decided_status,
        bool_or(wanted = 'subscribed') over running as ever_subscribed,
        row_number() over (partition by email order by happened_at, precedence, origin, file_id, row_number) as seq
    from status_facts
    window running as (partition by email order by happened_at, precedence, origin, file_id, row_number rows unbounded preceding)
),

with_state as (
    select *,
           coalesce(decided_status, if(ever_subscribed, 'subscribed', 'unconfirmed')) as status_after
    from ordered
),

final as (
    select *,
           lag(status_after) over (partition by email order by seq) as status_before
    from with_state
)

select
    *,
    -- an opening import row that met a closing status: the resubscribe that was not allowed
    origin = 'import' and wanted in ('subscribed', 'unconfirmed')
        and status_before in {closed_statuses} as blocked
from final;

-- History: one row per change of status. Facts of one instant count as one step (the last of them,
-- by precedence, decides), so no zero-length interval appears.
delete from status_history where {scope:email};

insert into status_history
with instants as (
    select * from status_replay
    qualify row_number() over (partition by email, happened_at order by seq desc) = 1
),

changes as (
    select *, lag(status_after) over (partition by email order by happened_at) as previous_status
    from instants
),

final as (
    select * from changes where previous_status is distinct from status_after
)

select
    email,
    status_after as status,
    happened_at as valid_from,
    lead(happened_at) over (partition by email order by happened_at) as valid_to,
    reason,
    source,
    file_id,
    row_number
from final;

-- Blocked resubscribes, kept per row so that a partial replay can update the counts per file (the ledger
-- recounts them: pipelines/warehouse/ledger.py record_resubscribes_blocked).
delete from staging.resubscribe_blocked where {scope:email};

insert into staging.resubscribe_blocked
select email, file_id, row_number from status_replay where blocked;

-- Current status and the consent in force, onto contacts.
create or replace temp table status_current as
with latest as (
    select * from status_history where valid_to is null and {scope:email}
),

consent as (
    -- the change that made the address subscribed, and whether a signup came before a confirm
    select
        h.email,
        h.valid_from as consent_at,
        h.source as consent_source,
        case
            when h.reason = 'confirm' and exists (
                select 1 from staging.event_rows s where s.email = h.email and s.event = 'signup' and s.occurred_at <= h.valid_from
            ) then 'double_opt_in'
            when h.reason = 'confirm' then 'single_opt_in'
            else 'import'
        end as consent_method
    from status_history h
    where h.status = 'subscribed' and {scope:h.email}
    qualify row_number() over (partition by h.email order by h.valid_from desc) = 1
)

select l.email, l.status, l.valid_from as status_changed_at, l.reason,
       c.consent_source, c.consent_at, c.consent_method
from latest l
left join consent c on c.email = l.email and l.status = 'subscribed';

update staging.contacts c set
    status = s.status,
    status_changed_at = s.status_changed_at,
    consent_source = s.consent_source,
    consent_at = s.consent_at,
    consent_method = s.consent_method,
    updated_at = $now
from status_current s
where c.email = s.email
  and (c.status, c.status_changed_at, c.consent_source, c.consent_at, c.consent_method)
      is distinct from (s.status, s.status_changed_at, s.consent_source, s.consent_at, s.consent_method);

-- Suppressions in force: every address whose status is closed, contact or not. Tombstones of erased
-- addresses (reason 'erased') are kept as they are.
delete from suppressions where reason <> 'erased' and {scope:email};

insert into suppressions (email, email_sha256, reason, since)
select
    email,
    sha256($salt || email),
    if(reason = 'manual suppression', 'manual', status),
    status_changed_at
from status_current
where status in {closed_statuses};
