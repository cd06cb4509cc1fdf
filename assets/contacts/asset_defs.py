"""Dagster wrappers of the contacts stage: `contacts_statuses_and_events` (merge, status replay, suppressions, events)
and `contact_engagement`, with their checks. Stage 1, reading the inbox, is assets/ingest/asset_defs.py.
"""

import datetime as dt

import dagster as dg

from assets.contacts.engagement import compute_engagement
from assets.contacts.merge import drop_temp_tables, merge_pending_files, replay_status
from assets.contacts.pair_merge import apply_pending_merges, rekey_pending_rows
from assets.erasure.address_scan import erased_address_traces
from pipelines.crash_points import crash_point
from pipelines.metadata import markdown_table, unchanged_metadata
from pipelines.resources import DUCKDB_POOL, ContactsWarehouse
from pipelines.vocabulary import STATUSES, SUPPRESSION_REASONS
from pipelines.warehouse.fingerprints import (
    StepInputs,
    config_token,
    data_tokens,
    reclaim_pending,
    record,
    relation_token,
    sql_token,
    unchanged,
)
from pipelines.warehouse.render import load_sql, render
from pipelines.warehouse.tombstones import erasure_salt, has_tombstones

ONE_CONTACT_PER_EMAIL = "one_contact_per_email"
STATUS_MATCHES_SUPPRESSION = "status_matches_suppression"
NO_ERASED_ADDRESS = "no_erased_address_anywhere"


ONE_CONTACT_SQL = render(load_sql("checks/one_contact_per_email.sql"))
STATUS_MISMATCH_SQL = render(load_sql("checks/status_matches_suppression.sql"))


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
def contacts_statuses_and_events(context: dg.AssetExecutionContext, warehouse: ContactsWarehouse):
    """Merge new files into contacts in ledger order, replay every status fact in business time, then apply
    the reviewed merge files (pairs of contacts)."""
    step = warehouse.step(context)
    now = dt.datetime.now(dt.UTC)
    # Statuses are replayed from every fact in business time, whatever the as-of date (it never hides
    # inputs), so the as-of date is not an input: only new files, an erasure or a setting change anything.
    inputs = StepInputs(
        "contacts_statuses_and_events",
        {
            "config": config_token(step.config),
            "sql": sql_token(
                "models/merge_contacts.sql",
                "models/status_history.sql",
                "models/merge_pair_rows.sql",
                "models/merge_pairs.sql",
                "models/rekey_aliases.sql",
            ),
        },
        lambda con: {**data_tokens(con), "contacts": relation_token(con, "contacts")},
    )
    with step.connect() as con:
        skipped = None if reclaim_pending(con, "contacts", step.as_of) else unchanged(con, inputs)
        outcomes, pairs, replayed = [], [], 0
        if skipped:
            context.log.info("contacts, statuses and events unchanged: %s", skipped)
        else:
            with step.publishing("contacts"):
                rekey_pending_rows(con)  # a later file of a merged address goes to the kept contact
                outcomes = merge_pending_files(con, step.config, context.log)
                replayed = replay_status(con, step.config, now, [outcome.file_id for outcome in outcomes])
                # Reviewed pairs after the files, whose statuses they compare, so replayed first; then the
                # pairs' addresses again, with the facts the merged address brought.
                pairs = apply_pending_merges(con, step.config, context.log)
                if pairs:
                    again = replay_status(con, step.config, now, [pair.file_id for pair in pairs])
                    replayed = None if replayed is None or again is None else replayed + again
                context.log.info(
                    "replayed the status of %s",
                    "every address" if replayed is None else f"{replayed} address(es) the new files mention",
                )
            crash_point("after_contacts_published")
            drop_temp_tables(con)
            record(con, inputs)
        version = step.version("contacts")
        total, duplicate_emails, duplicate_ids = con.execute(ONE_CONTACT_SQL).fetchone()
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
            "contact_pairs_merged": sum(pair.pairs_merged for pair in pairs),
            "version": version if version is not None else dg.MetadataValue.null(),
            **{f"status_{status}": by_status.get(status, 0) for status in STATUSES},
            "preview": dg.MetadataValue.md(preview),
            "top_domains": dg.MetadataValue.md(domains),
            **unchanged_metadata(skipped),
        },
    )
    yield dg.MaterializeResult(
        asset_key="status_history",
        # -1: every address was replayed (first run, or the status rules changed)
        metadata={
            "dagster/row_count": history_rows,
            "addresses_replayed": -1 if replayed is None else replayed,
            **unchanged_metadata(skipped),
        },
    )
    yield dg.MaterializeResult(
        asset_key="suppressions",
        metadata={
            "dagster/row_count": sum(suppressed.values()),
            **{f"reason_{r}": suppressed.get(r, 0) for r in SUPPRESSION_REASONS},
            **unchanged_metadata(skipped),
        },
    )
    yield dg.MaterializeResult(
        asset_key="events",
        metadata={
            "dagster/row_count": event_count,
            "by_event": dg.MetadataValue.md(event_preview),
            **unchanged_metadata(skipped),
        },
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
    step = warehouse.step(context)
    # Every window ends on the as-of day: a new day recomputes every contact, the same day with no new file
    # nothing.
    inputs = StepInputs(
        "contact_engagement",
        {
            "config": config_token(step.config),
            "sql": sql_token("models/contact_engagement.sql"),
            "as_of": step.as_of.isoformat(),
        },
        lambda con: {
            **data_tokens(con),
            "contacts": relation_token(con, "contacts"),
            "contact_engagement": relation_token(con, "contact_engagement"),
        },
    )
    with step.connect() as con:
        skipped = None if reclaim_pending(con, "contact_engagement", step.as_of) else unchanged(con, inputs)
        recomputed = 0
        if skipped:
            context.log.info("engagement unchanged: %s", skipped)
        else:
            with step.publishing("contact_engagement"):
                recomputed = compute_engagement(con, step.config, step.as_of)
            record(con, inputs)
            context.log.info(
                "engagement recomputed for %s",
                "every contact" if recomputed is None else f"{recomputed} address(es) the new files mention",
            )
        version = step.version("contact_engagement")
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
            "as_of_date": step.as_of.isoformat(),
            "version": version if version is not None else dg.MetadataValue.null(),
            # -1: every contact was recomputed (another as-of date, an erasure, or the rules changed)
            "addresses_recomputed": -1 if recomputed is None else recomputed,
            "average_engagement_score": round(float(average), 2),
            "active_contacts": engaged,
            "lifecycle": dg.MetadataValue.md(lifecycle),
            **unchanged_metadata(skipped),
        }
    )
