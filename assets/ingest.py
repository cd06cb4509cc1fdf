"""Contact-file ingest: discover inbox files, record each in the ledger, validate and stage its rows.

Each file is applied in one transaction (ledger row, rejects, field issues, staged rows), so a file that
fails half-way leaves the warehouse as it was. The ledger is keyed by (path, content hash): a file seen
before is skipped, so re-running or re-dropping a file changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb

from assets.headers import BUILTIN_ALIASES, BUILTIN_FIELDS, map_header
from assets.manifest import Manifest, hold_reason, manifest_path_for, parse_manifest
from assets.readers import FileFailed, data_suffix, read_file
from assets.staging import stage_file
from assets.validation import EmailValidatorCache
from pipelines.config import ConfigError, ContactsConfig
from pipelines.warehouse import transaction

KIND_CONTACTS = "contacts"


@dataclass(frozen=True)
class FileOutcome:
    file_id: int
    path: str
    status: str
    reason: str | None = None
    rows_total: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0


def discover_files(inbox: Path) -> list[Path]:
    """Data files in the inbox folder, in name order (the ledger order). Manifests and hidden files are not data."""
    if not inbox.is_dir():
        return []
    return sorted(
        path
        for path in inbox.iterdir()
        if path.is_file() and not path.name.startswith(".") and not path.name.lower().endswith((".yaml", ".yml"))
    )


def content_hash(data: bytes, manifest: bytes | None) -> str:
    digest = hashlib.sha256(data)
    digest.update(b"\x00manifest\x00" + (manifest if manifest is not None else b"\x00none"))
    return digest.hexdigest()


def _next_file_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("select coalesce(max(file_id), 0) + 1 from import_files").fetchone()[0]


def _record_unapplied(con, existing_id, path, sha, status, reason, now, manifest: Manifest | None) -> int:
    """Ledger row for a held, failed or skipped file; rewritten in place when a retry gives a new reason."""
    if existing_id is not None:
        con.execute(
            "update import_files set status = ?, reason = ?, loaded_at = ? where file_id = ? and (status, reason) is distinct from (?, ?)",
            [status, reason, now, existing_id, status, reason],
        )
        return existing_id
    file_id = _next_file_id(con)
    con.execute(
        """insert into import_files (file_id, path, kind, sha256, status, reason, loaded_at, mode, source, lists)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [file_id, path, KIND_CONTACTS, sha, status, reason, now,
         manifest.mode if manifest else None, manifest.source if manifest else None,
         manifest.lists if manifest else None],
    )
    return file_id


def no_email_column_reason(header: list[str]) -> str:
    shown = ", ".join(repr(cell) for cell in header[:10]) or "none"
    aliases = ", ".join(BUILTIN_ALIASES["email"])
    return f"no email column: headers are {shown}; expected one of {aliases}, or map one with `columns:` in the manifest"


def ingest_contact_files(
    con: duckdb.DuckDBPyConnection,
    data_dir: Path,
    inbox: Path,
    config: ContactsConfig,
    cache: EmailValidatorCache,
    now: dt.datetime,
    log: logging.Logger,
) -> list[FileOutcome]:
    known_fields = set(BUILTIN_FIELDS) | set(config.fields)
    outcomes = []
    files = discover_files(inbox)
    for position, path in enumerate(files, start=1):
        relative = path.relative_to(data_dir).as_posix() if path.is_relative_to(data_dir) else str(path)
        data = path.read_bytes()
        manifest_file = manifest_path_for(path)
        manifest_bytes = manifest_file.read_bytes() if manifest_file.is_file() else None
        sha = content_hash(data, manifest_bytes)

        seen = con.execute(
            "select file_id, status from import_files where path = ? and sha256 = ?", [relative, sha]
        ).fetchone()
        if seen and seen[1] in ("loaded", "skipped"):
            continue
        existing_id = seen[0] if seen else None
        twin = con.execute(
            "select file_id, path from import_files where sha256 = ? and status = 'loaded' order by file_id limit 1", [sha]
        ).fetchone()
        if twin:
            reason = f"same content as {twin[1]} (file {twin[0]}), already loaded"
            file_id = _record_unapplied(con, existing_id, relative, sha, "skipped", reason, now, None)
            outcomes.append(FileOutcome(file_id, relative, "skipped", reason))
            log.info("[%d/%d] %s: skipped, %s", position, len(files), relative, reason)
            continue

        manifest: Manifest | None = None
        try:
            if data_suffix(path) is None:
                raise FileFailed(f"unsupported file type {path.name!r}: expected .csv, .tsv, .txt, .parquet, .jsonl or .ndjson, optionally .gz")
            if manifest_bytes is not None:
                manifest = parse_manifest(manifest_file, config, known_fields)
            reason = hold_reason(manifest)
            if reason:
                file_id = _record_unapplied(con, existing_id, relative, sha, "held", reason, now, manifest)
                outcomes.append(FileOutcome(file_id, relative, "held", reason))
                log.warning("[%d/%d] %s: held, %s", position, len(files), relative, reason)
                continue
            outcome = _load_file(con, path, relative, data, sha, existing_id, manifest, config, cache, now)
        except (ConfigError, FileFailed) as exc:
            reason = str(exc)
            file_id = _record_unapplied(con, existing_id, relative, sha, "failed", reason, now, manifest)
            outcomes.append(FileOutcome(file_id, relative, "failed", reason))
            log.error("[%d/%d] %s: failed, %s", position, len(files), relative, reason)
            continue
        outcomes.append(outcome)
        log.info(
            "[%d/%d] %s: loaded %d rows (%d accepted, %d rejected)",
            position, len(files), relative, outcome.rows_total, outcome.rows_accepted, outcome.rows_rejected,
        )
    return outcomes


def _load_file(con, path, relative, data, sha, existing_id, manifest, config, cache, now) -> FileOutcome:
    parsed = read_file(path, data)
    mapping = map_header(parsed.header, list(config.fields), manifest.columns)
    if "email" not in mapping.field_to_index:
        raise FileFailed(no_email_column_reason(parsed.header))
    with transaction(con):
        file_id = existing_id if existing_id is not None else _next_file_id(con)
        staged = stage_file(parsed, mapping, file_id, config, cache, now)
        accepted, rejected = staged.rows.height, staged.rejects.height
        if accepted + rejected != parsed.rows_total:
            raise AssertionError(f"{relative}: {parsed.rows_total} rows read but {accepted} + {rejected} staged")
        con.execute("delete from import_files where file_id = ?", [file_id])
        con.execute(
            """insert into import_files (file_id, path, kind, sha256, status, reason, encoding, delimiter,
                   rows_total, rows_accepted, rows_rejected, loaded_at, mode, source, lists, ignored_columns)
               values (?, ?, ?, ?, 'loaded', null, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [file_id, relative, KIND_CONTACTS, sha, parsed.encoding, parsed.delimiter, parsed.rows_total,
             accepted, rejected, now, manifest.mode, manifest.source, manifest.lists, mapping.ignored],
        )
        for table, frame in (("staging.contact_rows", staged.rows), ("rejected_rows", staged.rejects), ("field_issues", staged.field_issues)):
            if frame.height:
                con.register("_batch", frame)
                con.execute(f"insert into {table} by name select * from _batch")
                con.unregister("_batch")
    return FileOutcome(file_id, relative, "loaded", None, parsed.rows_total, accepted, rejected)
