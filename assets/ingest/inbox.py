"""Inbox ingest: discover files, record each in the ledger, validate and stage its rows.

The three inbox folders share one path: contact files (with a manifest), event files and erasure
requests. Each file is applied in one transaction (ledger row, rejects, field issues, staged rows), so a
file that fails half-way leaves the warehouse as it was. The ledger is keyed by (path, content hash): a
file seen before is skipped, so re-running or re-dropping a file changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from assets.ingest.event_loading import load_event_rows
from assets.ingest.headers import BUILTIN_FIELDS, contact_aliases, map_header
from assets.ingest.manifest import Manifest, hold_reason, manifest_path_for, parse_manifest
from assets.ingest.parsed_file import FileFailed, ParsedFile
from assets.ingest.read_ahead import ReadAhead, ReadFile, read_and_parse, small_enough_to_read_ahead
from assets.ingest.read_limits import sha256_of
from assets.ingest.readers import data_suffix
from assets.validation.contact_rows import (
    ISSUE_SCHEMA,
    REJECT_ERASED,
    REJECT_SCHEMA,
    StagedFile,
    address_frame,
    build_rejects,
    repair_issues,
    stage_file,
)
from assets.validation.emails import EmailValidatorCache
from assets.validation.event_rows import EVENT_ALIASES
from pipelines.config import ConfigError, ContactsConfig
from pipelines.crash_points import crash_point
from pipelines.warehouse.connection import registered, transaction
from pipelines.warehouse.tombstones import erasure_salt, has_tombstones
from pipelines.wording import counted

KIND_CONTACTS = "contacts"
KIND_EVENTS = "events"
KIND_ERASURE = "erasure"
STAGED_TABLES = {KIND_CONTACTS: "staging.contact_rows", KIND_EVENTS: "staging.event_rows"}


@dataclass(frozen=True)
class FileOutcome:
    file_id: int
    path: str
    kind: str
    status: str
    reason: str | None = None
    rows_total: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0


@dataclass
class IngestContext:
    """What every file of a run shares."""

    con: duckdb.DuckDBPyConnection
    data_dir: Path
    config: ContactsConfig
    cache: EmailValidatorCache
    now: dt.datetime
    log: logging.Logger
    erased: set[str] = field(default_factory=set)  # addresses erased in this run, as counted in the log
    erased_forms: set[str] = field(
        default_factory=set
    )  # their Unicode and IDNA spellings, lower case, for the inbox scan

    def __post_init__(self) -> None:
        self.use(self.con)

    def use(self, con: duckdb.DuckDBPyConnection) -> None:
        """Work on another connection to the warehouse (e.g. after the file was rewritten)."""
        self.con = con
        self.cache.attach(con)  # email-validator's verdicts are kept in the warehouse across runs


def discover_files(inbox: Path) -> list[Path]:
    """Data files in an inbox folder, in name order (the ledger order). Manifests and hidden files are not data."""
    if not inbox.is_dir():
        return []
    return sorted(
        path
        for path in inbox.iterdir()
        if path.is_file()
        and not path.name.startswith(".")
        and not path.name.lower().endswith((".yaml", ".yml"))
    )


def content_hash(data: bytes | hashlib._Hash, manifest: bytes | None) -> str:
    """The ledger's hash of a file with its manifest; `data`: the file's bytes, or their running SHA-256."""
    digest = hashlib.sha256(data) if isinstance(data, bytes) else data.copy()
    digest.update(b"\x00manifest\x00" + (manifest if manifest is not None else b"\x00none"))
    return digest.hexdigest()


def _next_file_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("select coalesce(max(file_id), 0) + 1 from import_files").fetchone()[0]


def _record_unapplied(ctx, kind, existing_id, path, sha, status, reason, manifest: Manifest | None) -> int:
    """Ledger row for a held, failed or skipped file; rewritten in place when a retry gives a new reason."""
    if existing_id is not None:
        ctx.con.execute(
            "update import_files set status = ?, reason = ?, loaded_at = ? where file_id = ? and (status, reason) is distinct from (?, ?)",
            [status, reason, ctx.now, existing_id, status, reason],
        )
        return existing_id
    file_id = _next_file_id(ctx.con)
    ctx.con.execute(
        """insert into import_files (file_id, path, kind, sha256, status, reason, loaded_at, mode, source, lists)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            file_id,
            path,
            kind,
            sha,
            status,
            reason,
            ctx.now,
            manifest.mode if manifest else None,
            manifest.source if manifest else None,
            manifest.lists if manifest else None,
        ],
    )
    return file_id


