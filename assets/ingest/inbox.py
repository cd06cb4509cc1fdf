"""Inbox ingest: discover files, record each in the ledger, validate and stage its rows.

The three inbox folders share one path: contact files (with a manifest), event files and erasure
requests. Each file is applied in one transaction (ledger row, rejects, field issues, staged rows), so a
file that fails half-way leaves the warehouse as it was. The ledger is keyed by (path, content hash): a
file seen before is skipped, so re-running or re-dropping a file changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

from assets.ingest.context import (
    KIND_CONTACTS,
    KIND_EVENTS,
    FileOutcome,
    IngestContext,
    ledger_path,
)
from assets.ingest.headers import BUILTIN_FIELDS
from assets.ingest.manifest import (
    EventManifest,
    Manifest,
    hold_reason,
    manifest_path_for,
    parse_event_manifest,
    parse_manifest,
)
from assets.ingest.parsed_file import FileFailed
from assets.ingest.read_ahead import ReadAhead, ReadFile, read_and_parse, small_enough_to_read_ahead
from assets.ingest.read_limits import sha256_of
from assets.ingest.readers import data_suffix
from assets.ingest.store_file import ledger_file, load_file
from assets.validation.contact_rows import (
    StagedFile,
)
from pipelines.config import ConfigError
from pipelines.warehouse.ledger import (
    entry_for,
    is_done,
    loaded_twin,
    record_unapplied,
)
from pipelines.wording import counted


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


def _record_unapplied(ctx, kind, existing_id, path, sha, status, reason, manifest: Manifest | None) -> int:
    return record_unapplied(
        ctx.con, ledger_file(kind, path, sha, manifest), existing_id, status, reason, ctx.now
    )


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


def _likely_to_load(ctx: IngestContext, path: Path, kind: str) -> bool:
    """Worth reading ahead: a data file the ledger has not loaded or skipped under this path (and, for a
    contact file, with its manifest). A wrong guess only costs a parse or a missed overlap."""
    if data_suffix(path) is None or (kind == KIND_CONTACTS and not manifest_path_for(path).is_file()):
        return False
    return not is_done(ctx.con, ledger_path(ctx, path))


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
    uses_manifest = kind in (
        KIND_CONTACTS,
        KIND_EVENTS,
    )  # required beside a contact file, optional beside events
    manifest_bytes = manifest_file.read_bytes() if uses_manifest and manifest_file.is_file() else None
    sha = content_hash(digest, manifest_bytes)

    seen = entry_for(con, relative, sha)
    if seen and seen[1] in ("loaded", "skipped"):
        return None
    existing_id = seen[0] if seen else None
    twin = loaded_twin(con, sha, kind)
    if twin:
        reason = f"same content as {twin[1]} (file {twin[0]}), already loaded"
        file_id = _record_unapplied(ctx, kind, existing_id, relative, sha, "skipped", reason, None)
        return FileOutcome(file_id, relative, kind, "skipped", reason)

    manifest: Manifest | EventManifest | None = None
    try:
        if data_suffix(path) is None:
            raise FileFailed(
                f"unsupported file type {path.name!r}: expected .csv, .tsv, .txt, .parquet, .json, .jsonl or "
                ".ndjson, optionally .gz"
            )
        if kind == KIND_EVENTS and manifest_bytes is not None:
            manifest = parse_event_manifest(manifest_file)
        elif kind == KIND_CONTACTS:
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
        return load_file(ctx, parsed, relative, kind, sha, existing_id, manifest, apply)
    except (ConfigError, FileFailed) as exc:
        reason = str(exc)
        file_id = _record_unapplied(ctx, kind, existing_id, relative, sha, "failed", reason, manifest)
        return FileOutcome(file_id, relative, kind, "failed", reason)
