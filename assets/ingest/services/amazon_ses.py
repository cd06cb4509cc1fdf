"""Amazon SES: feedback notifications (`notificationType`) and event publishing records (`eventType`), raw or
inside an Amazon SNS envelope whose `Message` is the record as JSON text.

Follows the SES Developer Guide, "Contents of notifications" / "Notification examples" and "Examples of event
data that Amazon SES publishes to Amazon SNS" (github.com/awsdocs/amazon-ses-developer-guide, sample code
MIT-0), the SNS envelopes of django-anymail's tests, and tests/data/services/amazon_ses/.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from assets.ingest.services.base import (
    NOT_AN_EVENT,
    UNRECOGNISED_RECORD,
    RecordRejected,
    Service,
    ServiceEvent,
    dig,
    found,
    iso_timestamp,
    text,
    unmapped,
)

TITLE = "Amazon SES"
SNS_TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")

# Their kind -> (ours, the record's object holding the details). Bounces and subscriptions are decided below.
EVENTS = {
    "Delivery": ("delivered", "delivery"),
    "Send": ("sent", "send"),
    "Open": ("open", "open"),
    "Click": ("click", "click"),
    "Complaint": ("complaint", "complaint"),
    "Reject": ("dropped", "reject"),  # SES found a virus and did not send
    "Rendering Failure": ("dropped", "failure"),  # the template did not render: nothing was sent
    "DeliveryDelay": ("deferred", "deliveryDelay"),  # SES is still retrying
    "Bounce": (None, "bounce"),
    "Subscription": (None, "subscription"),
}
# Where a kind names the recipients it is about; the others are about the message's `mail.destination`.
RECIPIENTS = {
    "Bounce": ("bounce", "bouncedRecipients"),
    "Complaint": ("complaint", "complainedRecipients"),
    "Delivery": ("delivery", "recipients"),
    "DeliveryDelay": ("deliveryDelay", "delayedRecipients"),
}


def _is_sns(record: Mapping[str, Any]) -> bool:
    return (
        record.get("Type") in SNS_TYPES
        and "Message" in record
        and ("TopicArn" in record or "MessageId" in record)
    )


def _is_ses(record: Any) -> bool:
    return (
        isinstance(record, Mapping)
        and isinstance(record.get("eventType") or record.get("notificationType"), str)
        and isinstance(record.get("mail"), Mapping)
    )


def recognises(record: Mapping[str, Any]) -> bool:
    return isinstance(record, Mapping) and (_is_sns(record) or _is_ses(record))


def events(record: Mapping[str, Any]) -> list[ServiceEvent]:
    if isinstance(record, Mapping) and _is_sns(record):
        if record["Type"] != "Notification":
            raise RecordRejected(NOT_AN_EVENT, f"an Amazon SNS {record['Type']} message")
        try:
            record = json.loads(record["Message"])
        except (TypeError, ValueError):
            raise RecordRejected(
                UNRECOGNISED_RECORD, "an Amazon SNS notification whose Message is not JSON"
            ) from None
        if not _is_ses(record):
            raise RecordRejected(
                UNRECOGNISED_RECORD, f"an Amazon SNS notification whose Message is {found(record)}"
            )
    elif not _is_ses(record):
        raise RecordRejected(UNRECOGNISED_RECORD, f"not an Amazon SES record: {found(record)}")
    kind = record.get("eventType") or record.get("notificationType")
    if kind not in EVENTS:
        raise unmapped(TITLE, kind)  # e.g. "Received" (inbound mail) or "AMAZON_SES_SETUP_NOTIFICATION"
    event, detail_key = EVENTS[kind]
    detail = record.get(detail_key) if isinstance(record.get(detail_key), Mapping) else {}
    service_event, list_name = kind, None
    if kind == "Bounce":
        # SES's own classification: Permanent is hard; Transient and Undetermined are soft
        bounce_type = detail.get("bounceType")
        event = {"Permanent": "hard_bounce", "Transient": "soft_bounce", "Undetermined": "soft_bounce"}.get(
            bounce_type
        )
        service_event = "/".join(
            str(part) for part in ("Bounce", bounce_type, detail.get("bounceSubType")) if part
        )
        if event is None:
            raise unmapped(TITLE, service_event)
    elif kind == "Complaint":
        feedback = detail.get("complaintFeedbackType")
        service_event = f"Complaint/{feedback}" if feedback else kind
        if feedback == "not-spam":  # the recipient marked it as not spam: the opposite of a complaint
            raise unmapped(TITLE, service_event)
    elif kind == "Subscription":
        event, service_event = _subscription(detail)
        list_name = text(detail.get("contactList"))
    elif kind in ("DeliveryDelay", "Reject") and (detail.get("delayType") or detail.get("reason")):
        service_event = f"{kind}/{detail.get('delayType') or detail.get('reason')}"
    mail = record["mail"]
    return [
        ServiceEvent(
            email=email,
            event=event,
            # the event's own moment; a send, reject or rendering failure has only the message's
            occurred_at=iso_timestamp(detail.get("timestamp") or mail.get("timestamp")),
            service_event=service_event,
            message_id=text(mail.get("messageId")),
            list=list_name,
            url=text(detail.get("link")) if event == "click" else None,
            tags=_tags(mail.get("tags")),
        )
        for email in _recipients(kind, record)
    ]


def _recipients(kind: str, record: Mapping[str, Any]) -> list[str | None]:
    if kind in RECIPIENTS:
        named = dig(record, *RECIPIENTS[kind]) or []
        found_ = [text(dig(item, "emailAddress") if isinstance(item, Mapping) else item) for item in named]
        return found_ or [None]
    destination = [text(item) for item in (dig(record, "mail", "destination") or [])] or [None]
    if kind in ("Open", "Click", "Subscription") and len(destination) > 1:
        # an open, click or subscription change names the message's recipients, not which of them acted
        return [None]
    return destination


def _subscription(detail: Mapping[str, Any]) -> tuple[str, str]:
    """An unsubscribe when the new preferences opt out of everything or of a topic that was not opted out;
    anything else (an opt-in) has no counterpart here."""
    new, old = detail.get("newTopicPreferences") or {}, detail.get("oldTopicPreferences") or {}

    def opted_out(prefs: Mapping[str, Any]) -> set[str]:
        return {
            str(topic.get("topicName"))
            for topic in prefs.get("topicSubscriptionStatus") or []
            if isinstance(topic, Mapping) and topic.get("subscriptionStatus") == "OptOut"
        }

    if new.get("unsubscribeAll") is True:
        return "unsubscribe", "Subscription/unsubscribeAll"
    if opted_out(new) - opted_out(old):
        return "unsubscribe", "Subscription/OptOut"
    raise unmapped(TITLE, "Subscription/OptIn")


def _tags(tags: Any) -> tuple[str, ...]:
    """Custom message tags as `name:value`; SES's own `ses:*` tags (configuration set, source IP) are not tags."""
    if not isinstance(tags, Mapping):
        return ()
    return tuple(
        f"{name}:{value}"
        for name, values in tags.items()
        if not str(name).startswith("ses:")
        for value in ([values] if isinstance(values, str) else values or ())
    )


SERVICE = Service(
    name="amazon_ses", title="Amazon SES notifications and events", recognises=recognises, events=events
)