def no_email_column_reason(header: list[str], aliases: tuple[str, ...]) -> str:
    if any("@" in cell for cell in header):
        # A header-less file: its first row is data. The reason lands in logs, so it must not quote it.
        return "no email column: the first row holds an address, so the file seems to lack a header row; add one (e.g. `email,first_name`)"
    shown = ", ".join(repr(cell) for cell in header[:10]) or "none"
    return f"no email column: headers are {shown}; expected one of {', '.join(aliases)}, or map one with `columns:` in the manifest"


def _stage_contacts(parsed, mapping, file_id, ctx: IngestContext) -> StagedFile:
    return stage_file(parsed, mapping, file_id, ctx.config, ctx.cache, ctx.now)


def ingest_folder(
    ctx: IngestContext,
    inbox: Path,
    kind: str,
    apply: Callable[[IngestContext, StagedFile, int], None] | None = None,
) -> list[FileOutcome]:
    """Ingest every new file of one inbox folder. `apply` runs inside a file's transaction (erasure uses it)."""
    outcomes = []
    files = discover_files(inbox)
    with ReadAhead(ctx.config.limits) as ahead:
        for position, path in enumerate(files, start=1):
            upcoming = files[position] if position < len(files) else None
            if (
                upcoming is not None
                and small_enough_to_read_ahead(upcoming)
                and _likely_to_load(ctx, upcoming, kind)
            ):
                ahead.start(upcoming)
            outcome = _ingest_one(ctx, path, kind, apply, ahead.take(path))
            if outcome is not None:
                outcomes.append(outcome)
                _log_outcome(ctx, outcome, position, len(files))
    return outcomes


def ledger_path(ctx: IngestContext, path: Path) -> str:
    """How the ledger names a file: relative to the data directory when it lies under it."""
    return path.relative_to(ctx.data_dir).as_posix() if path.is_relative_to(ctx.data_dir) else str(path)


def _likely_to_load(ctx: IngestContext, path: Path, kind: str) -> bool:
    """Worth reading ahead: a data file the ledger has not loaded or skipped under this path (and, for a
    contact file, with its manifest). A wrong guess only costs a parse or a missed overlap."""
    if data_suffix(path) is None or (kind == KIND_CONTACTS and not manifest_path_for(path).is_file()):
        return False
    done = ctx.con.execute(
        "select count(*) from import_files where path = ? and status in ('loaded', 'skipped')",
        [ledger_path(ctx, path)],
    ).fetchall()[0][0]
    return done == 0


def _log_outcome(ctx: IngestContext, outcome: FileOutcome, position: int, total: int) -> None:
    counts = f" {counted(outcome.rows_total, 'row')} ({outcome.rows_accepted} accepted, {outcome.rows_rejected} rejected)"
    message = f"[{position}/{total}] {outcome.path}: {outcome.status}" + (
        counts if outcome.status == "loaded" else f", {outcome.reason}"
    )
    level = {"failed": logging.ERROR, "held": logging.WARNING}.get(outcome.status, logging.INFO)
    ctx.log.log(level, message)


