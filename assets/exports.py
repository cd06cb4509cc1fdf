"""Exports (DESIGN 9): files that sending tools can trust, per segment and static list, per version.

`data/exports/<segments|lists>/<id>/` holds, for each exported version V, `vV.csv`, `vV.parquet`,
`vV.jsonl`, `vV.added.csv`, `vV.removed.csv` (against the previous exported version) and
`vV.manifest.json`, plus `latest.*`: hard links to the newest version's files. Rows are rebuilt from the versioned history
(`*_history` at V), so a version can be regenerated exactly, which erasure relies on.

Every file is written to a temporary name and renamed into place; a version's manifest is written after its
files, and `latest.*` after the manifest, so a crash leaves the previous export intact. CSV cells that
begin with = + - @ TAB or CR are prefixed with ' (OWASP CSV injection); Parquet and JSON keep raw values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from assets.address_scan import erased_rows, row_tokens_sql, tombstone_hashes
from pipelines.config import ContactsConfig
from pipelines.warehouse import erasure_salt, has_tombstones, registered

FORMULA_START = r"^[=+\-@\t\r]"
VERSION_FILE = re.compile(r"^v(\d+)\.manifest\.json$")
DATA_FILES = ("csv", "parquet", "jsonl")
BACKFILL_DIR = "backfill"
CRASH_HOOK = "CONTACTS_TEST_CRASH_AFTER_EXPORT_FILES"  # tests: die after writing this many files


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


def neutralise(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Text for the CSV: lists joined with commas, formula-looking cells prefixed with '."""
    columns = []
    for name, dtype in frame.collect_schema().items():
        column = pl.col(name)
        if isinstance(dtype, pl.List):
            column = column.list.join(",")
        elif dtype != pl.Utf8:
            columns.append(column)
            continue
        columns.append(
            pl.when(column.str.contains(FORMULA_START))
            .then(pl.lit("'") + column)
            .otherwise(column)
            .alias(name)
        )
    return frame.select(columns)


def write_csv(frame: pl.DataFrame, path: Path) -> None:
    # Streamed to the file in batches: an export of millions of rows is never held as one string.
    neutralise(frame.lazy()).sink_csv(
        path, quote_style="necessary", line_terminator="\r\n", date_format="%Y-%m-%d"
    )


FILE_WRITERS: dict[str, Callable[[pl.DataFrame, Path], None]] = {
    "csv": write_csv,
    "parquet": lambda frame, path: frame.write_parquet(path),
    "jsonl": lambda frame, path: frame.write_ndjson(path),
}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class PendingFile:
    """A file written under its temporary name, not yet in place."""

    name: str
    temporary: Path
    sha256: str


class AtomicWriter:
    """Write each file to a hidden temporary name, then rename it into place."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.written = 0
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.glob(".*.tmp"):
            leftover.unlink()

    def write(self, name: str, data: bytes) -> str:
        temporary = self.folder / f".{name}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return self._into_place(temporary, name)

    def stage(self, name: str, produce: Callable[[Path], None]) -> PendingFile:
        """Let `produce` write the file at its temporary name; flushed to disk and hashed, not yet in place."""
        temporary = self.folder / f".{name}.tmp"
        produce(temporary)
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        return PendingFile(name, temporary, file_sha256(temporary))

    def commit(self, staged: PendingFile) -> str:
        return self._into_place(staged.temporary, staged.name)

    def link(self, name: str, source: str) -> str:
        """`name` becomes another name for the already written file `source` (a copy where the file system
        has no hard links). Files are only ever replaced, never changed in place, so the two cannot drift."""
        temporary = self.folder / f".{name}.tmp"
        temporary.unlink(missing_ok=True)
        try:
            os.link(self.folder / source, temporary)
        except OSError:
            return self.write(name, (self.folder / source).read_bytes())
        return self._into_place(temporary, name)

    def _into_place(self, temporary: Path, name: str) -> str:
        os.replace(temporary, self.folder / name)
        self.written += 1
        crash_after = os.environ.get(CRASH_HOOK)
        if crash_after and self.written >= int(crash_after):
            os._exit(137)  # test hook: die like a killed process, mid-export
        return name


def exported_versions(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := VERSION_FILE.match(p.name)))


def read_manifest(folder: Path, name: str) -> dict | None:
    path = folder / name
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


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
    before = rows_at(con, config, target, previous) if previous is not None else current.clear()
    added = current.filter(~pl.col("contact_id").is_in(before.get_column("contact_id").implode()))
    removed = before.filter(~pl.col("contact_id").is_in(current.get_column("contact_id").implode()))
    hashes = {}
    for extension, produce in FILE_WRITERS.items():
        if extension == "csv" and staged_csv is not None:
            staged = staged_csv
        else:
            staged = writer.stage(
                f"v{version}.{extension}", lambda path, produce=produce: produce(current, path)
            )
        hashes[writer.commit(staged)] = staged.sha256
    for label, frame in (("added", added), ("removed", removed)):
        staged = writer.stage(f"v{version}.{label}.csv", lambda path, frame=frame: write_csv(frame, path))
        hashes[writer.commit(staged)] = staged.sha256
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


def export_target(
    con, config: ContactsConfig, data_dir: Path, target: ExportTarget, sql_sha256: str | None = None
) -> ExportResult:
    """Export the current version when its rows differ from the latest export."""
    version_row = con.execute(
        "select version, as_of_date from versions order by version desc limit 1"
    ).fetchall()
    if not version_row:
        return ExportResult(None, 0, [])
    version, as_of = version_row[0]
    folder = target.folder(data_dir)
    writer = AtomicWriter(folder)
    latest = read_manifest(folder, "latest.manifest.json")
    if latest and latest["version"] == version:
        return ExportResult(None, latest["row_count"], sorted(latest["files"]))
    if latest and as_of and latest.get("as_of_date") and as_of < dt.date.fromisoformat(latest["as_of_date"]):
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
        with _registered(con, frame.with_row_index("_rid")):
            if erased_rows(con, row_tokens_sql("_export", columns, "_rid"), salt, tombstones):
                return True
    return False


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
