"""SendGrid Event Webhook: a JSON array of event objects, one per recipient and event.

Follows the Event Webhook Reference (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event,
and its MIT-licensed earlier copy in github.com/sendgrid/docs) and the examples in
tests/data/services/sendgrid/.
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

TITLE = "SendGrid"

# Their event name -> ours. `bounce` is split by its `type` below; resubscribes and account events are not
# mapped (nothing here resubscribes an address without a confirm).
EVENTS = {
    "processed": "sent",
    "delivered": "delivered",
    "deferred": "deferred",  # the receiving server refused for now; SendGrid retries
    "dropped": "dropped",  # SendGrid did not send (suppressed, invalid, ...): says nothing new of the address
    "open": "open",
    "click": "click",
    "spamreport": "complaint",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
}


def recognises(record: Mapping[str, Any]) -> bool:
    # Every SendGrid event carries its own ids; the legacy Marketing Email unsubscribe carries `newsletter`.
    if not isinstance(record, Mapping) or not isinstance(record.get("event"), str):
        return False
    return (
        "sg_event_id" in record or "sg_message_id" in record or isinstance(record.get("newsletter"), Mapping)
    )


def events(record: Mapping[str, Any]) -> list[ServiceEvent]:
    if not recognises(record):
        raise RecordRejected(UNRECOGNISED_RECORD, f"not a SendGrid event: {found(record)}")
    name = record["event"]
    service_event = name
    if name == "bounce":
        # SendGrid's own split: type "bounce" is permanent, "blocked" temporary (the docs' "Bounce" and
        # "Blocked"); records from before `type` existed were bounces. The classification (Invalid Address,
        # Reputation, ...) is kept in service_event, not used to second-guess the type.
        kind = record.get("type") or "bounce"
        event = {"bounce": "hard_bounce", "blocked": "soft_bounce"}.get(kind)
        service_event = "/".join(
            part for part in ("bounce", kind, text(record.get("bounce_classification"))) if part
        )
        if event is None:
            raise unmapped(TITLE, service_event)
    elif name in EVENTS:
        event = EVENTS[name]
        if name == "dropped" and record.get("reason"):
            service_event = f"dropped/{record['reason']}"
    else:
        raise unmapped(TITLE, name)
    machine = record.get("sg_machine_open")
    return [
        ServiceEvent(
            email=text(record.get("email")),
            event=event,
            occurred_at=epoch_seconds(record.get("timestamp")),
            service_event=service_event,
            message_id=text(record.get("sg_message_id")),
            # Marketing Campaigns and Single Sends name their campaign
            campaign_id=text(record.get("marketing_campaign_id") or record.get("singlesend_id")),
            # a group unsubscribe names its unsubscribe group: the replay closes the address all the same
            list=text(record.get("asm_group_id")) if name == "group_unsubscribe" else None,
            url=text(record.get("url")) if event == "click" else None,
            tags=tag_list(record.get("category")),
            machine_open=machine if isinstance(machine, bool) and event == "open" else None,
        )
    ]


SERVICE = Service(name="sendgrid", title="SendGrid Event Webhook", recognises=recognises, events=events)