def _ingest_one(
    ctx: IngestContext, path: Path, kind: str, apply, prefetched: ReadFile | None = None
) -> FileOutcome | None:
    con = ctx.con
    relative = ledger_path(ctx, path)
    # Hashed as a stream, so a file too big to read is still named in the ledger; the hash recorded for a
    # file that is parsed is that of the bytes parsed (read ahead, or read below).
    digest = prefetched.digest if prefetched is not None else sha256_of(path)
    manifest_file = manifest_path_for(path)
    uses_manifest = kind == KIND_CONTACTS
    manifest_bytes = manifest_file.read_bytes() if uses_manifest and manifest_file.is_file() else None
    sha = content_hash(digest, manifest_bytes)

    seen = con.execute(
        "select file_id, status from import_files where path = ? and sha256 = ?", [relative, sha]
    ).fetchone()
    if seen and seen[1] in ("loaded", "skipped"):
        return None
    existing_id = seen[0] if seen else None
    twin = con.execute(
        "select file_id, path from import_files where sha256 = ? and kind = ? and status = 'loaded' order by file_id limit 1",
        [sha, kind],
    ).fetchone()
    if twin:
        reason = f"same content as {twin[1]} (file {twin[0]}), already loaded"
        file_id = _record_unapplied(ctx, kind, existing_id, relative, sha, "skipped", reason, None)
        return FileOutcome(file_id, relative, kind, "skipped", reason)

    manifest: Manifest | None = None
    try:
        if data_suffix(path) is None:
            raise FileFailed(
                f"unsupported file type {path.name!r}: expected .csv, .tsv, .txt, .parquet, .jsonl or .ndjson, optionally .gz"
            )
        if uses_manifest:
            if manifest_bytes is not None:
                manifest = parse_manifest(
                    manifest_file, ctx.config, set(BUILTIN_FIELDS) | set(ctx.config.fields)
                )
            reason = hold_reason(manifest, manifest_file.name)
            if reason:
                file_id = _record_unapplied(ctx, kind, existing_id, relative, sha, "held", reason, manifest)
                return FileOutcome(file_id, relative, kind, "held", reason)
        read = prefetched if prefetched is not None else read_and_parse(path, ctx.config.limits)
        sha = content_hash(read.digest, manifest_bytes)
        parsed = read.parsed_or_raise()
        return _load_file(ctx, parsed, relative, kind, sha, existing_id, manifest, apply)
    except (ConfigError, FileFailed) as exc:
        reason = str(exc)
        file_id = _record_unapplied(ctx, kind, existing_id, relative, sha, "failed", reason, manifest)
        return FileOutcome(file_id, relative, kind, "failed", reason)


def _mapping_for(kind: str, parsed: ParsedFile, ctx: IngestContext, manifest: Manifest | None):
    if kind == KIND_CONTACTS:
        aliases = contact_aliases(list(ctx.config.fields))
    else:
        aliases = EVENT_ALIASES if kind == KIND_EVENTS else {"email": EVENT_ALIASES["email"]}
    mapping = map_header(parsed.header, aliases, manifest.columns if manifest else {})
    if "email" not in mapping.field_to_index:
        raise FileFailed(no_email_column_reason(parsed.header, aliases["email"]))
    return mapping


