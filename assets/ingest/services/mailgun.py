"""Mailgun: webhook payloads (`{"signature": {...}, "event-data": {...}}`) and the elements of an Events API
page (`{"items": [...], "paging": {...}}`, unwrapped by the loader), which are the same event objects.

Follows Mailgun's Events API reference and event types (github.com/mailgun/documentation, MIT:
source/api-events.rst; https://documentation.mailgun.com/docs/mailgun/user-manual/events/event-types),
django-anymail's webhook tests, and tests/data/services/mailgun/.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assets.ingest.services.base import (
    UNRECOGNISED_RECORD,
    RecordRejected,
    Service,
    ServiceEvent,
    dig,
    epoch_seconds,
    found,
    tag_list,
    text,
    unmapped,
)

TITLE = "Mailgun"

EVENTS = {
    "accepted": "sent",
    "delivered": "delivered",
    "rejected": "dropped",  # Mailgun refused the send request: nothing reached the address
    "opened": "open",
    "clicked": "click",
    "unsubscribed": "unsubscribe",
    "complained": "complaint",
}
# `failed` reasons of a permanent failure that are not a bounce of the address now: Mailgun did not send
# because an earlier bounce, unsubscribe or complaint suppressed it (that earlier event closed the address).
SUPPRESSED = ("suppress-bounce", "suppress-unsubscribe", "suppress-complaint")


def _is_event(record: Any) -> bool:
    # every Mailgun event has `event`, `id` and `timestamp` (epoch seconds with a fraction)
    timestamp = record.get("timestamp") if isinstance(record, Mapping) else None
    return (
        isinstance(record, Mapping)
        and isinstance(record.get("event"), str)
        and isinstance(record.get("id"), str)
        and isinstance(timestamp, (int, float))
        and not isinstance(timestamp, bool)
    )


def recognises(record: Mapping[str, Any]) -> bool:
    return isinstance(record, Mapping) and (
        isinstance(record.get("event-data"), Mapping) or _is_event(record)
    )


def events(record: Mapping[str, Any]) -> list[ServiceEvent]:
    if isinstance(record, Mapping) and isinstance(record.get("event-data"), Mapping):
        data = record["event-data"]  # a webhook payload (its signature is checked, if at all, on receipt)
        if not isinstance(data.get("event"), str):
            raise RecordRejected(UNRECOGNISED_RECORD, f"a Mailgun webhook whose event-data is {found(data)}")
    elif _is_event(record):
        data = record
    else:
        raise RecordRejected(UNRECOGNISED_RECORD, f"not a Mailgun event: {found(record)}")
    name = data["event"]
    service_event = name
    if name == "failed":
        event, service_event = _failure(data)
    elif name in EVENTS:
        event = EVENTS[name]
    else:
        raise unmapped(TITLE, name)  # stored, list_member_uploaded, ...
    # Mailgun marks an open or click made by a machine (Apple's privacy proxy, Gmail's image cache) in
    # client-info.bot: "" for a person, the bot's name otherwise; older events have no such key.
    bot = dig(data, "client-info", "bot")
    return [
        ServiceEvent(
            email=text(data.get("recipient")),
            event=event,
            occurred_at=epoch_seconds(data.get("timestamp")),
            service_event=service_event,
            message_id=text(dig(data, "message", "headers", "message-id")),
            url=text(data.get("url")) if event == "click" else None,
            tags=tag_list(data.get("tags")),
            machine_open=bool(bot) if event == "open" and isinstance(bot, str) else None,
        )
    ]


def _failure(data: Mapping[str, Any]) -> tuple[str, str]:
    """Mailgun's own split of `failed`: severity `permanent` is a hard bounce, except a send it skipped for
    an earlier suppression (dropped) or one that ran out of retries (`old`: the address was never refused
    for good, so a soft bounce); `temporary` is one attempt refused for now, which Mailgun retries (each
    retry posts another such event, so counting them as soft bounces would close an address over one
    message): deferred."""
    severity, reason = data.get("severity"), data.get("reason")
    service_event = "/".join(str(part) for part in ("failed", severity, reason) if part)
    if severity == "temporary":
        return "deferred", service_event
    if severity == "permanent":
        if reason in SUPPRESSED:
            return "dropped", service_event
        return ("soft_bounce" if reason == "old" else "hard_bounce"), service_event
    raise unmapped(TITLE, service_event)


SERVICE = Service(
    name="mailgun", title="Mailgun webhooks and Events API", recognises=recognises, events=events
)
