"""Postmark webhooks: one JSON object per POST, named by its `RecordType` (Bounce, SpamComplaint, Delivery,
Open, Click, SubscriptionChange).

Follows Postmark's webhook docs (https://postmarkapp.com/developer/webhooks/webhooks-overview) and its bounce
type list (https://postmarkapp.com/developer/api/bounce-api#bounce-types), django-anymail's webhook tests,
and tests/data/services/postmark/.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assets.ingest.services.base import (
    UNRECOGNISED_RECORD,
    RecordRejected,
    Service,
    ServiceEvent,
    found,
    iso_timestamp,
    tag_list,
    text,
    unmapped,
)

TITLE = "Postmark"

# Each documented bounce type, by Postmark's own description. Types that say nothing of the address, or
# that report something other than a failed delivery (AutoResponder, AddressChange, Subscribe, a virus or
# challenge notice, an inbound error, Unknown), have no counterpart and are left out on purpose.
BOUNCE_TYPES = {
    "HardBounce": "hard_bounce",  # unknown user, mailbox not found
    "BadEmailAddress": "hard_bounce",  # invalid address
    "SoftBounce": "soft_bounce",  # unable to deliver for now (mailbox full, ...)
    "Transient": "soft_bounce",  # delayed; Postmark keeps trying
    "DnsError": "soft_bounce",  # a temporary DNS error
    "Blocked": "soft_bounce",  # the ISP blocked the sender, not the address
    "SpamNotification": "soft_bounce",  # refused as spam by a filter (not a person's complaint)
    "SpamComplaint": "complaint",
    "Unsubscribe": "unsubscribe",  # the recipient asked to be removed
    "ManuallyDeactivated": "dropped",  # deactivated in Postmark by hand: Postmark will not send
    "Unconfirmed": "dropped",  # the sender signature was not confirmed: not sent
    "SMTPApiError": "dropped",  # the send request failed
    "DMARCPolicy": "dropped",  # refused for the sender domain's DMARC policy
    "TemplateRenderingFailed": "dropped",  # nothing was sent
}
# A SubscriptionChange that suppresses sending says why; one that lifts it (SuppressSending false) is a
# resubscribe, which nothing here does without a confirm.
SUPPRESSION_REASONS = {
    "ManualSuppression": "unsubscribe",
    "HardBounce": "hard_bounce",
    "SpamComplaint": "complaint",
}
# The record's own moment, by record type.
TIMES = {
    "Bounce": "BouncedAt",
    "SpamComplaint": "BouncedAt",
    "Delivery": "DeliveredAt",
    "Open": "ReceivedAt",
    "Click": "ReceivedAt",
    "SubscriptionChange": "ChangedAt",
}


def recognises(record: Mapping[str, Any]) -> bool:
    return (
        isinstance(record, Mapping)
        and isinstance(record.get("RecordType"), str)
        and any(key in record for key in ("MessageID", "ServerID", "ServerId", "MessageStream"))
    )


def events(record: Mapping[str, Any]) -> list[ServiceEvent]:
    if not recognises(record):
        raise RecordRejected(UNRECOGNISED_RECORD, f"not a Postmark webhook: {found(record)}")
    kind = record["RecordType"]
    service_event = kind
    if kind in ("Bounce", "SpamComplaint"):
        bounce_type = record.get("Type")
        service_event = f"{kind}/{bounce_type}" if kind == "Bounce" else kind
        event = "complaint" if kind == "SpamComplaint" else BOUNCE_TYPES.get(bounce_type)
        email = record.get("Email")
    elif kind == "SubscriptionChange":
        reason = record.get("SuppressionReason")
        suppress = record.get("SuppressSending") is True
        service_event = (
            f"SubscriptionChange/{reason}" if suppress else "SubscriptionChange/SuppressSending=false"
        )
        event = SUPPRESSION_REASONS.get(reason) if suppress else None
        email = record.get("Recipient")
    elif kind in ("Delivery", "Open", "Click"):
        event, email = (
            {"Delivery": "delivered", "Open": "open", "Click": "click"}[kind],
            record.get("Recipient"),
        )
    else:
        event = None
    if event is None:
        raise unmapped(TITLE, service_event)
    return [
        ServiceEvent(
            email=text(email),  # an Unsubscribe-request bounce can come without an address
            event=event,
            occurred_at=iso_timestamp(record.get(TIMES[kind])),
            service_event=service_event,
            message_id=text(record.get("MessageID")),
            url=text(record.get("OriginalLink")) if event == "click" else None,
            tags=tag_list(record.get("Tag")),
        )
    ]


SERVICE = Service(name="postmark", title="Postmark webhooks", recognises=recognises, events=events)
