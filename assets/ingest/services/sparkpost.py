"""SparkPost event webhooks: one POST is a JSON array of `{"msys": {"<kind>_event": {...}}}` objects, each
element one record (a test POST holds `{"msys": {}}`, which carries no event).

Follows SparkPost's webhook event reference and sample events (developers.sparkpost.com, "Webhooks: Event
Types"), its bounce classification codes (support.sparkpost.com/docs/deliverability/bounce-classification-codes)
and the payloads of django-anymail's tests/test_sparkpost_webhooks.py; fixtures in tests/data/services/sparkpost/.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assets.ingest.services.base import (
    NOT_AN_EVENT,
    UNRECOGNISED_RECORD,
    RecordRejected,
    Service,
    ServiceEvent,
    epoch_seconds,
    found,
    iso_timestamp,
    tag_list,
    text,
    unmapped,
)

TITLE = "SparkPost event webhook"

# The kinds of event object an msys wrapper holds: message_event, track_event, gen_event, unsubscribe_event,
# relay_event, ab_test_event, ingest_event, ... (a kind not known here still marks the record as SparkPost's).
KIND_SUFFIX = "_event"

PLAIN = {
    "injection": "sent",
    "delivery": "delivered",
    "delay": "deferred",  # a temporary failure SparkPost retries; the address is not at fault (yet)
    "spam_complaint": "complaint",
    "policy_rejection": "dropped",  # SparkPost refused to send (suppression list, policy)
    "generation_rejection": "dropped",
    "generation_failure": "dropped",  # the template failed to render: nothing was sent
    "open": "open",
    "initial_open": "open",  # the pixel at the top of the message: still an open
    "amp_open": "open",
    "amp_initial_open": "open",
    "click": "click",
    "amp_click": "click",
    "list_unsubscribe": "unsubscribe",  # the mail client's List-Unsubscribe button
    "link_unsubscribe": "unsubscribe",  # an unsubscribe link in the message
}

# bounce_class -> our event, by SparkPost's own category: Hard -> hard_bounce; Soft, Block and
# Undetermined -> soft_bounce ("usually temporary events", the docs say: a block is about the sender's
# reputation or content, not the address, so it counts only towards the soft-bounce limit); Admin 25/26
# (SparkPost's own policy or suppression list failed the message before sending) -> dropped. 80 (the reply
# was a subscribe request) has no counterpart: it is no confirmed opt-in.
BOUNCE_CLASSES = {
    **dict.fromkeys(("10", "30", "90"), "hard_bounce"),
    **dict.fromkeys(("1", "20", "21", "22", "23", "24", "40", "60", "70", "100"), "soft_bounce"),
    **dict.fromkeys(("50", "51", "52", "53", "54"), "soft_bounce"),
    **dict.fromkeys(("25", "26"), "dropped"),
}
BOUNCES = ("bounce", "out_of_band")  # out_of_band: a bounce reported after the receiver accepted the message


def recognises(record: Mapping[str, Any]) -> bool:
    msys = record.get("msys")
    return isinstance(msys, Mapping) and (not msys or any(str(key).endswith(KIND_SUFFIX) for key in msys))


def _moment(value: Any) -> str | None:
    # Unix seconds as text in most samples; an ISO 8601 time in generation_failure's
    if isinstance(value, str) and not value.strip().lstrip("-").replace(".", "", 1).isdigit():
        return iso_timestamp(value)
    return epoch_seconds(value)


def events(record: Mapping[str, Any]) -> list[ServiceEvent]:
    if not recognises(record):
        raise RecordRejected(UNRECOGNISED_RECORD, f"not a {TITLE} record: {found(record)}")
    msys = record["msys"]
    if not msys:
        raise RecordRejected(NOT_AN_EVENT, f"a {TITLE} test ping (an empty msys object)")
    kind = next(str(key) for key in msys if str(key).endswith(KIND_SUFFIX))
    body = msys[kind]
    if not isinstance(body, Mapping):
        raise RecordRejected(UNRECOGNISED_RECORD, f"{TITLE} {kind} is {found(body)}")
    their = text(body.get("type"))
    name = their
    if their in BOUNCES:
        bounce_class = text(body.get("bounce_class"))
        name = f"{their}/{bounce_class}"
        ours = BOUNCE_CLASSES.get(bounce_class or "")
    else:
        ours = PLAIN.get(their or "") if kind != "relay_event" else None
    if ours is None:
        raise unmapped(TITLE, name)
    return [
        ServiceEvent(
            email=text(body.get("rcpt_to")) or text(body.get("raw_rcpt_to")),
            event=ours,
            occurred_at=_moment(body.get("timestamp")),
            service_event=name or "",
            # the id the transmissions API returned at send, in every message event (message_id is not)
            message_id=text(body.get("transmission_id")),
            campaign_id=text(body.get("campaign_id")),
            url=text(body.get("target_link_url")) if ours == "click" else None,
            tags=tag_list(body.get("rcpt_tags")),
        )
    ]


SERVICE = Service(name="sparkpost", title=TITLE, recognises=recognises, events=events)
