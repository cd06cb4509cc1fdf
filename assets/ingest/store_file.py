"""One inbox file, parsed, into the warehouse in one transaction: its header mapped, its rows validated and
staged (or rejected with a reason), rows of erased addresses refused, and its ledger row; all or nothing."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from assets.ingest.context import KIND_CONTACTS, KIND_ERASURE, KIND_EVENTS, FileOutcome, IngestContext
from assets.ingest.event_loading import load_event_rows
from assets.ingest.headers import contact_aliases, map_header
from assets.ingest.manifest import Manifest
from assets.ingest.parsed_file import FileFailed, ParsedFile
from assets.validation.contact_rows import (
    REJECT_ERASED,
    StagedFile,
    address_frame,
    build_rejects,
    repair_issues,
    stage_file,
)
from assets.validation.frame_schemas import issue_schema, reject_schema
from pipelines.crash_points import crash_point
from pipelines.vocabulary import EVENT_HEADERS
from pipelines.warehouse.connection import registered, transaction
from pipelines.warehouse.ledger import (
    LedgerFile,
    LoadedCounts,
    next_file_id,
    record_loaded,
)
from pipelines.warehouse.tombstones import erasure_salt, has_tombstones

STAGED_TABLES = {KIND_CONTACTS: "staging.contact_rows", KIND_EVENTS: "staging.event_rows"}


def ledger_file(kind: str, path: str, sha: str, manifest: Manifest | None) -> LedgerFile:
    if manifest is None:
        return LedgerFile(path, kind, sha)
    return LedgerFile(path, kind, sha, manifest.mode, manifest.source, manifest.lists)


def no_email_column_reason(header: list[str], aliases: tuple[str, ...]) -> str:
    if any("@" in cell for cell in header):
        # A header-less file: its first row is data. The reason lands in logs, so it must not quote it.
        return "no email column: the first row holds an address, so the file seems to lack a header row; add one (e.g. `email,first_name`)"
    shown = ", ".join(repr(cell) for cell in header[:10]) or "none"
    return f"no email column: headers are {shown}; expected one of {', '.join(aliases)}, or map one with `columns:` in the manifest"


def _stage_contacts(parsed, mapping, file_id, ctx: IngestContext) -> StagedFile:
    return stage_file(parsed, mapping, file_id, ctx.config, ctx.cache, ctx.now)


def _mapping_for(kind: str, parsed: ParsedFile, ctx: IngestContext, manifest: Manifest | None):
    if kind == KIND_CONTACTS:
        aliases = contact_aliases(list(ctx.config.fields))
    else:
        aliases = EVENT_HEADERS if kind == KIND_EVENTS else {"email": EVENT_HEADERS["email"]}
    mapping = map_header(parsed.header, aliases, manifest.columns if manifest else {})
    if "email" not in mapping.field_to_index:
        raise FileFailed(no_email_column_reason(parsed.header, aliases["email"]))
    return mapping


def load_file(ctx, parsed: ParsedFile, relative, kind, sha, existing_id, manifest, apply) -> FileOutcome:
    con = ctx.con
    mapping = _mapping_for(kind, parsed, ctx, manifest)
    # Each file gets its own load time: imports without dates happen, in business time, when they
    # arrive, so two files of one run stay in ledger order.
    loaded_at = max(dt.datetime.now(dt.UTC), ctx.now)
    with transaction(con):
        # A file loaded after an earlier attempt failed gets a new id: ids are the ledger's order, and
        # incremental steps find the files loaded since their last run by id.
        file_id = next_file_id(con)
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
        counts = LoadedCounts(
            parsed.encoding, parsed.delimiter, parsed.rows_total, accepted, rejected, mapping.ignored
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
        schema=reject_schema(),
    )
    keep = ~pl.col("row_number").is_in(list(erased))
    return StagedFile(
        rows=staged.rows.filter(keep),
        rejects=pl.concat([staged.rejects, erased_rejects]).sort("row_number"),
        field_issues=staged.field_issues.filter(keep),
    )
