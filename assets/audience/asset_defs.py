"""Dagster wrappers for the audience: lists, and one asset per segment file (DESIGN 7)."""

import re

import dagster as dg

from assets.audience.lists import rebuild_list_members
from assets.audience.segments import (
    SegmentError,
    SegmentFile,
    run_sandboxed,
    store_membership,
    uses_as_of_date,
)
from pipelines.metadata import markdown_table, unchanged_metadata
from pipelines.resources import DUCKDB_POOL, ContactsWarehouse
from pipelines.vocabulary import SEGMENT_RELATIONS, SYSTEM_LISTS
from pipelines.warehouse.fingerprints import (
    StepInputs,
    config_token,
    data_tokens,
    reclaim_pending,
    record,
    relation_token,
    segment_token,
    sql_token,
    unchanged,
)
from pipelines.warehouse.versioning import VERSIONED

SEGMENT_PREFIX = "segments"


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "list_members",
            deps=["contacts", "suppressions", "events"],
            group_name="audience",
            kinds={"duckdb"},
            description="One row per (list, contact): static and test lists from manifests and signup events, and the system lists all, subscribed, suppressed.",
        ),
        dg.AssetSpec(
            "lists",
            deps=["list_members"],
            group_name="audience",
            kinds={"duckdb"},
            description="One row per list in contacts.yaml plus the system lists, with its member count.",
        ),
    ],
    pool=DUCKDB_POOL,
)
def lists_and_members(context: dg.AssetExecutionContext, warehouse: ContactsWarehouse):
    """Rebuild list membership from every input and publish what changed as the run's version."""
    step = warehouse.step(context)
    # Membership does not depend on the as-of date: only new files, an erasure or a setting change it.
    inputs = StepInputs(
        "lists_and_members",
        {"config": config_token(step.config), "sql": sql_token("models/list_members.sql")},
        lambda con: {
            **data_tokens(con),
            "contacts": relation_token(con, "contacts"),
            "list_members": relation_token(con, "list_members"),
        },
    )
    with step.connect() as con:
        skipped = None if reclaim_pending(con, "list_members", step.as_of) else unchanged(con, inputs)
        recomputed = 0
        if skipped:
            context.log.info("list membership unchanged: %s", skipped)
        else:
            with step.publishing("list_members"):
                recomputed = rebuild_list_members(con, step.config)
            record(con, inputs)
            context.log.info(
                "list membership recomputed for %s",
                "every address" if recomputed is None else f"{recomputed} address(es) the new files mention",
            )
        version = step.version("list_members")
        counts = dict(con.execute("select list_id, member_count from lists").fetchall())
        (total,) = con.execute("select count(*) from list_members").fetchone()
        preview = markdown_table(
            con, "select list_id, name, kind, member_count from lists order by kind, list_id"
        )
    yield dg.MaterializeResult(
        asset_key="list_members",
        # -1: every address was recomputed (first run, an erasure, or the lists or status rules changed)
        metadata={
            "dagster/row_count": total,
            "version": version if version is not None else dg.MetadataValue.null(),
            "addresses_recomputed": -1 if recomputed is None else recomputed,
            **unchanged_metadata(skipped),
        },
    )
    yield dg.MaterializeResult(
        asset_key="lists",
        metadata={
            "dagster/row_count": len(counts),
            **{f"members_{list_id}": counts.get(list_id, 0) for list_id in SYSTEM_LISTS},
            "preview": dg.MetadataValue.md(preview),
            **unchanged_metadata(skipped),
        },
    )


def segment_asset_key(segment_id: str) -> dg.AssetKey:
    # A valid segment id is a valid key; an invalid one still gets an asset, which fails with the reason.
    return dg.AssetKey([SEGMENT_PREFIX, re.sub(r"[^A-Za-z0-9_-]", "_", segment_id)])


def build_segment_catalog_asset(segments: list[SegmentFile]) -> dg.AssetsDefinition:
    current = sorted(segment.segment_id for segment in segments)

    @dg.asset(
        name="segment_catalog",
        group_name="audience",
        kinds={"duckdb"},
        pool=DUCKDB_POOL,
        deps=["contacts"],
        code_version=",".join(current) or "none",
    )
    def segment_catalog(
        context: dg.AssetExecutionContext, warehouse: ContactsWarehouse
    ) -> dg.MaterializeResult:
        """The segment files in force: a segment whose file was deleted is retired (its history stays)."""
        step = warehouse.step(context)
        with step.connect() as con:
            with step.publishing():
                gone = [
                    row[0]
                    for row in con.execute(
                        "select segment_id from staging.segment_catalog where retired_version is null and not list_contains(?, segment_id)",
                        [current],
                    ).fetchall()
                ]
                if gone:
                    con.execute(
                        "delete from staging.segment_members where list_contains(?, segment_id)", [gone]
                    )
                    version = step.publish_now("segment_members")
                    con.execute(
                        "update staging.segment_catalog set retired_version = ? where list_contains(?, segment_id)",
                        [version, gone],
                    )
        for segment_id in gone:
            context.log.info("segment %s retired: its file is gone; its history stays queryable", segment_id)
        return dg.MaterializeResult(metadata={"segments": len(current), "retired_this_run": len(gone)})

    return segment_catalog


