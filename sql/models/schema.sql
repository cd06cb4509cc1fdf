-- Warehouse relations that are the query contract (DESIGN 6), plus internal staging.
-- Custom-field columns are added by pipelines/warehouse/ from contacts.yaml.

create schema if not exists staging;

-- Ledger: one row per inbox file (path + content hash). Grain: file_id.
create table if not exists import_files (
    file_id             bigint primary key,
    path                varchar not null,     -- relative to the data directory
    kind                varchar not null,     -- 'contacts', 'events', 'erasure', 'merges'
    sha256              varchar not null,     -- file bytes + manifest bytes
    status              varchar not null,     -- 'loaded', 'held', 'failed', 'skipped'
    reason              varchar,
    encoding            varchar,
    delimiter           varchar,
    rows_total          bigint,
    rows_accepted       bigint,
    rows_rejected       bigint,
    rows_merged         bigint,
    resubscribe_blocked bigint,
    contacts_created    bigint,
    rows_erased         bigint default 0,     -- rows later removed by erasure requests
    loaded_at           timestamptz,
    version             bigint,
    mode                varchar,
    source              varchar,
    lists               varchar[],
    ignored_columns     varchar[],
    merged_at           timestamptz,          -- null while accepted rows wait for the merge
    format              varchar                -- the sending service or contact-export preset the file was read as
);

-- Grain: one row per rejected input row.
create table if not exists rejected_rows (
    file_id    bigint not null,
    row_number bigint not null,
    reason     varchar not null,              -- missing_email | invalid_email | erased | unparseable | unknown_contact | same_contact | ...
    detail     varchar,
    raw        varchar
);

-- Grain: one row per bad custom-field value (the row itself was accepted).
create table if not exists field_issues (
    file_id    bigint not null,
    row_number bigint not null,
    field      varchar not null,
    raw_value  varchar,
    reason     varchar not null
);

-- Grain: one row per accepted input row, validated and typed; merged into contacts in ledger order.
create table if not exists staging.contact_rows (
    file_id      bigint not null,
    row_number   bigint not null,
    email        varchar not null,
    email_ascii  varchar,
    email_domain varchar not null,
    first_name   varchar,
    last_name    varchar,
    tags         varchar[] not null,
    status       varchar,
    created_at   timestamptz
);

-- Grain: one row per accepted row of a merge file (inbox/merges): a reviewed pair, both addresses validated and
-- normalised like a contact file's. Applied in ledger order by assets/contacts/pair_merge.py; a row found
-- unusable then (an address that is not a contact, or two addresses of one contact) moves to rejected_rows.
create table if not exists staging.merge_rows (
    file_id           bigint not null,
    row_number        bigint not null,
    keep_email        varchar not null,
    keep_email_ascii  varchar,
    merge_email       varchar not null,
    merge_email_ascii varchar
);

-- Grain: one row per address merged into another contact (DESIGN 5.2): the alias, the contact it now belongs to
-- (always the end of a chain: a merge of the kept contact moves its aliases along), the merge file's row that
-- made it, when, and the most restrictive status of the two contacts then (status_history.sql replays it as a
-- fact, so that a merge never resubscribes). A later file's rows for the alias are re-keyed to `kept_email`.
create table if not exists staging.contact_aliases (
    alias_email       varchar not null,
    alias_email_ascii varchar,
    kept_email        varchar not null,
    file_id           bigint not null,
    row_number        bigint not null,
    merged_at         timestamptz not null,
    status_at_merge   varchar not null
);

-- Grain: one row per staged contact or event row re-keyed from an alias to the contact it belongs to: the
-- address the input row had, for the audit (staging.contact_rows and staging.event_rows hold the kept one).
create table if not exists staging.rekeyed_rows (
    kind           varchar not null,          -- 'contacts' or 'events'
    file_id        bigint not null,
    row_number     bigint not null,
    original_email varchar not null
);

-- Working state of the versioned relations (DESIGN 6.1, 6.2). The pipeline writes these; each run
-- publishes what changed into <relation>_history, and the public names are views of the current
-- version (sql/models/views.sql).

-- Grain: one row per contact (identity key: email).
create table if not exists staging.contacts (
    contact_id        bigint not null,
    email             varchar not null,
    email_ascii       varchar,
    email_domain      varchar not null,
    first_name        varchar,
    last_name         varchar,
    tags              varchar[] not null,
    status            varchar not null,
    status_changed_at timestamptz,
    consent_source    varchar,
    consent_at        timestamptz,
    consent_method    varchar,                -- 'import', 'single_opt_in', 'double_opt_in'
    created_at        timestamptz not null,
    updated_at        timestamptz not null
);

-- Grain: one row per suppressed address and reason.
create table if not exists suppressions (
    email        varchar,
    email_sha256 varchar,
    reason       varchar not null,
    since        timestamptz not null
);

