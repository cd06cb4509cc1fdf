"""Sending-service payloads to event rows: which service a JSON file is from, and its records mapped.

The service is recognised from the records (the one whose recogniser claims most of the first
`SAMPLE` records), or forced by the manifest's `format:`. Each record then goes through that service's
mapping (assets/ingest/services/<service>.py): one row per recipient it names, or one rejected row with the
reason the mapping gives. The rows come out as a parsed file with our event columns, so that they are
validated and stored exactly like the rows of a CSV event file: every record is accounted for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assets.ingest.parsed_file import FileFailed, ParsedFile, RowProblem, raw_of
from assets.ingest.services import services
from assets.ingest.services.base import UNRECOGNISED_RECORD, RecordRejected, Service, ServiceEvent, found
from pipelines.vocabulary import EVENT_HEADERS

SAMPLE = 100
EVENT_COLUMNS = tuple(EVENT_HEADERS)  # email, event, occurred_at, ..., service_event


def recognised_service(records: list[Any]) -> Service | None:
    """The service most of the first records belong to, or None when no service claims any."""
    sample = [record for record in records[:SAMPLE] if isinstance(record, Mapping)]
    best, best_count = None, 0
    for service in services().values():
        count = sum(1 for record in sample if _claims(service, record))
        if count > best_count:
            best, best_count = service, count
    return best


def _claims(service: Service, record: Mapping[str, Any]) -> bool:
    try:
        return bool(service.recognises(record))
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


def service_for(parsed: ParsedFile, forced: str | None) -> Service | None:
    """The service whose payloads the file holds: `format:` when given, else recognised from the records."""
    if forced is not None:
        if parsed.records is None:
            raise FileFailed(
                f"`format: {forced}` reads the service's JSON payloads; this is not a .json, .jsonl or .ndjson file"
            )
        return services()[forced]
    if parsed.records is None:
        return None
    return recognised_service(parsed.records)


def _cells(event: ServiceEvent) -> list[str | None]:
    values = {
        "email": event.email,
        "event": event.event,
        "occurred_at": event.occurred_at,
        "campaign_id": event.campaign_id,
        "list": event.list,
        "value": event.value,
        "url": event.url,
        "message_id": event.message_id,
        "tags": ",".join(event.tags) or None,
        "machine_open": None if event.machine_open is None else str(event.machine_open).lower(),
        "service_event": event.service_event,
    }
    return [values[name] for name in EVENT_COLUMNS]


def service_rows(parsed: ParsedFile, service: Service) -> ParsedFile:
    """The file's records as event rows: one per recipient of a record, or one rejected row per record the
    service cannot map (and per record the reader could not read). Rows are numbered in that order."""
    read_problems = {problem.row_number: problem for problem in parsed.problems}
    records: list[Any] = []
    rows: list[list[str | None]] = []
    numbers: list[int] = []
    problems: list[RowProblem] = []
    for record_number, record in enumerate(parsed.records or [], start=1):
        row_number = len(records) + 1
        records.append(record)
        if record_number in read_problems:  # a line that is not JSON, or a record with a NUL byte
            problem = read_problems[record_number]
            problems.append(RowProblem(row_number, problem.detail, problem.raw, problem.reason))
            continue
        try:
            if not isinstance(record, Mapping) or not _claims(service, record):
                raise RecordRejected(UNRECOGNISED_RECORD, f"{found(record)}: not a {service.title} record")
            events = service.events(record)
            if not events:
                raise RecordRejected(UNRECOGNISED_RECORD, f"{found(record)}: names no recipient")
        except RecordRejected as rejected:
            problems.append(RowProblem(row_number, rejected.detail, raw_of(record), rejected.reason))
            continue
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            # a record of the service's shape with a field of an unexpected type; the exception's text may
            # quote values, so only its kind is named
            detail = (
                f"{found(record)}: a {service.title} record the mapping cannot read ({type(exc).__name__})"
            )
            problems.append(RowProblem(row_number, detail, raw_of(record), UNRECOGNISED_RECORD))
            continue
        for position, event in enumerate(events):
            if (
                position
            ):  # a record naming several recipients: one row each, the record's JSON as each one's raw
                records.append(record)
            rows.append(_cells(event))
            numbers.append(len(records))
    result = ParsedFile.from_records(list(EVENT_COLUMNS), rows, numbers, problems=problems)
    result.encoding = parsed.encoding
    result.records = records
    return result


def top_level_keys(parsed: ParsedFile) -> list[str]:
    """The keys the first records have at their top level, for a file of no known shape."""
    keys: list[str] = []
    for record in (parsed.records or [])[:SAMPLE]:
        if isinstance(record, Mapping):
            keys += [str(key) for key in record if str(key) not in keys]
    return keys