def build_segment_asset(segment: SegmentFile, known_ids: set[str]) -> dg.AssetsDefinition:
    deps = ["segment_catalog"]
    deps += sorted({SEGMENT_RELATIONS[name] for name in segment.relations})
    deps += [
        segment_asset_key(reference) for reference in sorted(segment.references) if reference in known_ids
    ]

    @dg.asset(
        key=segment_asset_key(segment.segment_id),
        deps=deps,
        group_name="audience",
        kinds={"duckdb", "sql"},
        pool=DUCKDB_POOL,
        code_version=segment.sql_sha256,
        description=segment.description or f"Segment {segment.segment_id}",
        metadata={
            "segment_id": segment.segment_id,
            "file": f"sql/segments/{segment.path.name}",
            "sql": dg.MetadataValue.md(f"```sql\n{segment.sql}\n```"),
        },
    )
    def segment_asset(
        context: dg.AssetExecutionContext, warehouse: ContactsWarehouse
    ) -> dg.MaterializeResult:
        if segment.problem:
            raise dg.Failure(description=segment.problem)
        step = warehouse.step(context)
        inputs = segment_inputs(segment, step.as_of)
        with step.connect() as con:
            skipped = None if reclaim_pending(con, "segment_members", step.as_of) else unchanged(con, inputs)
            if skipped:
                (size,) = con.execute(
                    "select count(*) from staging.segment_members where segment_id = ?", [segment.segment_id]
                ).fetchone()
        if skipped:
            context.log.info("segment %s unchanged: %s", segment.segment_id, skipped)
            return dg.MaterializeResult(
                metadata={
                    "dagster/row_count": size,
                    "entered": 0,
                    "exited": 0,
                    "version": dg.MetadataValue.null(),
                    "as_of_date": step.as_of.isoformat(),
                    **unchanged_metadata(skipped),
                }
            )
        try:
            # Before the writer opens: the sandbox reads the file read-only.
            contact_ids = run_sandboxed(warehouse.paths.warehouse, segment, step.as_of)
        except SegmentError as exc:
            raise dg.Failure(description=str(exc)) from None
        with step.connect() as con:
            # Only this segment's rows changed: the publish compares those alone.
            with step.publishing("segment_members", scope=("segment_id", segment.segment_id)):
                entered, exited = store_membership(con, segment, contact_ids)
            record(con, inputs)
        version = step.version("segment_members")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": len(contact_ids),
                "entered": entered,
                "exited": exited,
                "version": version if version is not None else dg.MetadataValue.null(),
                "as_of_date": step.as_of.isoformat(),
                **unchanged_metadata(None),
            }
        )

    return segment_asset


def segment_inputs(segment: SegmentFile, as_of) -> StepInputs:
    """A segment reads its SQL, the relations it names (their working tables), the segments it references, and
    the as-of date only when its SQL calls as_of_date(): a segment of contacts and lists alone stays as it is
    on a new day."""
    versioned = sorted(
        {"contacts"} | {SEGMENT_RELATIONS[name] for name in segment.relations} & set(VERSIONED)
    )

    def tokens(con) -> dict:
        return {
            **data_tokens(con),
            **{relation: relation_token(con, relation) for relation in versioned},
            "segments": {
                segment_id: segment_token(con, segment_id)
                for segment_id in sorted(segment.references | {segment.segment_id})
            },
        }

    return StepInputs(
        f"segments/{segment.segment_id}",
        {
            "sql": segment.sql_sha256,
            "as_of": as_of.isoformat() if uses_as_of_date(segment.sql) else None,
        },
        tokens,
    )


def build_segment_assets(segments: list[SegmentFile]) -> list[dg.AssetsDefinition]:
    """The catalog asset plus one asset per segment file (read when the code location loads)."""
    known = {segment.segment_id for segment in segments}
    return [build_segment_catalog_asset(segments)] + [
        build_segment_asset(segment, known) for segment in segments
    ]
