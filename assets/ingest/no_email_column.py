"""Why a file has no email column, in words that help fix it: every header, the column that holds
addresses (found from its cells, so a header nobody could guess is still pointed at), and for JSON records
of no known shape, their top-level keys and what would read them."""

from __future__ import annotations

from assets.ingest.parsed_file import ParsedFile
from assets.ingest.service_events import top_level_keys
from assets.ingest.services import services

ADDRESS_SHAPE = r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$"
SAMPLE_ROWS = 200


def address_column(parsed: ParsedFile) -> int | None:
    """The column whose sampled cells are most often address-shaped (at least half of the non-empty ones)."""
    sample = parsed.cells.head(SAMPLE_ROWS)
    best, best_share = None, 0.5
    for index in range(len(parsed.header)):
        cells = parsed.column(index).head(SAMPLE_ROWS).drop_nulls()
        cells = cells.filter(cells.str.strip_chars() != "")
        if not cells.len() or not sample.height:
            continue
        share = cells.str.contains(ADDRESS_SHAPE).mean()
        if share is not None and share >= best_share and (best is None or share > best_share):
            best, best_share = index, share
    return best


def no_email_column_reason(parsed: ParsedFile, aliases: tuple[str, ...], payloads: bool = False) -> str:
    """`payloads`: an event file, which may hold a sending service's JSON payloads."""
    header = parsed.header
    index = address_column(parsed) if parsed.cells.height else None
    if payloads and parsed.records is not None:
        keys = ", ".join(top_level_keys(parsed)) or "none"
        known = ", ".join(service.title for service in services().values())
        reason = (
            f"no known shape: the records' top-level keys are {keys}; not a payload of {known}, and no email "
            "field; for another tool's log, map its fields in a manifest beside the file (`columns:`, nested "
            "paths such as event-data.recipient, `events:`, `time_format:`), or name the service with `format:`"
        )
        if index is not None:
            reason += f"; {header[index]!r} holds addresses"
        return reason
    if any("@" in cell for cell in header):
        # A header-less file: its first row is data. The reason lands in logs, so it must not quote it.
        return "no email column: the first row holds an address, so the file seems to lack a header row; add one (e.g. `email,first_name`)"
    shown = ", ".join(repr(cell) for cell in header) or "none"
    reason = f"no email column: headers are {shown}; expected one of {', '.join(aliases)}"
    if index is not None:
        name = header[index]
        return (
            reason
            + f"; column {index + 1} ({name!r}) holds addresses: map it with `columns: {{{name!r}: email}}`"
        )
    return reason + ", or map one with `columns:` in the manifest"
