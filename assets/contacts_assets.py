"""Dagster wrappers for the contacts stages: ingest (ledger, rejects, field issues, erasure), contacts
(merge and status replay), and engagement."""

import datetime as dt

import dagster as dg

from assets.address_scan import erased_address_traces
from assets.engagement import compute_engagement
from assets.erasure import (
    erase_addresses,
    inbox_files_mentioning,
    redacted,
    rewrite_database,
    rewrite_done,
    rewrite_pending,
)
from assets.export_audit import regenerate_after_erasure
from assets.ingest import KIND_CONTACTS, KIND_ERASURE, KIND_EVENTS, IngestContext, ingest_folder
from assets.merge import drop_temp_tables, merge_pending_files, replay_status
from assets.validation import EmailValidatorCache
from pipelines.as_of import resolve_as_of
from pipelines.crash_points import crash_point
from pipelines.metadata import markdown_table
from pipelines.resources import DUCKDB_POOL, ContactsWarehouse
from pipelines.versioning import publish
from pipelines.vocabulary import CLOSED_STATUSES, STATUSES, SUPPRESSION_REASONS, sql_list
from pipelines.warehouse import erasure_salt, has_tombstones, transaction

NOTHING_LOST = "nothing_lost_per_file"
FILES_LOADED = "every_file_of_this_run_loaded"
ONE_CONTACT_PER_EMAIL = "one_contact_per_email"
STATUS_MATCHES_SUPPRESSION = "status_matches_suppression"
NO_ERASED_ADDRESS = "no_erased_address_anywhere"

LOST_ROWS_SQL = """
with counted as (
    select
        f.file_id, f.path, f.rows_total, f.rows_accepted, f.rows_rejected, coalesce(f.rows_erased, 0) as rows_erased,
        case f.kind
            when 'contacts' then (select count(*) from staging.contact_rows s where s.file_id = f.file_id)
            when 'events' then (select count(*) from staging.event_rows s where s.file_id = f.file_id)
            else f.rows_accepted  -- erasure requests keep no rows
        end as rows_staged,
        (select count(*) from rejected_rows r where r.file_id = f.file_id) as rows_in_rejects
    from import_files f
    where f.status = 'loaded'
)
select * from counted
where rows_total is distinct from rows_accepted + rows_rejected
   or rows_staged + rows_in_rejects + rows_erased <> rows_total
order by file_id
"""

# A contact's status and the suppressions in force must say the same thing.
STATUS_MISMATCH_SQL = f"""
select count(*) from staging.contacts c
full join (select email, reason from suppressions where reason <> 'erased') s using (email)
where c.email is not null
  and (c.status in {sql_list(CLOSED_STATUSES)}) is distinct from (s.email is not null)
"""


