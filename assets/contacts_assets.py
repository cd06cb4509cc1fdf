"""Dagster wrappers for the contacts stages: ingest (ledger, rejects, field issues) and merge (contacts)."""

import datetime as dt

import dagster as dg

from assets.ingest import ingest_contact_files
from assets.merge import merge_pending_files
from assets.validation import EmailValidatorCache
from pipelines.metadata import markdown_table
from pipelines.resources import DUCKDB_POOL, ContactsWarehouse

NOTHING_LOST = "nothing_lost_per_file"
ONE_CONTACT_PER_EMAIL = "one_contact_per_email"

LOST_ROWS_SQL = """
with counted as (
    select
        f.file_id, f.path, f.rows_total, f.rows_accepted, f.rows_rejected,
        (select count(*) from staging.contact_rows s where s.file_id = f.file_id) as rows_staged,
        (select count(*) from rejected_rows r where r.file_id = f.file_id) as rows_in_rejects
    from import_files f
    where f.kind = 'contacts' and f.status = 'loaded'
)
select * from counted
where rows_total is distinct from rows_accepted + rows_rejected
   or rows_staged <> rows_accepted
   or rows_in_rejects <> rows_rejected
order by file_id
"""


@dg.multi_asset(
    specs=[
        dg.AssetSpec("import_files", group_name="ingest", kinds={"duckdb"},
                     description="Ledger of inbox files: one row per file (path + content hash), with its outcome and row counts."),
        dg.AssetSpec("rejected_rows", group_name="ingest", kinds={"duckdb"},
                     description="One row per input row that was not accepted, with the reason code and the raw text."),
        dg.AssetSpec("field_issues", group_name="ingest", kinds={"duckdb"},
                     description="One row per bad custom-field value in an accepted row; the field was left unchanged."),
    ],
    check_specs=[
        dg.AssetCheckSpec(NOTHING_LOST, asset="import_files", blocking=True,
                          description="For every loaded file, rows_total = rows_accepted + rows_rejected, and both match the rows stored."),
    ],
    pool=DUCKDB_POOL,
)
def contact_files(context: dg.AssetExecutionContext, warehouse: ContactsWarehouse):
    """Read new contact files from the inbox, validate them and stage their rows; one transaction per file."""
    config = warehouse.config()
    paths = warehouse.paths
    cache = EmailValidatorCache(config.rules.fold_provider_aliases)
    now = dt.datetime.now(dt.timezone.utc)
    with warehouse.connect() as con:
        outcomes = ingest_contact_files(con, paths.data_dir, paths.contact_inbox, config, cache, now, context.log)
        lost = con.execute(LOST_ROWS_SQL).fetchall()
        ledger_count = con.execute("select count(*) from import_files").fetchone()[0]
        rejected_count, = con.execute("select count(*) from rejected_rows").fetchone()
        issue_count, = con.execute("select count(*) from field_issues").fetchone()
        ledger_preview = markdown_table(
            con,
            """select file_id, path, status, rows_total, rows_accepted, rows_rejected, rows_merged, reason
               from import_files order by file_id desc limit 10""",
        )
        reject_preview = markdown_table(
            con, "select reason, count(*) as rows from rejected_rows group by reason order by rows desc, reason"
        )
        issue_preview = markdown_table(
            con, "select field, reason, count(*) as rows from field_issues group by all order by rows desc, field"
        )

    def count(status: str) -> int:
        return sum(1 for outcome in outcomes if outcome.status == status)

    yield dg.MaterializeResult(
        asset_key="import_files",
        metadata={
            "dagster/row_count": ledger_count,
            "files_loaded": count("loaded"),
            "files_held": count("held"),
            "files_failed": count("failed"),
            "files_skipped": count("skipped"),
            "rows_total": sum(o.rows_total for o in outcomes),
            "rows_accepted": sum(o.rows_accepted for o in outcomes),
            "rows_rejected": sum(o.rows_rejected for o in outcomes),
            "email_validations": cache.calls,
            "preview": dg.MetadataValue.md(ledger_preview),
        },
    )
    yield dg.MaterializeResult(
        asset_key="rejected_rows",
        metadata={"dagster/row_count": rejected_count, "by_reason": dg.MetadataValue.md(reject_preview)},
    )
    yield dg.MaterializeResult(
        asset_key="field_issues",
        metadata={"dagster/row_count": issue_count, "by_field": dg.MetadataValue.md(issue_preview)},
    )
    yield dg.AssetCheckResult(
        check_name=NOTHING_LOST,
        asset_key="import_files",
        passed=not lost,
        metadata={"files_with_lost_rows": len(lost), "files": [row[1] for row in lost][:20]},
        description=None if not lost else f"{len(lost)} file(s) whose row counts do not add up",
    )


@dg.asset(
    deps=["import_files"],
    group_name="contacts",
    kinds={"duckdb"},
    pool=DUCKDB_POOL,
    check_specs=[
        dg.AssetCheckSpec(ONE_CONTACT_PER_EMAIL, asset="contacts", blocking=True,
                          description="Every email and every contact_id appears in exactly one contact."),
    ],
)
def contacts(context: dg.AssetExecutionContext, warehouse: ContactsWarehouse) -> dg.MaterializeResult:
    """One row per contact (identity key: the normalised, lower-cased email), merged from every loaded file."""
    config = warehouse.config()
    with warehouse.connect() as con:
        outcomes = merge_pending_files(con, config, context.log)
        total, duplicate_emails, duplicate_ids = con.execute(
            "select count(*), count(*) - count(distinct email), count(*) - count(distinct contact_id) from contacts"
        ).fetchone()
        preview = markdown_table(con, "select status, count(*) as contacts from contacts group by status order by contacts desc, status")
        domains = markdown_table(
            con, "select email_domain, count(*) as contacts from contacts group by email_domain order by contacts desc, email_domain limit 10"
        )
    passed = duplicate_emails == 0 and duplicate_ids == 0
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "files_merged": len(outcomes),
            "contacts_created": sum(o.contacts_created for o in outcomes),
            "rows_merged": sum(o.rows_merged for o in outcomes),
            "resubscribe_blocked": sum(o.resubscribe_blocked for o in outcomes),
            "preview": dg.MetadataValue.md(preview),
            "top_domains": dg.MetadataValue.md(domains),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=ONE_CONTACT_PER_EMAIL,
                passed=passed,
                metadata={"duplicate_emails": duplicate_emails, "duplicate_contact_ids": duplicate_ids},
            )
        ],
    )