def _load_file(ctx, parsed: ParsedFile, relative, kind, sha, existing_id, manifest, apply) -> FileOutcome:
    con = ctx.con
    mapping = _mapping_for(kind, parsed, ctx, manifest)
    # Each file gets its own load time: imports without dates happen, in business time, when they
    # arrive, so two files of one run stay in ledger order.
    loaded_at = max(dt.datetime.now(dt.UTC), ctx.now)
    with transaction(con):
        # A file loaded after an earlier attempt failed gets a new id: ids are the ledger's order, and
        # incremental steps find the files loaded since their last run by id.
        file_id = _next_file_id(con)
        inserted = 0  # rows already in their staging table (event files' common case, see event_loading)
        if kind == KIND_CONTACTS:
            staged = _stage_contacts(parsed, mapping, file_id, ctx)
        elif kind == KIND_EVENTS:
            loaded = load_event_rows(con, parsed, mapping, file_id, ctx.config, ctx.cache)
            inserted, staged = loaded.inserted, loaded.rest
        else:
            staged = _stage_addresses_only(parsed, mapping, file_id, ctx)
        if kind != KIND_ERASURE:  # an erasure request's rows are never stored, so they have no field issues
            staged = reject_erased(con, staged)
            repaired = repair_issues(parsed, mapping, file_id, staged.rejects)
            if repaired.height:
                staged.field_issues = pl.concat([staged.field_issues, repaired]).sort("row_number", "field")
        accepted, rejected = inserted + staged.rows.height, staged.rejects.height
        if accepted + rejected != parsed.rows_total:
            raise AssertionError(
                f"{relative}: {parsed.rows_total} rows read but {accepted} + {rejected} staged"
            )
        if existing_id is not None:
            con.execute("delete from import_files where file_id = ?", [existing_id])
        con.execute(
            """insert into import_files (file_id, path, kind, sha256, status, reason, encoding, delimiter,
                   rows_total, rows_accepted, rows_rejected, loaded_at, mode, source, lists, ignored_columns)
               values (?, ?, ?, ?, 'loaded', null, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                file_id,
                relative,
                kind,
                sha,
                parsed.encoding,
                parsed.delimiter,
                parsed.rows_total,
                accepted,
                rejected,
                loaded_at,
                manifest.mode if manifest else None,
                manifest.source if manifest else None,
                manifest.lists if manifest else None,
                mapping.ignored,
            ],
        )
        tables = [("rejected_rows", staged.rejects), ("field_issues", staged.field_issues)]
        if kind in STAGED_TABLES:
            tables.append((STAGED_TABLES[kind], staged.rows))
        for table, frame in tables:
            if frame.height:
                with registered(con, "_batch", frame):
                    con.execute(f"insert into {table} by name select * from _batch")
        if apply is not None:
            apply(ctx, staged, file_id)
    crash_point("after_file_loaded")
    return FileOutcome(file_id, relative, kind, "loaded", None, parsed.rows_total, accepted, rejected)


def _stage_addresses_only(parsed, mapping, file_id, ctx: IngestContext) -> StagedFile:
    """Erasure requests: only the address matters, and it is never stored."""
    frame = address_frame(parsed, mapping, file_id, ["email"], ctx.cache)
    rows = frame.filter(pl.col("reject_reason").is_null()).select(
        "file_id", "row_number", "email", "email_ascii"
    )
    return StagedFile(
        rows=rows,
        rejects=build_rejects(frame, parsed, file_id),
        field_issues=pl.DataFrame(schema=ISSUE_SCHEMA),
    )


def reject_erased(con: duckdb.DuckDBPyConnection, staged: StagedFile) -> StagedFile:
    """Rows whose address was erased become rejects with reason `erased`; their text is not kept."""
    if not staged.rows.height or not has_tombstones(con):
        return staged
    salt = erasure_salt(con)
    with registered(con, "_rows", staged.rows.select("row_number", "email")):
        erased = {
            number
            for (number,) in con.execute(
                """select row_number from _rows
                   where sha256(? || email) in (select email_sha256 from suppressions where reason = 'erased')""",
                [salt],
            ).fetchall()
        }
    if not erased:
        return staged
    file_id = staged.rows.get_column("file_id")[0]
    erased_rejects = pl.DataFrame(
        {
            "file_id": file_id,
            "row_number": sorted(erased),
            "reason": REJECT_ERASED,
            "detail": "the address was erased on request; it is not imported again",
            "raw": None,
        },
        schema=REJECT_SCHEMA,
    )
    keep = ~pl.col("row_number").is_in(list(erased))
    return StagedFile(
        rows=staged.rows.filter(keep),
        rejects=pl.concat([staged.rejects, erased_rejects]).sort("row_number"),
        field_issues=staged.field_issues.filter(keep),
    )