def _outcome_table(outcomes) -> str:
    if not outcomes:
        return "every file of this run loaded"
    rows = ["| file | status | reason |", "| --- | --- | --- |"]
    rows += [f"| {o.path} | {o.status} | {(o.reason or '').replace('|', '/')} |" for o in outcomes]
    return "\n".join(rows)


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
        dg.AssetSpec(
            "erasure_log",
            group_name="ingest",
            kinds={"duckdb"},
            description="One row per erased address: its salted hash and the time, nothing else.",
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
def inbox_files(context: dg.AssetExecutionContext, warehouse: ContactsWarehouse):
    """Erasure requests first (so nothing of an erased address loads again), then contact and event files;
    one transaction per file."""
    config = warehouse.config()
    paths = warehouse.paths
    cache = EmailValidatorCache(config.rules.fold_provider_aliases)
    now = dt.datetime.now(dt.UTC)
    with warehouse.connect() as con:
        ctx = IngestContext(con, paths.data_dir, config, cache, now, context.log)
        outcomes = ingest_folder(ctx, paths.erasure_inbox, KIND_ERASURE, apply=erase_addresses)
        pending = rewrite_pending(con)
        if pending:
            con.execute("checkpoint")
    if pending:
        # With the writer closed: rewrite the file so the deleted bytes are gone. A run killed before the
        # flag is cleared leaves it set, and the next run does this again.
        crash_point("before_erasure_rewrite")
        rewrite_database(paths.warehouse)
        crash_point("after_erasure_rewrite")
        context.log.info("erased %d address(es); rewrote %s", len(ctx.erased), paths.warehouse.name)
        with warehouse.connect() as con:
            regenerated = regenerate_after_erasure(con, config, paths.data_dir)
            rewrite_done(con)
        context.log.info("regenerated %d exported version(s) that held an erased address", len(regenerated))
    still_in_inbox = [
        redacted(p.relative_to(paths.data_dir).as_posix(), ctx.erased_forms)
        for p in inbox_files_mentioning(
            [paths.contact_inbox, paths.event_inbox], ctx.erased_forms, ctx.config.limits
        )
    ]
    for path in still_in_inbox:
        context.log.warning(
            "%s still contains an erased address: the inbox is yours, delete or edit the file", path
        )

    with warehouse.connect() as con:
        ctx.use(con)
        outcomes += ingest_folder(ctx, paths.contact_inbox, KIND_CONTACTS)
        outcomes += ingest_folder(ctx, paths.event_inbox, KIND_EVENTS)
        lost = con.execute(LOST_ROWS_SQL).fetchall()
        (ledger_count,) = con.execute("select count(*) from import_files").fetchone()
        (rejected_count,) = con.execute("select count(*) from rejected_rows").fetchone()
        (issue_count,) = con.execute("select count(*) from field_issues").fetchone()
        (erasures,) = con.execute("select count(*) from erasure_log").fetchone()
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
            "rows_total": sum(o.rows_total for o in outcomes),
            "rows_accepted": sum(o.rows_accepted for o in outcomes),
            "rows_rejected": sum(o.rows_rejected for o in outcomes),
            "email_validations": cache.calls,
            "preview": dg.MetadataValue.md(ledger_preview),
        },
    )
    yield dg.MaterializeResult(
        asset_key="rejected_rows",
        metadata={
            "dagster/row_count": rejected_count,
            "by_reason": dg.MetadataValue.md(reject_preview),
            "by_file": dg.MetadataValue.md(rejects_by_file),
        },
    )
    yield dg.MaterializeResult(
        asset_key="field_issues",
        metadata={"dagster/row_count": issue_count, "by_field": dg.MetadataValue.md(issue_preview)},
    )
    yield dg.MaterializeResult(
        asset_key="erasure_log",
        metadata={
            "dagster/row_count": erasures,
            "erased_this_run": len(ctx.erased),
            "inbox_files_still_holding_erased_addresses": dg.MetadataValue.json(still_in_inbox),
        },
    )
    unloaded = [o for o in outcomes if o.status in ("failed", "held")]
    yield dg.AssetCheckResult(
        check_name=FILES_LOADED,
        asset_key="import_files",
        passed=not unloaded,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "files_failed": sum(o.status == "failed" for o in unloaded),
            "files_held": sum(o.status == "held" for o in unloaded),
            "files": dg.MetadataValue.md(_outcome_table(unloaded)),
        },
        description=None if not unloaded else "; ".join(f"{o.path}: {o.status}" for o in unloaded[:5]),
    )
    yield dg.AssetCheckResult(
        check_name=NOTHING_LOST,
        asset_key="import_files",
        passed=not lost,
        metadata={"files_with_lost_rows": len(lost), "files": [row[1] for row in lost][:20]},
        description=None if not lost else f"{len(lost)} file(s) whose row counts do not add up",
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "contacts",
            deps=["import_files"],
            group_name="contacts",
            kinds={"duckdb"},
            description="One row per contact (identity key: the normalised, lower-cased email), merged from every loaded file.",
        ),
        dg.AssetSpec(
            "status_history",
            deps=["import_files"],
            group_name="contacts",
            kinds={"duckdb"},
            description="One row per status an address held, in business time, with the reason and source of the change.",
        ),
        dg.AssetSpec(
            "suppressions",
            deps=["import_files"],
            group_name="contacts",
            kinds={"duckdb"},
            description="One row per address that must not be mailed (unsubscribed, bounced, complained, manual), plus erasure tombstones.",
        ),
        dg.AssetSpec(
            "events",
            deps=["import_files", "contacts"],
            group_name="contacts",
            kinds={"duckdb"},
            description="One row per engagement event, with the contact_id when the address is a contact.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            ONE_CONTACT_PER_EMAIL,
            asset="contacts",
            blocking=True,
            description="Every email and every contact_id appears in exactly one contact.",
        ),
        dg.AssetCheckSpec(
            STATUS_MATCHES_SUPPRESSION,
            asset="suppressions",
            blocking=True,
            description="Every contact with a suppression in force has a closed status, and every closed contact is suppressed.",
        ),
        dg.AssetCheckSpec(
            NO_ERASED_ADDRESS,
            asset="contacts",
            blocking=True,
            description="No erased address is left in any text column of any table of the warehouse (found from the catalog: current, history, staging, caches).",
        ),
    ],
    pool=DUCKDB_POOL,
)
def contact_state(context: dg.AssetExecutionContext, warehouse: ContactsWarehouse):
    """Merge new files into contacts in ledger order, then replay every status fact in business time."""
    config = warehouse.config()
    now = dt.datetime.now(dt.UTC)
    as_of = resolve_as_of(context.run.tags, config.timezone)
    with warehouse.connect() as con:
        with transaction(con):
            outcomes = merge_pending_files(con, config, context.log)
            replayed = replay_status(con, config, now, [outcome.file_id for outcome in outcomes])
            context.log.info(
                "replayed the status of %s",
                "every address" if replayed is None else f"{replayed} address(es) the new files mention",
            )
            version = publish(con, "contacts", context.run.run_id, as_of)
        crash_point("after_contacts_published")
        drop_temp_tables(con)
        total, duplicate_emails, duplicate_ids = con.execute(
            "select count(*), count(*) - count(distinct email), count(*) - count(distinct contact_id) from contacts"
        ).fetchone()
        (mismatched,) = con.execute(STATUS_MISMATCH_SQL).fetchone()
        erased_traces = erased_address_traces(con, erasure_salt(con)) if has_tombstones(con) else {}
        by_status = dict(con.execute("select status, count(*) from contacts group by status").fetchall())
        (history_rows,) = con.execute("select count(*) from status_history").fetchone()
        suppressed = dict(con.execute("select reason, count(*) from suppressions group by reason").fetchall())
        # From the staging table: the public `events` view joins every event to contacts, seconds at 10M rows.
        (event_count,) = con.execute("select count(*) from staging.event_rows").fetchone()
        preview = markdown_table(
            con,
            "select status, count(*) as contacts from contacts group by status order by contacts desc, status",
        )
        domains = markdown_table(
            con,
            "select email_domain, count(*) as contacts from contacts group by email_domain order by contacts desc, email_domain limit 10",
        )
        event_preview = markdown_table(
            con,
            "select event, count(*) as events from staging.event_rows group by event order by events desc, event",
        )
    yield dg.MaterializeResult(
        asset_key="contacts",
        metadata={
            "dagster/row_count": total,
            "files_merged": len(outcomes),
            "contacts_created": sum(o.contacts_created for o in outcomes),
            "rows_merged": sum(o.rows_merged or 0 for o in outcomes),
            "version": version if version is not None else dg.MetadataValue.null(),
            **{f"status_{status}": by_status.get(status, 0) for status in STATUSES},
            "preview": dg.MetadataValue.md(preview),
            "top_domains": dg.MetadataValue.md(domains),
        },
    )
    yield dg.MaterializeResult(
        asset_key="status_history",
        # -1: every address was replayed (first run, or the status rules changed)
        metadata={
            "dagster/row_count": history_rows,
            "addresses_replayed": -1 if replayed is None else replayed,
        },
    )
    yield dg.MaterializeResult(
        asset_key="suppressions",
        metadata={
            "dagster/row_count": sum(suppressed.values()),
            **{f"reason_{r}": suppressed.get(r, 0) for r in SUPPRESSION_REASONS},
        },
    )
    yield dg.MaterializeResult(
        asset_key="events",
        metadata={"dagster/row_count": event_count, "by_event": dg.MetadataValue.md(event_preview)},
    )
    yield dg.AssetCheckResult(
        check_name=ONE_CONTACT_PER_EMAIL,
        asset_key="contacts",
        passed=duplicate_emails == 0 and duplicate_ids == 0,
        metadata={"duplicate_emails": duplicate_emails, "duplicate_contact_ids": duplicate_ids},
    )
    yield dg.AssetCheckResult(
        check_name=STATUS_MATCHES_SUPPRESSION,
        asset_key="suppressions",
        passed=mismatched == 0,
        metadata={"mismatched_contacts": mismatched},
    )
    yield dg.AssetCheckResult(
        check_name=NO_ERASED_ADDRESS,
        asset_key="contacts",
        passed=not erased_traces,
        metadata={
            "rows_with_erased_addresses": sum(erased_traces.values()),
            "tables_with_erased_addresses": dg.MetadataValue.json(sorted(erased_traces)),
        },
    )


