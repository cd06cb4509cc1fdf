"""Exports (DESIGN 9): files that sending tools can trust, per segment and static list, per version.

`data/exports/<segments|lists>/<id>/` holds, for each exported version V, `vV.csv`, `vV.parquet`,
`vV.jsonl`, `vV.xml`, `vV.added.csv`, `vV.removed.csv` (against the previous exported version) and
`vV.manifest.json`, plus `latest.*`: hard links to the newest version's files. Rows are rebuilt from the versioned history
(`*_history` at V), so a version can be regenerated exactly, which erasure relies on; the diffs of a new version
read the previous version back from its Parquet file when its hash is the manifest's.

Every file is written to a temporary name and renamed into place; a version's manifest is written after its
files, and `latest.*` after the manifest, so a crash leaves the previous export intact. CSV cells that
begin with = + - @ TAB or CR are prefixed with ' (OWASP CSV injection); Parquet, JSON Lines and XML keep raw
values. The diffs are CSV only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import duckdb
import polars as pl

from assets.exports.files import (
    DATA_FILES,
    FILE_WRITERS,
    AtomicWriter,
    PendingFile,
    exported_versions,
    file_sha256,
    read_manifest,
    write_csv,
    write_xml,
)
from pipelines.config import ContactsConfig

BACKFILL_DIR = "backfill"


@dataclass(frozen=True)
class ExportTarget:
    kind: str  # 'segments' | 'lists'
    export_id: str

    def folder(self, data_dir: Path) -> Path:
        return data_dir / "exports" / self.kind / self.export_id


@dataclass(frozen=True)
class ExportResult:
    version: int | None  # None: nothing new to export
    rows: int
    files: list[str]
    backfill: bool = False  # written under backfill/<as_of>/, latest unchanged


def includes_non_mailable(config: ContactsConfig, target: ExportTarget) -> bool:
    return config.exports.include_non_mailable or target.export_id in config.exports.audit


def rows_at(
    con: duckdb.DuckDBPyConnection, config: ContactsConfig, target: ExportTarget, version: int
) -> pl.DataFrame:
    """The export's rows as of a version: one per (mailable, unless audit) member, ordered by contact_id."""
    members = (
        "select contact_id from segment_members_at($id, $v)"
        if target.kind == "segments"
        else "select contact_id from list_members_at($id, $v)"
    )
    custom = "".join(f', c."{name}"' for name in config.fields)
    audit = includes_non_mailable(config, target)
    sql = f"""
        with members as ({members}),
        memberships as (
            select contact_id, list(list_id order by list_id) as lists
            from list_members_history
            where valid_from_version <= $v and (valid_to_version is null or valid_to_version > $v)
              and list_id in (select list_id from staging.list_catalog where kind in ('static', 'test'))
              and contact_id in (select contact_id from members)
            group by contact_id
        )
        select c.contact_id, c.email, c.first_name, c.last_name, c.tags{custom},
               coalesce(m.lists, []::varchar[]) as lists{", c.status" if audit else ""}
        from contacts_at($v) c
        join members using (contact_id)
        left join memberships m using (contact_id)
        where {"true" if audit else "c.status = 'subscribed'"}
        order by c.contact_id
    """
    return con.sql(sql, params={"id": target.export_id, "v": version}).pl()


def data_writers(
    config: ContactsConfig, target: ExportTarget, version: int
) -> dict[str, Callable[[pl.DataFrame, Path], None]]:
    """The writer of each data file of a version, in DATA_FILES' order (the XML names its export and version)."""
    fields = {name: field.type for name, field in config.fields.items()}
    export = f"{target.kind}/{target.export_id}"
    writers = {**FILE_WRITERS, "xml": partial(write_xml, export=export, version=version, fields=fields)}
    return {extension: writers[extension] for extension in DATA_FILES}


