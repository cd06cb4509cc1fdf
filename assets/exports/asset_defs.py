"""Dagster wrappers for exports: one asset per segment and per static list, downstream of it (DESIGN 9)."""

import dagster as dg

from assets.audience.asset_defs import segment_asset_key
from assets.audience.segments import SegmentFile
from assets.exports.audit import audit_export
from assets.exports.files import read_manifest
from assets.exports.versions import ExportResult, ExportTarget, export_target, latest_export, would_backfill
from pipelines.metadata import unchanged_metadata
from pipelines.resources import DUCKDB_POOL, ContactsWarehouse
from pipelines.warehouse.fingerprints import (
    StepInputs,
    config_token,
    data_tokens,
    record,
    relation_token,
    segment_token,
    unchanged,
)
from pipelines.warehouse.tombstones import erasure_salt

MAILABLE_ONLY = "no_suppressed_or_erased_contact"
MANIFEST_MATCHES = "manifest_matches_files"


def build_export_asset(
    target: ExportTarget, upstream: dg.AssetKey, sql_sha256: str | None
) -> dg.AssetsDefinition:
    key = dg.AssetKey(["exports", target.kind, target.export_id])

    @dg.asset(
        key=key,
        deps=[upstream, "contacts"],
        group_name="exports",
        kinds={"csv", "parquet"},
        pool=DUCKDB_POOL,
        description=f"Export files of {target.kind[:-1]} {target.export_id}: one file set per version, plus latest.*",
        check_specs=[
            dg.AssetCheckSpec(
                MAILABLE_ONLY,
                asset=key,
                description="No suppressed or erased contact in the latest mailable export.",
            ),
            dg.AssetCheckSpec(
                MANIFEST_MATCHES,
                asset=key,
                description="Every manifest's files exist, and their hashes and row counts match.",
            ),
        ],
    )
    def export_asset(context: dg.AssetExecutionContext, warehouse: ContactsWarehouse) -> dg.MaterializeResult:
        config = warehouse.config()
        folder = target.folder(warehouse.paths.data_dir)
        inputs = export_inputs(target, folder, config, sql_sha256)
        with warehouse.connect() as con:
            # A backfill writes that day's files whatever the fingerprint says.
            skipped = None if would_backfill(con, folder) else unchanged(con, inputs)
            if skipped:
                latest = read_manifest(folder, "latest.manifest.json") or {"row_count": 0, "files": {}}
                result = ExportResult(None, latest["row_count"], sorted(latest["files"]))
                context.log.info("%s/%s unchanged: %s", target.kind, target.export_id, skipped)
            else:
                result = export_target(con, config, warehouse.paths.data_dir, target, sql_sha256)
                record(con, inputs)
            problems = audit_export(con, folder, erasure_salt(con))
        if result.backfill:
            context.log.info(
                "exported %s/%s version %d as a backfill (under backfill/, latest unchanged): %d rows",
                target.kind,
                target.export_id,
                result.version,
                result.rows,
            )
        elif result.version is not None:
            context.log.info(
                "exported %s/%s version %d: %d rows",
                target.kind,
                target.export_id,
                result.version,
                result.rows,
            )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": result.rows,
                "exported_version": result.version if result.version is not None else dg.MetadataValue.null(),
                "backfill": result.backfill,
                "folder": dg.MetadataValue.path(str(folder)),
                "files": dg.MetadataValue.json(result.files),
                **unchanged_metadata(skipped),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=MAILABLE_ONLY,
                    passed=not problems["not_mailable"],
                    metadata={"problems": problems["not_mailable"]},
                ),
                dg.AssetCheckResult(
                    check_name=MANIFEST_MATCHES,
                    passed=not problems["manifest_mismatch"],
                    metadata={"problems": problems["manifest_mismatch"]},
                ),
            ],
        )

    return export_asset


def export_inputs(target: ExportTarget, folder, config, sql_sha256: str | None) -> StepInputs:
    """An export's rows come from its members, the contacts and their lists (rows_at): while none of them
    changed since the last export, the rows of any newer version are those already exported. The folder's
    latest version is read too, so that an export whose files were removed is written again."""

    def tokens(con) -> dict:
        members = (
            segment_token(con, target.export_id)
            if target.kind == "segments"
            else relation_token(con, "list_members")
        )
        return {
            **data_tokens(con),
            "members": members,
            "contacts": relation_token(con, "contacts"),
            "list_members": relation_token(con, "list_members"),
            "latest": latest_export(folder),
        }

    return StepInputs(
        f"exports/{target.kind}/{target.export_id}",
        {"config": config_token(config), "sql": sql_sha256},
        tokens,
    )


def build_export_assets(segments: list[SegmentFile], static_lists: list[str]) -> list[dg.AssetsDefinition]:
    assets = [
        build_export_asset(
            ExportTarget("segments", s.segment_id), segment_asset_key(s.segment_id), s.sql_sha256
        )
        for s in segments
        if s.problem is None
    ]
    assets += [
        build_export_asset(ExportTarget("lists", list_id), dg.AssetKey("list_members"), None)
        for list_id in static_lists
    ]
    return assets