@dg.asset(deps=["contacts", "events"], group_name="contacts", kinds={"duckdb"}, pool=DUCKDB_POOL)
def contact_engagement(
    context: dg.AssetExecutionContext, warehouse: ContactsWarehouse
) -> dg.MaterializeResult:
    """One row per contact: opens, clicks and purchases in their windows, an engagement score and a lifecycle
    stage, as of the run's as-of date (tag `contacts/as_of`, default today)."""
    config = warehouse.config()
    as_of = resolve_as_of(context.run.tags, config.timezone)
    with warehouse.connect() as con:
        with transaction(con):
            recomputed = compute_engagement(con, config, as_of)
            version = publish(con, "contact_engagement", context.run.run_id, as_of)
        context.log.info(
            "engagement recomputed for %s",
            "every contact" if recomputed is None else f"{recomputed} address(es) the new files mention",
        )
        total, average, engaged = con.execute(
            "select count(*), coalesce(avg(engagement_score), 0), count(*) filter (where lifecycle = 'active') from staging.contact_engagement"
        ).fetchone()
        lifecycle = markdown_table(
            con,
            "select lifecycle, count(*) as contacts from staging.contact_engagement group by lifecycle order by contacts desc, lifecycle",
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "as_of_date": as_of.isoformat(),
            "version": version if version is not None else dg.MetadataValue.null(),
            # -1: every contact was recomputed (another as-of date, an erasure, or the rules changed)
            "addresses_recomputed": -1 if recomputed is None else recomputed,
            "average_engagement_score": round(float(average), 2),
            "active_contacts": engaged,
            "lifecycle": dg.MetadataValue.md(lifecycle),
        }
    )