def previous_rows(
    con,
    config: ContactsConfig,
    target: ExportTarget,
    folder: Path,
    previous: int | None,
    current: pl.DataFrame,
) -> pl.DataFrame:
    """The rows of the previous exported version, for the added and removed files: read back from its Parquet
    file when that is the file its manifest names (same SHA-256) with today's columns and types, which is
    rows_at(previous) as written (erasure rewrites both together); otherwise computed from the history again."""
    if previous is None:
        return current.clear()
    manifest = read_manifest(folder, f"v{previous}.manifest.json")
    path = folder / f"v{previous}.parquet"
    if manifest and path.exists() and manifest["files"].get(path.name) == file_sha256(path):
        stored = pl.read_parquet(path)
        if stored.schema == current.schema:
            return stored
    return rows_at(con, config, target, previous)


def write_version(
    con: duckdb.DuckDBPyConnection,
    config: ContactsConfig,
    target: ExportTarget,
    folder: Path,
    version: int,
    previous: int | None,
    as_of: dt.date | None,
    sql_sha256: str | None,
    writer: AtomicWriter,
    current: pl.DataFrame | None = None,
    staged_csv: PendingFile | None = None,
    backfill: bool = False,
) -> dict:
    """All files of one version, then its manifest; returns the manifest. `current` and `staged_csv`: the
    version's rows and its CSV file, when the caller has them already."""
    current = rows_at(con, config, target, version) if current is None else current
    before = previous_rows(con, config, target, folder, previous, current)
    added = current.filter(~pl.col("contact_id").is_in(before.get_column("contact_id").implode()))
    removed = before.filter(~pl.col("contact_id").is_in(current.get_column("contact_id").implode()))
    writers = data_writers(config, target, version)
    order = [f"v{version}.{extension}" for extension in writers]  # data files, then the diffs
    produce = {
        name: (lambda path, write=write: write(current, path))
        for name, write in zip(order, writers.values(), strict=True)
    }
    for label, frame in (("added", added), ("removed", removed)):
        order.append(f"v{version}.{label}.csv")
        produce[order[-1]] = lambda path, frame=frame: write_csv(frame, path)
    staged = {staged_csv.name: staged_csv} if staged_csv is not None else {}
    todo = [name for name in order if name not in staged]
    # polars' writers and the hashing release the GIL: the files of a big export are written side by side.
    with ThreadPoolExecutor(max(1, min(len(todo), os.cpu_count() or 1))) as pool:
        staged |= dict(zip(todo, pool.map(lambda name: writer.stage(name, produce[name]), todo), strict=True))
    hashes = {}
    for name in order:  # into place in a fixed order; the manifest after them
        hashes[writer.commit(staged[name])] = staged[name].sha256
    manifest = {
        "export": f"{target.kind}/{target.export_id}",
        "version": version,
        "previous_version": previous,
        "as_of_date": as_of.isoformat() if as_of else None,
        "row_count": current.height,
        "added": added.height,
        "removed": removed.height,
        "columns": current.columns,
        "mailable_only": not includes_non_mailable(config, target),
        "sql_sha256": sql_sha256,
        "backfill": backfill,  # a day before the newest export, under backfill/<as_of>/; latest never points at it
        "files": hashes,
    }
    writer.write(f"v{version}.manifest.json", json.dumps(manifest, indent=2).encode("utf-8"))
    return manifest


def publish_latest(folder: Path, version: int, writer: AtomicWriter) -> None:
    """Point latest.* at version V's files (hard links: no second copy of a big export), the manifest last."""
    for extension in DATA_FILES:
        writer.link(f"latest.{extension}", f"v{version}.{extension}")
    writer.link("latest.manifest.json", f"v{version}.manifest.json")


