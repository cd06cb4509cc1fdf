"""Dagster wrapper of stage 1: `ledger_and_rejects` reads every new contact and event file into the ledger
(`import_files`), the rejects and the field issues, with its checks. Erasure requests come first, in their
own asset (assets/erasure/asset_defs.py)."""

import datetime as dt

import dagster as dg

from assets.ingest.context import KIND_CONTACTS, KIND_EVENTS, KIND_MERGES, IngestContext
from assets.ingest.inbox import ingest_folder
from assets.ingest.outcomes import unapplied_files_check, unapplied_in_inbox
from assets.validation.emails import EmailValidatorCache
from pipelines.metadata import markdown_table, unchanged_metadata
from pipelines.resources import DUCKDB_POOL, ContactsWarehouse
from pipelines.warehouse.fingerprints import (
    StepInputs,
    config_token,
    erasure_token,
    inbox_listing,
    ledger_token,
    record,
    unchanged,
)
from pipelines.warehouse.render import load_sql, render

NOTHING_LOST = "nothing_lost_per_file"
FILES_LOADED = "every_file_of_this_run_loaded"

LOST_ROWS_SQL = render(load_sql("checks/nothing_lost_per_file.sql"))


def _ledger_metadata(outcomes, kind):
    mine = [o for o in outcomes if o.kind == kind]
    return {
        status: sum(1 for o in mine if o.status == status)
        for status in ("loaded", "held", "failed", "skipped")
    }


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "import_files",
            deps=["erasure_log"],
            group_name="ingest",
            kinds={"duckdb"},
            description="Ledger of inbox files: one row per file (path + content hash), with its outcome and row counts.",
        ),
        dg.AssetSpec(
            "rejected_rows",
            group_name="ingest",
            kinds={"duckdb"},
            description="One row per input row that was not accepted, with the reason code and the raw text.",
        ),
        dg.AssetSpec(
            "field_issues",
            group_name="ingest",
            kinds={"duckdb"},
            description="One row per bad field value in an accepted row; the field was left unchanged.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            NOTHING_LOST,
            asset="import_files",
            blocking=True,
            description="For every loaded file, rows_total = rows_accepted + rows_rejected, and every row is stored, rejected or erased.",
        ),
        dg.AssetCheckSpec(
            FILES_LOADED,
            asset="import_files",
            description="A warning when a file of this run failed or was held: the run goes on, the metadata names each file and why.",
        ),
    ],
    pool=DUCKDB_POOL,
)
def ledger_and_rejects(context: dg.AssetExecutionContext, warehouse: ContactsWarehouse):
    """Contact, event and merge files, after the erasure requests (erasure_log) so that nothing of an erased
    address loads again; one transaction per file."""
    config = warehouse.config()
    paths = warehouse.paths
    cache = EmailValidatorCache(config.rules.fold_provider_aliases)
    now = dt.datetime.now(dt.UTC)
    # Skipped when no inbox file (data or manifest), no setting and nothing in the ledger or the erasure log
    # changed since the last run: every file would be hashed only to be found in the ledger again. The
    # merge's marks in the ledger are left out: they come after this step.
    inputs = StepInputs(
        "ledger_and_rejects",
        {
            "inbox": inbox_listing(paths.contact_inbox, paths.event_inbox, paths.merge_inbox),
            "config": config_token(config),
        },
        lambda con: {"ledger": ledger_token(con, merged=False), "erasures": erasure_token(con)},
    )
    with warehouse.connect() as con:
        skipped = unchanged(con, inputs)
        if skipped:
            outcomes = unapplied_in_inbox(con, paths.data_dir, paths.contact_inbox, KIND_CONTACTS)
            outcomes += unapplied_in_inbox(con, paths.data_dir, paths.event_inbox, KIND_EVENTS)
            outcomes += unapplied_in_inbox(con, paths.data_dir, paths.merge_inbox, KIND_MERGES)
        else:
            ctx = IngestContext(con, paths.data_dir, config, cache, now, context.log)
            outcomes = ingest_folder(ctx, paths.contact_inbox, KIND_CONTACTS)
            outcomes += ingest_folder(ctx, paths.event_inbox, KIND_EVENTS)
            # reviewed pairs last: they are applied after the run's contact and event files are merged
            outcomes += ingest_folder(ctx, paths.merge_inbox, KIND_MERGES)
            record(con, inputs)
        lost = con.execute(LOST_ROWS_SQL).fetchall()
        (ledger_count,) = con.execute("select count(*) from import_files").fetchone()
        (rejected_count,) = con.execute("select count(*) from rejected_rows").fetchone()
        (issue_count,) = con.execute("select count(*) from field_issues").fetchone()
        ledger_preview = markdown_table(
            con,
            """select file_id, path, kind, status, rows_total, rows_accepted, rows_rejected, rows_merged, reason
               from import_files order by file_id desc limit 10""",
        )
        reject_preview = markdown_table(
            con,
            "select reason, count(*) as rows from rejected_rows group by reason order by rows desc, reason",
        )
        # By file, with the first row numbers: where to look. Never the raw text, which can hold addresses.
        rejects_by_file = markdown_table(
            con,
            """select f.path, r.reason, count(*) as rows, list(r.row_number order by r.row_number)[1:5] as first_rows
               from rejected_rows r join import_files f using (file_id) group by all order by max(f.file_id) desc, rows desc limit 20""",
        )
        issue_preview = markdown_table(
            con,
            "select field, reason, count(*) as rows from field_issues group by all order by rows desc, field",
        )

    contact_files = _ledger_metadata(outcomes, KIND_CONTACTS)
    yield dg.MaterializeResult(
        asset_key="import_files",
        metadata={
            "dagster/row_count": ledger_count,
            "files_loaded": contact_files["loaded"],
            "files_held": contact_files["held"],
            "files_failed": sum(1 for o in outcomes if o.status == "failed"),
            "files_skipped": sum(1 for o in outcomes if o.status == "skipped"),
            "event_files_loaded": _ledger_metadata(outcomes, KIND_EVENTS)["loaded"],
            "merge_files_loaded": _ledger_metadata(outcomes, KIND_MERGES)["loaded"],
            "rows_total": sum(o.rows_total for o in outcomes),
            "rows_accepted": sum(o.rows_accepted for o in outcomes),
            "rows_rejected": sum(o.rows_rejected for o in outcomes),
            "email_validations": cache.calls,
            "preview": dg.MetadataValue.md(ledger_preview),
            **unchanged_metadata(skipped),
        },
    )
    yield dg.MaterializeResult(
        asset_key="rejected_rows",
        metadata={
            "dagster/row_count": rejected_count,
            "by_reason": dg.MetadataValue.md(reject_preview),
            "by_file": dg.MetadataValue.md(rejects_by_file),
            **unchanged_metadata(skipped),
        },
    )
    yield dg.MaterializeResult(
        asset_key="field_issues",
        metadata={
            "dagster/row_count": issue_count,
            "by_field": dg.MetadataValue.md(issue_preview),
            **unchanged_metadata(skipped),
        },
    )
    yield unapplied_files_check(FILES_LOADED, "import_files", outcomes)
    yield dg.AssetCheckResult(
        check_name=NOTHING_LOST,
        asset_key="import_files",
        passed=not lost,
        metadata={"files_with_lost_rows": len(lost), "files": [row[1] for row in lost][:20]},
        description=None if not lost else f"{len(lost)} file(s) whose row counts do not add up",
    )
