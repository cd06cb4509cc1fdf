-- Warehouse relations that are the query contract (DESIGN 6), plus internal staging.
-- Custom-field columns are added by pipelines/warehouse.py from contacts.yaml.

create schema if not exists staging;

-- Ledger: one row per inbox file (path + content hash). Grain: file_id.
create table if not exists import_files (
    file_id             bigint primary key,
    path                varchar not null,     -- relative to the data directory
    kind                varchar not null,     -- 'contacts'
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
    loaded_at           timestamptz,
    version             bigint,
    mode                varchar,
    source              varchar,
    lists               varchar[],
    ignored_columns     varchar[],
    merged_at           timestamptz           -- null while accepted rows wait for the merge
);

-- Grain: one row per rejected input row.
create table if not exists rejected_rows (
    file_id    bigint not null,
    row_number bigint not null,
    reason     varchar not null,              -- missing_email | invalid_email | erased | unparseable
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
    file_id       bigint not null,
    row_number    bigint not null,
    email         varchar not null,
    email_ascii   varchar,
    email_domain  varchar not null,
    first_name    varchar,
    last_name     varchar,
    tags          varchar[] not null,
    status        varchar,
    created_at    timestamptz
);

-- Grain: one row per contact (identity key: email).
create table if not exists contacts (
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