def apply_retention(folder: Path, keep: int) -> list[int]:
    """Delete the files of all but the newest `keep` versions; the newest (latest) is always kept."""
    versions = exported_versions(folder)
    dropped = versions[: max(0, len(versions) - max(keep, 1))]
    for version in dropped:
        (folder / f"v{version}.manifest.json").unlink()  # first: the version stops being listed
        for path in folder.glob(f"v{version}.*"):
            path.unlink()
    return dropped


def backfill_folder(folder: Path, as_of: dt.date) -> Path:
    return folder / BACKFILL_DIR / as_of.isoformat()


def export_folders(folder: Path) -> list[Path]:
    """An export's folder and its dated backfill folders: every place its files are."""
    backfills = folder / BACKFILL_DIR
    return [folder, *sorted(p for p in backfills.iterdir() if p.is_dir())] if backfills.is_dir() else [folder]


def export_backfill(
    con,
    config: ContactsConfig,
    target: ExportTarget,
    folder: Path,
    version: int,
    as_of: dt.date,
    sql_sha256: str | None,
) -> ExportResult:
    """A run for a day before the newest export (a backfill) writes that day's files under
    `backfill/<as_of>/`, marked so in the manifest, and never touches `latest.*` or the version sequence a
    sending tool reads: an old day must not replace today's audience."""
    writer = AtomicWriter(backfill_folder(folder, as_of))
    manifest = write_version(
        con, config, target, writer.folder, version, None, as_of, sql_sha256, writer, backfill=True
    )
    return ExportResult(version, manifest["row_count"], sorted(manifest["files"]), backfill=True)


def newest_version(con) -> tuple[int, dt.date | None] | None:
    rows = con.execute("select version, as_of_date from versions order by version desc limit 1").fetchall()
    return rows[0] if rows else None


def before_latest(as_of: dt.date | None, latest: dict | None) -> bool:
    """Whether a version as of `as_of` is for a day before the latest export's: it is written as a backfill."""
    return bool(
        as_of and latest and latest.get("as_of_date") and as_of < dt.date.fromisoformat(latest["as_of_date"])
    )


def would_backfill(con, folder: Path) -> bool:
    """Whether export_target would write a backfill: the newest version is as of a day before the latest export's."""
    newest = newest_version(con)
    return bool(newest) and before_latest(newest[1], read_manifest(folder, "latest.manifest.json"))


def latest_export(folder: Path) -> dict | None:
    """What the export folder's latest version is: its version and the hashes of its files."""
    latest = read_manifest(folder, "latest.manifest.json")
    return {"version": latest["version"], "files": latest["files"]} if latest else None


def export_target(
    con, config: ContactsConfig, data_dir: Path, target: ExportTarget, sql_sha256: str | None = None
) -> ExportResult:
    """Export the current version when its rows differ from the latest export."""
    version_row = newest_version(con)
    if not version_row:
        return ExportResult(None, 0, [])
    version, as_of = version_row
    folder = target.folder(data_dir)
    writer = AtomicWriter(folder)
    latest = read_manifest(folder, "latest.manifest.json")
    if latest and latest["version"] == version:
        return ExportResult(None, latest["row_count"], sorted(latest["files"]))
    if before_latest(as_of, latest):
        return export_backfill(con, config, target, folder, version, as_of, sql_sha256)
    current = rows_at(con, config, target, version)
    candidate = writer.stage(f"v{version}.csv", lambda path: write_csv(current, path))
    if (
        latest
        and latest["files"].get(f"v{latest['version']}.csv") == candidate.sha256
        and latest.get("sql_sha256") == sql_sha256
    ):
        candidate.temporary.unlink()
        return ExportResult(None, latest["row_count"], sorted(latest["files"]))
    manifest = write_version(
        con,
        config,
        target,
        folder,
        version,
        latest["version"] if latest else None,
        as_of,
        sql_sha256,
        writer,
        current,
        candidate,
    )
    publish_latest(folder, version, writer)
    apply_retention(folder, config.exports.keep_versions)
    return ExportResult(version, manifest["row_count"], sorted(manifest["files"]))