-- Grain: one row per accepted event row; `events` (below) adds the contact_id.
create table if not exists staging.event_rows (
    file_id       bigint not null,
    row_number    bigint not null,
    email         varchar not null,
    email_ascii   varchar,
    event         varchar not null,
    occurred_at   timestamptz not null,
    campaign_id   varchar,
    list          varchar,
    value         double,
    url           varchar,
    message_id    varchar,
    tags          varchar[],
    machine_open  boolean,                    -- the service marked the open as a machine's (Apple Mail privacy)
    service_event varchar                    -- the sending service's own name of the event
);

-- Grain: one row per status an address held, in business time (valid_to null = current).
create table if not exists status_history (
    email      varchar not null,
    status     varchar not null,
    valid_from timestamptz not null,
    valid_to   timestamptz,
    reason     varchar not null,             -- import, unsubscribe import, manual suppression, signup, confirm, ...
    source     varchar,                      -- manifest source, file path or event list/campaign
    file_id    bigint,
    row_number bigint
);


-- Grain: one row per erased address: the salted hash and the time, nothing else.
create table if not exists erasure_log (
    email_sha256 varchar not null,
    erased_at    timestamptz not null
);

-- Internal: the erasure salt (random, made once per warehouse).
create table if not exists staging.secrets (
    name  varchar primary key,
    value varchar not null
);

-- Grain: one row per contact, as of the run's as-of date.
create table if not exists staging.contact_engagement (
    contact_id          bigint not null,
    email               varchar not null,
    as_of_date          date not null,
    last_open_at        timestamptz,
    last_click_at       timestamptz,
    opens_30d           bigint not null,
    clicks_30d          bigint not null,
    purchases_365d      bigint not null,
    purchase_value_365d double not null,
    engagement_score    double not null,
    lifecycle           varchar not null
);

-- Grain: one row per contact created by the end of the run's as-of day: churn risk and expected purchase value
-- with the features they were computed from (assets/metrics/predictions.py, README "Predictions").
create table if not exists staging.contact_predictions (
    contact_id           bigint not null,
    email                varchar not null,
    as_of_date           date not null,
    churn_risk           double,                -- null when the churn model could not be fitted (metadata says why)
    predicted_value_365d double,                -- null when the value model could not be fitted
    historical_value     double not null,
    recency_days         double not null,
    frequency            bigint not null,
    tenure_days          double not null,
    opens_90d            bigint not null,
    clicks_90d           bigint not null,
    purchases            bigint not null,
    repeat_purchases     bigint not null,
    purchase_span_days   bigint not null,
    purchase_age_days    bigint not null,
    mean_repeat_value    double
);

-- Grain: one row per model per as-of date: the model fitted one horizon earlier, scored against what happened.
create table if not exists staging.prediction_backtest (
    model        varchar not null,               -- 'churn_risk', 'predicted_value'
    as_of_date   date not null,
    horizon_days int not null,
    n            bigint,
    base_rate    double,
    auc          double,
    brier        double,
    calibration  struct(decile int, n bigint, predicted double, observed double)[],
    reason       varchar                          -- null when computed, else why not
);

-- Grain: one row per (list, contact): static and test lists from manifests and signup events, system lists.
create table if not exists staging.list_members (
    list_id    varchar not null,
    contact_id bigint not null,
    email      varchar not null,
    added_at   timestamptz
);

-- Grain: one row per list: those in contacts.yaml and the system lists; rebuilt from the config each run.
create table if not exists staging.list_catalog (
    list_id varchar primary key,
    name    varchar not null,
    kind    varchar not null                -- 'static', 'test', 'system'
);

-- Grain: one row per (segment, contact); sql_sha256 makes an edited segment a new version.
create table if not exists staging.segment_members (
    segment_id varchar not null,
    contact_id bigint not null,
    email      varchar not null,
    sql_sha256 varchar not null
);

-- Grain: one row per pair of current contacts that are probably one person (assets/contacts/duplicates.py);
-- never merged automatically. match_reasons: the comparisons that counted for a match.
create table if not exists staging.duplicate_candidates (
    contact_id_a      bigint not null,
    contact_id_b      bigint not null,
    email_a           varchar not null,
    email_b           varchar not null,
    match_probability double not null,
    match_reasons     varchar[] not null
);

-- Grain: one row per segment file ever seen; retired_version is set when its file is deleted.
create table if not exists staging.segment_catalog (
    segment_id      varchar primary key,
    description     varchar,
    sql_sha256      varchar not null,
    path            varchar not null,
    retired_version bigint
);

-- Grain: one row per version: a run that changed at least one versioned relation.
create table if not exists versions (
    version        bigint primary key,
    run_id         varchar not null,
    as_of_date     date,
    created_at     timestamptz not null,
    tables_changed varchar[] not null
);

-- Grain: one row per (list, day) in the configured timezone (sql/models/list_health.sql).
create table if not exists staging.list_health (
    list_id            varchar not null,
    day                date not null,
    members            bigint not null,
    subscribed         bigint not null,
    new_subscribers    bigint not null,
    unsubscribes       bigint not null,
    bounces            bigint not null,
    complaints         bigint not null,
    churned            bigint not null,
    growth_rate        double,
    churn_rate         double,
    engagement_rate    double,
    open_rate          double,
    click_rate         double,
    invalid_rate       double,
    -- deliverability (README "List-health metrics"): messages sent that day to the day's members, and
    -- their events of that day over them (null rates when nothing was sent)
    messages_sent      bigint not null,
    hard_bounce_events bigint not null,
    soft_bounce_events bigint not null,
    complaint_events   bigint not null,
    unsubscribe_events bigint not null,
    bounce_rate        double,  -- hard bounces / messages_sent
    complaint_rate     double,
    unsubscribe_rate   double
);

