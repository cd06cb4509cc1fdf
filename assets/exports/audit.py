"""Export files checked against the warehouse: the audit behind the export asset checks, and the rewrite of
every exported version that holds an erased address.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from assets.exports.files import DATA_FILES, exported_versions, file_sha256, read_manifest
from pipelines.warehouse.connection import registered
from pipelines.warehouse.tombstones import has_tombstones


class FileHashes:
    """SHA-256 of export files, each computed once per content: a file whose size, modification and
    status-change times and inode are those it had when last hashed still has that hash (rewriting a file,
    replacing or renaming one changes its status-change time, which no tool sets back). Kept in
    `staging.verified_files`, so that a daily run does not read every kept version of every export again."""

    def __init__(self, con, folder: Path) -> None:
        self.con = con
        self.prefix = f"{folder.resolve()}/"
        self.known = {
            path: (stat, sha256)
            for path, stat, sha256 in con.execute(
                "select path, stat, sha256 from staging.verified_files where starts_with(path, ?)",
                [self.prefix],
            ).fetchall()
        }
        self.seen: dict[str, tuple[str, str]] = {}

    def sha256(self, path: Path) -> str | None:
        key = f"{self.prefix}{path.name}"
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        fingerprint = f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}"
        known = self.known.get(key)
        digest = known[1] if known and known[0] == fingerprint else file_sha256(path)
        self.seen[key] = (fingerprint, digest)
        return digest

    def save(self) -> None:
        """Keep what was hashed this time, and forget files that are gone (retention, a removed export)."""
        if self.seen == self.known:
            return
        self.con.execute("delete from staging.verified_files where starts_with(path, ?)", [self.prefix])
        self.con.executemany(
            "insert into staging.verified_files values (?, ?, ?)",
            [[key, stat, digest] for key, (stat, digest) in self.seen.items()],
        )


def audit_export(con, folder: Path, salt: str | None) -> dict[str, list[str]]:
    """Problems of one export folder: manifests whose files are missing or changed, and suppressed or
    erased contacts in a mailable export."""
    problems: dict[str, list[str]] = {"manifest_mismatch": [], "not_mailable": []}
    hashes = FileHashes(con, folder)
    for version in exported_versions(folder):
        manifest = read_manifest(folder, f"v{version}.manifest.json")
        for name, digest in manifest["files"].items():
            if hashes.sha256(folder / name) != digest:
                problems["manifest_mismatch"].append(name)
        data = folder / f"v{version}.parquet"
        if data.exists() and pl.scan_parquet(data).select(pl.len()).collect().item() != manifest["row_count"]:
            problems["manifest_mismatch"].append(f"v{version}.parquet row count")
    latest = read_manifest(folder, "latest.manifest.json")
    if latest:
        for extension in DATA_FILES:
            path = folder / f"latest.{extension}"
            expected = latest["files"].get(f"v{latest['version']}.{extension}")
            # a version exported before its format existed (XML) has no such file, nor a latest.* of it
            if (expected or path.exists()) and hashes.sha256(path) != expected:
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
    hashes.save()
    return problems


def _registered(con, frame):
    return registered(con, "_export", frame)
