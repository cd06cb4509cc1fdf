"""Export files checked against the warehouse: the audit behind the export asset checks, and the rewrite of
every exported version that holds an erased address.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from assets.exports.files import DATA_FILES, exported_versions, file_sha256, read_manifest
from pipelines.warehouse.connection import registered
from pipelines.warehouse.tombstones import has_tombstones


def audit_export(con, folder: Path, salt: str | None) -> dict[str, list[str]]:
    """Problems of one export folder: manifests whose files are missing or changed, and suppressed or
    erased contacts in a mailable export."""
    problems: dict[str, list[str]] = {"manifest_mismatch": [], "not_mailable": []}
    for version in exported_versions(folder):
        manifest = read_manifest(folder, f"v{version}.manifest.json")
        for name, digest in manifest["files"].items():
            path = folder / name
            if not path.exists() or file_sha256(path) != digest:
                problems["manifest_mismatch"].append(name)
        data = folder / f"v{version}.parquet"
        if data.exists() and pl.scan_parquet(data).select(pl.len()).collect().item() != manifest["row_count"]:
            problems["manifest_mismatch"].append(f"v{version}.parquet row count")
    latest = read_manifest(folder, "latest.manifest.json")
    if latest:
        for extension in DATA_FILES:
            path = folder / f"latest.{extension}"
            if not path.exists() or file_sha256(path) != latest["files"][f"v{latest['version']}.{extension}"]:
                problems["manifest_mismatch"].append(path.name)
        frame = pl.scan_parquet(folder / "latest.parquet").select("email").collect()
        with _registered(con, frame):
            suppressed = (
                con.execute(
                    "select count(*) from _export where email in (select email from suppressions where email is not null)"
                ).fetchall()[0][0]
                if latest["mailable_only"]
                else 0
            )
            erased = (
                con.execute(
                    "select count(*) from _export where sha256($salt || email) in (select email_sha256 from suppressions where reason = 'erased')",
                    {"salt": salt or ""},
                ).fetchall()[0][0]
                if has_tombstones(con)
                else 0
            )
        if suppressed or erased:
            problems["not_mailable"].append(f"latest: {suppressed} suppressed, {erased} erased")
    return problems


def _registered(con, frame):
    return registered(con, "_export", frame)
