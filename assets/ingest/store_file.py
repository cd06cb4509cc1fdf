"""One inbox file, parsed, into the warehouse in one transaction: its header mapped, its rows validated and
staged (or rejected with a reason), rows of erased addresses refused, and its ledger row; all or nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from assets.ingest.contact_reading import ContactReading, contact_reading
from assets.ingest.context import (
    KIND_CONTACTS,
    KIND_EVENTS,
    KIND_MERGES,
    FileOutcome,
    IngestContext,
)
from assets.ingest.erased_rows import reject_erased
from assets.ingest.event_loading import load_event_rows
from assets.ingest.headers import HeaderMapping, contact_aliases, map_header
from assets.ingest.manifest import EventManifest, Manifest
from assets.ingest.merge_files import merge_mapping, stage_merge_file
from assets.ingest.no_email_column import no_email_column_reason
from assets.ingest.parsed_file import FileFailed, ParsedFile
from assets.ingest.service_events import service_for, service_rows
from assets.validation.contact_rows import (
    StagedFile,
    address_frame,
    build_rejects,
    repair_issues,
    stage_file,
)
from assets.validation.event_rows import EventReading
from assets.validation.frame_schemas import issue_schema
from pipelines.crash_points import crash_point
from pipelines.vocabulary import EVENT_HEADERS
from pipelines.warehouse.connection import registered, transaction
from pipelines.warehouse.ledger import (
    LedgerFile,
    LoadedCounts,
    next_file_id,
    record_loaded,
)

STAGED_TABLES = {
    KIND_CONTACTS: "staging.contact_rows",
    KIND_EVENTS: "staging.event_rows",
    KIND_MERGES: "staging.merge_rows",
}


def ledger_file(kind: str, path: str, sha: str, manifest: Manifest | EventManifest | None) -> LedgerFile:
    if not isinstance(manifest, Manifest):  # an event file's manifest says nothing of mode, source or lists
        return LedgerFile(path, kind, sha)
    return LedgerFile(path, kind, sha, manifest.mode, manifest.source, manifest.lists)


@dataclass
class FileReading:
    """How one file reads: its rows (a sending service's records as event rows), its header mapped, and
    what its manifest or preset says of statuses, tags, times and event names."""

    parsed: ParsedFile
    mapping: HeaderMapping
    format: str | None = None  # the sending service or preset, for the ledger
    contacts: ContactReading | None = None
    events: EventReading | None = None


def _reading_for(kind: str, parsed: ParsedFile, ctx: IngestContext, manifest) -> FileReading:
    if kind == KIND_CONTACTS:
        contacts = contact_reading(parsed.header, manifest)
        mapping = _mapped(parsed, contact_aliases(list(ctx.config.fields)), contacts.columns)
        used = {name for name, _ in (contacts.status_flags | contacts.status_if_filled).values()}
        mapping = HeaderMapping(
            mapping.field_to_index, [cell for cell in mapping.ignored if cell not in used]
        )
        return FileReading(parsed, mapping, contacts.format, contacts=contacts)
    if kind == KIND_EVENTS:
        service = service_for(parsed, manifest.format if manifest else None)
        if service is not None:
            rows = service_rows(parsed, service)
            return FileReading(rows, _mapped(rows, EVENT_HEADERS, {}), service.name)
        events = (
            EventReading(manifest.events, manifest.time_format, manifest.timezone)
            if manifest
            else EventReading()
        )
        return FileReading(
            parsed, _mapped(parsed, EVENT_HEADERS, manifest.columns if manifest else {}, True), events=events
        )
    return FileReading(parsed, _mapped(parsed, {"email": EVENT_HEADERS["email"]}, {}))


def _mapped(
    parsed: ParsedFile, aliases: dict[str, tuple[str, ...]], columns: dict[str, str], payloads: bool = False
) -> HeaderMapping:
    """`payloads`: an event file, which may hold a sending service's JSON payloads."""
    mapping = map_header(parsed.header, aliases, columns)
    if "email" not in mapping.field_to_index:
        raise FileFailed(no_email_column_reason(parsed, aliases["email"], payloads))
    return mapping


def load_file(ctx, parsed: ParsedFile, relative, kind, sha, existing_id, manifest, apply) -> FileOutcome:
    con = ctx.con
    if kind == KIND_MERGES:
        reading = FileReading(parsed, merge_mapping(parsed, relative))
    else:
        reading = _reading_for(kind, parsed, ctx, manifest)
    parsed, mapping = reading.parsed, reading.mapping
    # Each file gets its own load time: imports without dates happen, in business time, when they
    # arrive, so two files of one run stay in ledger order.
    loaded_at = max(dt.datetime.now(dt.UTC), ctx.now)
    with transaction(con):
        # A file loaded after an earlier attempt failed gets a new id: ids are the ledger's order, and
        # incremental steps find the files loaded since their last run by id.
        file_id = next_file_id(con)
        inserted = 0  # rows already in their staging table (event files' common case, see event_loading)
        if kind == KIND_CONTACTS:
            staged = stage_file(parsed, mapping, file_id, ctx.config, ctx.cache, ctx.now, reading.contacts)
        elif kind == KIND_EVENTS:
            loaded = load_event_rows(con, parsed, mapping, file_id, ctx.config, ctx.cache, reading.events)
            inserted, staged = loaded.inserted, loaded.rest
        elif kind == KIND_MERGES:  # refuses erased addresses itself: a row holds two
            staged = stage_merge_file(con, parsed, mapping, file_id, ctx.cache)
        else:
            staged = _stage_addresses_only(parsed, mapping, file_id, ctx)
        if kind in (
            KIND_CONTACTS,
            KIND_EVENTS,
        ):  # an erasure request's rows are never stored; a merge file's are pairs
            staged = reject_erased(con, staged)
            repaired = repair_issues(parsed, mapping, file_id, staged.rejects)
            if repaired.height:
                staged.field_issues = pl.concat([staged.field_issues, repaired]).sort("row_number", "field")
        accepted, rejected = inserted + staged.rows.height, staged.rejects.height
        if accepted + rejected != parsed.rows_total:
            raise AssertionError(
                f"{relative}: {parsed.rows_total} rows read but {accepted} + {rejected} staged"
            )
        counts = LoadedCounts(
            parsed.encoding,
            parsed.delimiter,
            parsed.rows_total,
            accepted,
            rejected,
            mapping.ignored,
            reading.format,
        )
        record_loaded(
            con, file_id, ledger_file(kind, relative, sha, manifest), existing_id, counts, loaded_at
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
        field_issues=pl.DataFrame(schema=issue_schema()),
    )
