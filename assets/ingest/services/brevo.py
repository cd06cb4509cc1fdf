"""Brevo (formerly Sendinblue) webhooks, transactional and marketing: one JSON object a POST, with
`event` and `email`; transactional ones carry `message-id` and `ts_epoch`, marketing ones `camp_id`,
`ts_event` and `date_event`.

Follows Brevo's docs (developers.brevo.com/docs/transactional-webhooks and /docs/marketing-webhooks) and
the payloads of django-anymail's tests/test_brevo_webhooks.py; fixtures in tests/data/services/brevo/.
Times: `ts_epoch` is milliseconds UTC and `ts_event` seconds UTC by the docs, while `ts` and `date` follow
the account's timezone (anymail saw `ts` nine hours off), so they are not read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from assets.ingest.services.base import (
    UNRECOGNISED_RECORD,
    RecordRejected,
    Service,
    ServiceEvent,
    epoch_millis,
    epoch_seconds,
    found,
    tag_list,
    text,
    unmapped,
)

TITLE = "Brevo webhook"

# Keys only Brevo's email webhooks have (with `event` and `email`).
DISTINCTIVE = ("message-id", "ts_epoch", "ts_event", "s_epoch", "camp_id", "date_event", "ts_sent")

EVENTS = {
    "request": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "hard_bounce": "hard_bounce",
    "soft_bounce": "soft_bounce",
    "deferred": "deferred",
    # not sent: the address is on Brevo's blocklist, or is not a valid address, or sending failed
    "blocked": "dropped",
    "invalid": "dropped",
    "invalid_email": "dropped",
    "error": "dropped",
    "spam": "complaint",
    "complaint": "complaint",
    "opened": "open",
    "unique_opened": "open",
    "proxy_open": "open",
    "unique_proxy_open": "open",
    "click": "click",
    "unsubscribe": "unsubscribe",
    "unsubscribed": "unsubscribe",
}
# Opens Brevo says a privacy proxy made (Apple Mail privacy protection); Brevo sorts every open into one
# kind or the other, so the rest are known not to be.
PROXY_OPENS = ("proxy_open", "unique_proxy_open")


def recognises(record: Mapping[str, Any]) -> bool:
    return "event" in record and "email" in record and any(key in record for key in DISTINCTIVE)


def _moment(record: Mapping[str, Any]) -> str | None:
    for key in ("ts_epoch", "s_epoch"):  # s_epoch: the docs' proxy-open sample names it so
        value = record.get(key)
        if value in (None, ""):
            continue
        try:
            # milliseconds by the docs, but the docs' own request sample holds seconds there
            in_seconds = float(value) < 1e11
        except (TypeError, ValueError):
            return text(value)
        return epoch_seconds(value) if in_seconds else epoch_millis(value)
    return epoch_seconds(record.get("ts_event"))


def _tags(record: Mapping[str, Any]) -> tuple[str, ...]:
    # `tags` is the list set at send; else `tag`: one X-Mailin-Tag, a JSON-encoded list, or a list
    if record.get("tags"):
        return tag_list(record["tags"])
    tag = record.get("tag")
    if isinstance(tag, str) and tag.startswith("["):
        try:
            return tag_list(json.loads(tag))
        except ValueError:
            pass
    return tag_list(tag)


def _list(value: Any) -> str | None:
    # marketing unsubscribes name the lists left, as a list of ids; a row holds one
    if isinstance(value, list):
        return text(value[0]) if len(value) == 1 else None
    return text(value)


def events(record: Mapping[str, Any]) -> list[ServiceEvent]:
    if not recognises(record):
        raise RecordRejected(UNRECOGNISED_RECORD, f"not a {TITLE} record: {found(record)}")
    their = text(record.get("event"))
    ours = EVENTS.get(their or "")
    if ours is None:  # list_addition, contact_updated, contact_deleted, ...
        raise unmapped(TITLE, their)
    return [
        ServiceEvent(
            email=text(record.get("email")),
            event=ours,
            occurred_at=_moment(record),
            service_event=their or "",
            message_id=text(record.get("message-id")),
            campaign_id=text(record.get("camp_id")),
            list=_list(record.get("list_id")),
            url=(text(record.get("link")) or text(record.get("URL")) or text(record.get("url")))
            if ours == "click"
            else None,
            tags=_tags(record),
            machine_open=(their in PROXY_OPENS) if ours == "open" else None,
        )
    ]


SERVICE = Service(name="brevo", title=TITLE, recognises=recognises, events=events)
