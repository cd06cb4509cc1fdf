"""JSON inputs: `.json` (one payload, an array of them, or an object wrapping a list) and `.jsonl` /
`.ndjson` (one payload a line, as a webhook logger writes them), to records and then to text cells.

A record is one element after unwrapping: a JSON array gives its elements, and an object that wraps a list of
objects under a known key (Mailtrap's and others' `events`, the Mailgun Events API's `items`, Mandrill's
`mandrill_events`, also when that holds the form field's JSON string) gives the list's elements. Records are
numbered in order; that number is the row number. Each record's cells are its top-level keys (nested values as
JSON text, lists of scalars comma-separated, as before) and the dotted path of every nested object's key
(`event-data.recipient`), so that a manifest can map a field of a nested payload. The records themselves are
kept on the parsed file: the sending-service mappings (assets/ingest/service_events.py) read them, and a
rejected record's raw text is its JSON.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from assets.ingest.headers import normalise_header
from assets.ingest.parsed_file import FileFailed, ParsedFile, RowProblem, printable_raw, raw_of
from assets.ingest.services import services
from assets.ingest.text_decoding import row_defect
from pipelines.vocabulary import EMAIL_HEADERS

# Keys of an object that wraps the records, besides each service's own (Service.wrapper_keys).
WRAPPER_KEYS = ("events", "items", "mandrill_events")
# A record's nested objects are flattened this deep (webhook payloads nest three or four levels).
MAX_DEPTH = 6


@cache
def _wrapper_keys() -> tuple[str, ...]:
    keys = list(WRAPPER_KEYS)
    for service in services().values():
        keys += [key for key in service.wrapper_keys if key not in keys]
    return tuple(keys)


def _wrapped_list(value: dict) -> list | None:
    """The list of records an object wraps, or None when the object is a record itself (one with an
    address key, such as a contact with an `events` list, is a record)."""
    wrappers = [key for key in _wrapper_keys() if key in value]
    if not wrappers or any(normalise_header(str(key)) in EMAIL_HEADERS for key in value):
        return None
    for key in wrappers:
        inner = value.get(key)
        if isinstance(inner, str) and inner.lstrip().startswith("["):
            try:  # Mandrill posts its events as a form field holding a JSON array
                inner = json.loads(inner)
            except json.JSONDecodeError:
                continue
        if isinstance(inner, list) and (not inner or any(isinstance(item, dict) for item in inner)):
            return inner
    return None


def unwrap(value: Any) -> list[Any]:
    """The records of one payload (see the module's docstring)."""
    if isinstance(value, list) and (not value or any(isinstance(item, (dict, list)) for item in value)):
        return [record for item in value for record in (unwrap(item) if isinstance(item, list) else [item])]
    if isinstance(value, dict):
        inner = _wrapped_list(value)
        if inner is not None:
            return inner
    return [value]


def cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(not isinstance(item, (dict, list)) for item in value):
        return ",".join("" if item is None else str(item) for item in value)
    return json.dumps(value, ensure_ascii=False)


def flat_cells(record: dict) -> dict[str, str | None]:
    """A record's top-level keys, then the dotted paths of its nested objects' keys."""
    cells = {str(key): cell_text(value) for key, value in record.items()}
    pending = [(str(key), value, 1) for key, value in record.items() if isinstance(value, dict)]
    while pending:
        prefix, value, depth = pending.pop(0)
        for key, inner in value.items():
            path = f"{prefix}.{key}"
            cells.setdefault(path, cell_text(inner))
            if isinstance(inner, dict) and depth < MAX_DEPTH:
                pending.append((path, inner, depth + 1))
    return cells


def read_json(text: str) -> ParsedFile:
    """A `.json` file: one JSON document."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileFailed(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    records = unwrap(document)
    if not records:
        raise FileFailed("no records: the file holds an empty list")
    return records_to_parsed(records, [None] * len(records))


def read_jsonl(text: str) -> ParsedFile:
    """A `.jsonl` / `.ndjson` file: one JSON document a line; a line that is not JSON is one unparseable row."""
    records: list[Any] = []
    line_problems: list[str | None] = []  # per record: None, or why its line could not be read
    raw_lines: list[str | None] = []
    # Split on LF only: str.splitlines() would also split inside strings holding U+2028, U+0085 or \x1c-\x1e.
    for line in text.split("\n"):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        defect = row_defect([line])
        if defect is None:
            try:
                document = json.loads(line)
            except json.JSONDecodeError as exc:
                defect = f"invalid JSON: {exc.msg} at column {exc.colno}"
        if defect:
            records.append(None)
            line_problems.append(defect)
            raw_lines.append(line)
            continue
        for record in unwrap(document):
            records.append(record)
            line_problems.append(None)
            raw_lines.append(None)
    if not records:
        raise FileFailed("empty file: no JSON objects")
    return records_to_parsed(records, line_problems, raw_lines)


def records_to_parsed(
    records: list[Any], line_problems: list[str | None], raw_lines: list[str | None] | None = None
) -> ParsedFile:
    header: list[str] = []
    positions: dict[str, int] = {}
    rows: list[dict[str, str | None]] = []
    numbers: list[int] = []
    problems: list[RowProblem] = []
    for number, (record, line_problem) in enumerate(zip(records, line_problems, strict=True), start=1):
        defect = line_problem
        cells: dict[str, str | None] = {}
        if defect is None:
            if not isinstance(record, dict):
                defect = f"expected a JSON object, got {type(record).__name__}"
            else:
                cells = flat_cells(record)
                # escapes such as \u0000 or a lone \ud800 only show up once decoded
                defect = row_defect(list(cells.values()) + list(cells))
        if defect:
            raw = raw_lines[number - 1] if raw_lines and raw_lines[number - 1] is not None else None
            problems.append(
                RowProblem(number, defect, printable_raw(raw) if raw is not None else raw_of(record))
            )
            continue
        for key in cells:
            if key not in positions:
                positions[key] = len(header)
                header.append(key)
        rows.append(cells)
        numbers.append(number)
    cells_by_column = [[row.get(key) for key in header] for row in rows]
    parsed = ParsedFile.from_records(header, cells_by_column, numbers, problems=problems)
    parsed.records = records
    return parsed
