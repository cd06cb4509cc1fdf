"""What a sending service's mapping produces, and the helpers every mapping shares.

A mapping (one module per service in this package) turns one delivered record (a webhook payload, an
element of an Events API page, an SNS notification) into zero or more `ServiceEvent`s, one per recipient,
or raises `RecordRejected` with a reason that names what it found. The loader
(assets/ingest/service_events.py) turns those into event rows, which are validated like any event file's.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Reasons a record gets in rejected_rows (with a detail naming what was found).
UNRECOGNISED_RECORD = "unrecognised_record"  # not a record of the service (keys, type)
NOT_AN_EVENT = "not_an_event"  # the service's, but carries no event (an SNS subscription confirmation)
UNMAPPED_EVENT = "unknown_event"  # the service's event name has no counterpart here


class RecordRejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ServiceEvent:
    """One event of one recipient, in our words. `occurred_at` is text: ISO 8601 in UTC from the helpers
    below, or the service's value as it came when it cannot be read (the row is then rejected as
    `bad_timestamp`, like a bad cell of a CSV file)."""

    email: str | None
    event: str  # one of pipelines.vocabulary.EVENTS
    occurred_at: str | None
    service_event: str  # the service's own name, e.g. "spamreport", "Bounce/Permanent/General"
    message_id: str | None = None
    campaign_id: str | None = None
    list: str | None = None
    url: str | None = None
    value: str | None = None
    tags: tuple[str, ...] = ()
    machine_open: bool | None = None  # the service marks the open as made by a machine (Apple Mail privacy)


@dataclass(frozen=True)
class Service:
    """A sending service: how to recognise its records, and how to map one."""

    name: str  # the manifest's `format:` value, e.g. "sendgrid"
    title: str  # e.g. "SendGrid Event Webhook"
    recognises: Callable[[Mapping[str, Any]], bool]
    events: Callable[[Mapping[str, Any]], list[ServiceEvent]]
    # keys of a wrapper object whose value is the list of records (besides the loader's own)
    wrapper_keys: tuple[str, ...] = field(default=())


def _iso(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def epoch_seconds(value: Any) -> str | None:
    """Unix seconds (int, float or their text) to ISO 8601 UTC; other values come back as text."""
    return _epoch(value, 1)


def epoch_millis(value: Any) -> str | None:
    """Unix milliseconds to ISO 8601 UTC; other values come back as text."""
    return _epoch(value, 1000)


def _epoch(value: Any, per_second: int) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(value)
    try:
        number = float(value)
        return _iso(dt.datetime.fromtimestamp(number / per_second, dt.UTC))
    except (TypeError, ValueError, OverflowError, OSError):
        return str(value)


_FRACTION = re.compile(r"(\.\d{6})\d+")


def iso_timestamp(value: Any) -> str | None:
    """An ISO 8601 date-time with any fraction and offset (`2024-05-01T10:22:33.1234567+02:00`, `...Z`),
    or RFC 2822 text, to ISO 8601 UTC; a naive value stays as it is (the configured timezone applies);
    other values come back as text."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    try:
        moment = dt.datetime.fromisoformat(_FRACTION.sub(r"\1", text))
    except ValueError:
        try:
            from email.utils import parsedate_to_datetime

            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return text
    if moment.tzinfo is None:
        return text
    return _iso(moment)


def dig(record: Mapping[str, Any], *path: str | int) -> Any:
    """`dig(r, "event-data", "recipient")`: the value at a path of keys and list indices, or None."""
    value: Any = record
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return None
        elif not isinstance(value, Mapping):
            return None
        elif step not in value:
            return None
        value = value[step]
    return value


def text(value: Any) -> str | None:
    """A cell's text: None for a missing or empty value, JSON for an object or list."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def tag_list(value: Any) -> tuple[str, ...]:
    """Tags or categories as a service gives them: a list, one string, or None."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return tuple(str(item) for item in value if item not in (None, ""))
    return (str(value),)


def found(record: Any) -> str:
    """What a record holds, for a rejection's detail: its keys (never its values, which hold addresses)."""
    if isinstance(record, Mapping):
        keys = ", ".join(sorted(str(key) for key in record)[:20])
        return f"an object with keys {keys or '(none)'}"
    return f"a JSON {type(record).__name__}"


def unmapped(service: str, name: Any) -> RecordRejected:
    return RecordRejected(UNMAPPED_EVENT, f"{service} event {name!r} has no counterpart here")
