"""After an erasure: every exported version whose files hold an erased address is written again from the
already erased history, so no export keeps what the warehouse no longer has (DESIGN 6.4)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from assets.erasure.address_scan import erased_rows, tombstone_hashes, values_sql
from assets.exports.files import AtomicWriter, exported_versions, read_manifest
from assets.exports.versions import ExportTarget, export_folders, publish_latest, write_version
from pipelines.config import ContactsConfig
from pipelines.warehouse.connection import registered
from pipelines.warehouse.tombstones import erasure_salt


def regenerate_after_erasure(con, config: ContactsConfig, data_dir: Path) -> list[Path]:
    """Rewrite every exported version whose files hold an erased address (matched by its salted hash, so
    no address needs to be kept for this), from the already erased history."""
    rewritten = []
    salt, tombstones = erasure_salt(con), tombstone_hashes(con)
    for kind in ("segments", "lists"):
        root = data_dir / "exports" / kind
        for export in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
            target = ExportTarget(kind, export.name)
            latest = read_manifest(export, "latest.manifest.json")
            for folder in export_folders(export):
                writer = AtomicWriter(folder)
                for version in exported_versions(folder):
                    if not _holds_erased(con, folder, version, salt, tombstones):
                        continue
                    manifest = read_manifest(folder, f"v{version}.manifest.json")
                    as_of = (
                        dt.date.fromisoformat(manifest["as_of_date"]) if manifest.get("as_of_date") else None
                    )
                    write_version(
                        con,
                        config,
                        target,
                        folder,
                        version,
                        manifest.get("previous_version"),
                        as_of,
                        manifest.get("sql_sha256"),
                        writer,
                        backfill=bool(manifest.get("backfill")),
                    )
                    if folder == export and latest and latest["version"] == version:
                        publish_latest(folder, version, writer)
                    rewritten.append(folder / f"v{version}")
    return rewritten


def _holds_erased(con, folder: Path, version: int, salt: str, tombstones: set[str]) -> bool:
    """Whether any text of a version's files holds an erased address: the member's own, or one that a
    neighbour's field quoted (erasure removed that row too)."""
    frames = [pl.read_parquet(folder / f"v{version}.parquet")]
    for label in ("added", "removed"):
        path = folder / f"v{version}.{label}.csv"
        if path.exists():
            frames.append(pl.read_csv(path, infer_schema=False))
    for frame in frames:
        columns = frame.columns
        with registered(con, "_export", frame.with_row_index("_rid")):
            if erased_rows(con, values_sql("_export", columns, "_rid"), salt, tombstones):
                return True
    return False
