"""Dagster wrapper of erasure (DESIGN 3.4, 6.4): `erasure_log` applies the erasure requests in
`inbox/erasure/`, then rewrites the warehouse file so the deleted bytes are gone and regenerates every
exported version that held an erased address. Upstream of the ingest, so nothing of an erased address
loads again."""

import datetime as dt

import dagster as dg

from assets.erasure.erase import (
    erase_addresses,
    inbox_files_mentioning,
    redacted,
    rewrite_database,
    rewrite_done,
    rewrite_pending,
)
from assets.erasure.regenerate_exports import regenerate_after_erasure
from assets.ingest.context import KIND_ERASURE, IngestContext
from assets.ingest.inbox import ingest_folder
from assets.ingest.outcomes import unapplied_files_check, unapplied_in_inbox
from assets.validation.emails import EmailValidatorCache
from pipelines.crash_points import crash_point
from pipelines.metadata import unchanged_metadata
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

REQUESTS_APPLIED = "every_erasure_request_applied"


@dg.asset(
    group_name="ingest",
    kinds={"duckdb"},
    description="One row per erased address: its salted hash and the time, nothing else.",
    check_specs=[
        dg.AssetCheckSpec(
            REQUESTS_APPLIED,
            asset="erasure_log",
            description="A warning when an erasure request of this run failed or was held: the metadata names each file and why.",
        )
    ],
    pool=DUCKDB_POOL,
)
def erasure_log(context: dg.AssetExecutionContext, warehouse: ContactsWarehouse):
    """Apply the erasure requests, one transaction per file; then, with the writer closed, rewrite the file
    and regenerate the exports that held an erased address."""
    config = warehouse.config()
    paths = warehouse.paths
    cache = EmailValidatorCache(config.rules.fold_provider_aliases)
    # Skipped when no request file, no setting and nothing in the ledger or the erasure log changed since
    # the last run, and no rewrite is owed.
    inputs = StepInputs(
        "erasure_log",
        {"inbox": inbox_listing(paths.erasure_inbox), "config": config_token(config)},
        lambda con: {
            # the erasure requests' own entries: the contact and event files come after this step
            "ledger": ledger_token(con, merged=False, kinds=(KIND_ERASURE,)),
            "erasures": erasure_token(con),
            "rewrite_pending": rewrite_pending(con),
        },
    )
    with warehouse.connect() as con:
        ctx = IngestContext(con, paths.data_dir, config, cache, dt.datetime.now(dt.UTC), context.log)
        skipped = unchanged(con, inputs)
        if skipped:
            outcomes = unapplied_in_inbox(con, paths.data_dir, paths.erasure_inbox, KIND_ERASURE)
        else:
            outcomes = ingest_folder(ctx, paths.erasure_inbox, KIND_ERASURE, apply=erase_addresses)
        (erasures,) = con.execute("select count(*) from erasure_log").fetchone()  # the rewrite keeps them
        pending = rewrite_pending(con)
        if pending:
            con.execute("checkpoint")
        elif not skipped:
            record(con, inputs)
    if pending:
        # A run killed before the flag is cleared leaves it set, and the next run does this again.
        crash_point("before_erasure_rewrite")
        rewrite_database(paths.warehouse)
        crash_point("after_erasure_rewrite")
        context.log.info("erased %d address(es); rewrote %s", len(ctx.erased), paths.warehouse.name)
        with warehouse.connect() as con:
            regenerated = regenerate_after_erasure(con, config, paths.data_dir)
            rewrite_done(con)
            record(con, inputs)
        context.log.info("regenerated %d exported version(s) that held an erased address", len(regenerated))
    still_in_inbox = [
        redacted(p.relative_to(paths.data_dir).as_posix(), ctx.erased_forms)
        for p in inbox_files_mentioning(
            [paths.contact_inbox, paths.event_inbox], ctx.erased_forms, config.limits
        )
    ]
    for path in still_in_inbox:
        context.log.warning(
            "%s still contains an erased address: the inbox is yours, delete or edit the file", path
        )
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": erasures,
            "erased_this_run": len(ctx.erased),
            "inbox_files_still_holding_erased_addresses": dg.MetadataValue.json(still_in_inbox),
            **unchanged_metadata(skipped),
        },
    )
    yield unapplied_files_check(REQUESTS_APPLIED, "erasure_log", outcomes)
