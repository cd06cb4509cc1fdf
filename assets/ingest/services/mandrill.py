"""Mandrill (Mailchimp Transactional) webhooks: a POST's form field `mandrill_events` holds a JSON array
of events; the loader unwraps it (also when the field holds the JSON as a string, as the form does).

Message events are `{"event", "_id", "ts", "msg": {"email", "tags", "state", ...}, "url"?}`; sync events
(the rejection blacklist and allowlist) are `{"type": "blacklist"|"whitelist", "action", "reject"|"entry"}`.
Follows Mailchimp Transactional's "Webhook format" and "Sync event webhook format" docs
(mailchimp.com/developer/transactional/docs/webhooks/) and the payloads of django-anymail's
tests/test_mandrill_webhooks.py; fixtures in tests/data/services/mandrill/.
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

TITLE = "Mandrill webhook"

EVENTS = {
    "send": "sent",
    "deferral": "deferred",
    "hard_bounce": "hard_bounce",
    "soft_bounce": "soft_bounce",
    "open": "open",
    "click": "click",
    "spam": "complaint",
    "unsub": "unsubscribe",
    # Mandrill refused to send: the address is on its rejection blacklist, or the sender is not allowed
    "reject": "dropped",
}
SYNC_TYPES = ("blacklist", "whitelist")


def _is_message_event(record: Mapping[str, Any]) -> bool:
    return isinstance(record.get("msg"), Mapping) and "event" in record and "ts" in record


def _is_sync_event(record: Mapping[str, Any]) -> bool:
    return (
        record.get("type") in SYNC_TYPES and "action" in record and ("reject" in record or "entry" in record)
    )


def recognises(record: Mapping[str, Any]) -> bool:
    return _is_message_event(record) or _is_sync_event(record)


def events(record: Mapping[str, Any]) -> list[ServiceEvent]:
    if _is_sync_event(record):
        # a change of Mandrill's own lists (an address added to the blacklist after a bounce, say): the
        # bounce or complaint that caused it arrives as its own event
        raise unmapped(TITLE, f"{record['type']}/{record['action']}")
    if not _is_message_event(record):
        raise RecordRejected(UNRECOGNISED_RECORD, f"not a {TITLE} event: {found(record)}")
    their = text(record.get("event"))
    ours = EVENTS.get(their or "")
    if ours is None:  # inbound, ...
        raise unmapped(TITLE, their)
    msg = record["msg"]
    return [
        ServiceEvent(
            email=text(msg.get("email")),
            event=ours,
            # the event's own time; msg.ts is when the message was sent
            occurred_at=epoch_seconds(record.get("ts")),
            service_event=their or "",
            message_id=text(record.get("_id")) or text(msg.get("_id")),
            url=text(record.get("url")) if ours == "click" else None,
            tags=tag_list(msg.get("tags")),
            # Mandrill does not mark opens made by a machine (Apple Mail privacy protection)
            machine_open=None,
        )
    ]


SERVICE = Service(name="mandrill", title=TITLE, recognises=recognises, events=events)