-- Internal: list_health's days after the as-of date of its last computation, up to a year ahead
-- (sql/models/list_health.sql): a run on a later day, when no input changed since, takes its new days from
-- here instead of recomputing. Counts and rates per list and day only.
create table if not exists staging.list_health_ahead (
    list_id            varchar not null,
    day                date not null,
    members            bigint not null,
    subscribed         bigint not null,
    new_subscribers    bigint not null,
    unsubscribes       bigint not null,
    bounces            bigint not null,
    complaints         bigint not null,
    churned            bigint not null,
    growth_rate        double,
    churn_rate         double,
    engagement_rate    double,
    open_rate          double,
    click_rate         double,
    invalid_rate       double,
    -- deliverability (README "List-health metrics"): messages sent that day to the day's members, and
    -- their events of that day over them (null rates when nothing was sent)
    messages_sent      bigint not null,
    hard_bounce_events bigint not null,
    soft_bounce_events bigint not null,
    complaint_events   bigint not null,
    unsubscribe_events bigint not null,
    bounce_rate        double,  -- hard bounces / messages_sent
    complaint_rate     double,
    unsubscribe_rate   double
);

-- Internal: what list_health was last computed from, so a run recomputes only the days new inputs touch.
-- ahead_until: the last day staging.list_health_ahead holds (null: nothing ahead, e.g. an earlier release).
create table if not exists staging.metrics_state (
    last_file_id bigint not null,
    last_day     date not null,
    settings     varchar not null,
    ahead_until  date
);

-- Grain: one row per (segment, version at which its membership changed).
create table if not exists segment_health (
    segment_id varchar not null,
    version    bigint not null,
    as_of_date date,
    size       bigint not null,
    entered    bigint not null,
    exited     bigint not null,
    open_rate  double,
    click_rate double
);

-- Internal: what segment_health was last computed from (a digest of the files, erasures and settings it reads)
-- and the last version then, so that a run computes only the rows of newer versions (assets/metrics/health.py).
create table if not exists staging.segment_health_state (
    inputs          varchar not null,
    through_version bigint not null
);

-- Internal: work that must finish even if a run is killed half-way (e.g. the rewrite after an erasure).
create table if not exists staging.maintenance (
    name    varchar primary key,
    pending boolean not null
);

-- Internal: email-validator's verdicts on addresses the fast path could not vouch for, kept across runs
-- so no address is judged twice. `folded` = whether provider aliases were folded (a config setting).
-- Erasure deletes an address's rows here too.
create table if not exists staging.email_verdicts (
    prepared    varchar not null,
    folded      boolean not null,
    email       varchar,
    email_ascii varchar,
    error       varchar
);

-- Internal: rows whose resubscribe was blocked (an opening import met a closing status), per address,
-- so a partial status replay can recount import_files.resubscribe_blocked.
create table if not exists staging.resubscribe_blocked (
    email      varchar not null,
    file_id    bigint not null,
    row_number bigint not null
);

-- Internal: the rules the stored status history was replayed with; a change forces a full replay.
create table if not exists staging.replay_state (
    settings varchar not null
);

-- Internal: engagement islands for list_health (sql/models/list_health.sql): per contact and kind
-- (0 engage, 1 open, 2 click, 3 reach), the day ranges [i_from, i_to) its events keep it active.
-- Kept between runs so that a run recomputes only the contacts its new files mention.
create table if not exists staging.engagement_islands (
    contact_id bigint not null,
    kind       integer not null,
    i_from     date not null,
    i_to       date not null
);

-- Internal: what each per-contact derived table (list_members, contact_engagement) was last computed from,
-- so a run recomputes only the addresses new files mention (pipelines/warehouse/scope.py).
create table if not exists staging.derived_state (
    name         varchar primary key,
    last_file_id bigint not null,
    settings     varchar not null
);

-- Internal: what each step last computed its output from (pipelines/warehouse/fingerprints.py): a digest of its
-- inputs (config, SQL, as-of date, inbox listing, ledger and version tokens), so that a run whose inputs did not
-- change skips the step. Digests and times only, no personal data.
create table if not exists staging.step_fingerprints (
    step        varchar primary key,
    digest      varchar not null,
    computed_at timestamptz not null
);

-- Internal: export files whose SHA-256 the export audit computed, with what changes when a file is written,
-- replaced or renamed (size, modification and status-change times, inode): a file whose stat is unchanged is
-- not hashed again (assets/exports/audit.py). Export file paths and digests only, no personal data.
create table if not exists staging.verified_files (
    path   varchar primary key,
    stat   varchar not null,
    sha256 varchar not null
);
