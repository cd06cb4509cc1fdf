"""Mailtrap email sending webhooks: `{"events": [...]}` (JSON) or one event per line (JSON Lines).

Follows Mailtrap's webhook docs and their list of events and statuses
(https://docs.mailtrap.io/email-api-smtp/advanced/webhooks,
https://docs.mailtrap.io/email-api-smtp/analytics/statuses-and-events), django-anymail's webhook tests, and
tests/data/services/mailtrap/.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assets.ingest.services.base import (
    UNRECOGNISED_RECORD,
    RecordRejected,
    Service,
    ServiceEvent,
    epoch_seconds,
    found,
    tag_list,
    text,
    unmapped,
)

TITLE = "Mailtrap"

EVENTS = {
    "delivery": "delivered",
    "open": "open",
    "click": "click",
    "bounce": "hard_bounce",  # "permanent delivery failure, no further attempts"
    "soft bounce": "soft_bounce",  # "couldn't be delivered (timeout, full inbox, too large); retried"
    "spam": "complaint",
    "unsubscribe": "unsubscribe",
    "suspension": "deferred",  # sent from an unverified domain: held, re-checked, then delivered or rejected
    "reject": "dropped",  # the domain was never verified, or the address is on the suppression list
}


def recognises(record: Mapping[str, Any]) -> bool:
    # a sending event names its message and its stream (transactional or bulk) and has its own id
    return (
        isinstance(record, Mapping)
        and isinstance(record.get("event"), str)
        and "message_id" in record
        and ("sending_stream" in record or "event_id" in record)
    )


def events(record: Mapping[str, Any]) -> list[ServiceEvent]:
    if not recognises(record):
        raise RecordRejected(UNRECOGNISED_RECORD, f"not a Mailtrap sending event: {found(record)}")
    name = record["event"]
    if name not in EVENTS:
        raise unmapped(TITLE, name)
    event = EVENTS[name]
    # bounces carry Mailtrap's category of the failure (hard, unavailable, ...)
    detail = record.get("bounce_category") or record.get("reason")
    return [
        ServiceEvent(
            email=text(record.get("email")),
            event=event,
            occurred_at=epoch_seconds(record.get("timestamp")),
            service_event=f"{name}/{detail}" if detail else name,
            message_id=text(record.get("message_id")),
            url=text(record.get("url")) if event == "click" else None,
            tags=tag_list(record.get("category")),
        )
    ]


SERVICE = Service(
    name="mailtrap", title="Mailtrap email sending webhooks", recognises=recognises, events=events
)
