"""Mailchimp Marketing audience (list) webhooks, as a logger stores them.

Mailchimp POSTs form fields (`type=unsubscribe&fired_at=2009-03-26+21:40:57&data[email]=...&data[merges]
[FNAME]=...`); a saved payload is that form parsed into nested JSON, the bracketed keys becoming objects:
`{"type": "unsubscribe", "fired_at": "2009-03-26 21:40:57", "data": {"action": "unsub", "reason": "manual",
"id": "8a25ff1d98", "list_id": "a6b5da1054", "email": ..., "merges": {...}, "campaign_id": ...}}`
(tests/data/services/mailchimp/README.md).

Follows Mailchimp's guide "Sync audience data with webhooks" (mailchimp.com/developer/marketing/guides/
sync-audience-data-webhooks/) and its event reference (subscribe, unsubscribe, profile, upemail, cleaned,
campaign). `fired_at` carries no zone; it is read as UTC, like the rest of Mailchimp's API times and as
Snowplow's Mailchimp adapter reads it.
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
    text,
    unmapped,
)

TITLE = "Mailchimp audience webhook"

# `cleaned`: Mailchimp removed the address, for a hard bounce or an abuse (spam) report, by data[reason].
CLEANED = {"hard": "hard_bounce", "abuse": "complaint"}


def recognises(record: Mapping[str, Any]) -> bool:
    return (
        isinstance(record.get("type"), str)
        and "fired_at" in record
        and isinstance(record.get("data"), Mapping)
    )


def _moment(value: Any) -> str | None:
    moment = text(value)
    if moment is None:
        return None
    as_utc = iso_timestamp(moment + "+00:00")
    # a value that is no naive date-time comes back as it was (the row is then rejected as bad_timestamp)
    return as_utc if as_utc and as_utc.endswith("Z") else iso_timestamp(moment)


def events(record: Mapping[str, Any]) -> list[ServiceEvent]:
    if not recognises(record):
        raise RecordRejected(UNRECOGNISED_RECORD, f"not a {TITLE} payload: {found(record)}")
    their = record["type"]
    data = record["data"]
    name = their
    if their == "unsubscribe":
        # data[action] "unsub": the member left. "delete": an admin deleted the member, which is no
        # withdrawal of consent by the person, so it has no counterpart (our own suppress files do that).
        action = text(data.get("action"))
        name = f"unsubscribe/{action}" if action else their
        ours = "unsubscribe" if action in ("unsub", None) else None
    elif their == "cleaned":
        name = f"cleaned/{text(data.get('reason'))}"
        ours = CLEANED.get(text(data.get("reason")) or "")
    elif their == "subscribe":
        # A subscribe is not a confirmed opt-in here: Mailchimp fires it for an admin or API add with status
        # subscribed and for single opt-in forms too (only a double opt-in form waits for the confirm). As a
        # signup it joins the list and never reopens a closed status.
        ours = "signup"
    else:  # profile, upemail, campaign
        ours = None
    if ours is None:
        raise unmapped(TITLE, name)
    return [
        ServiceEvent(
            email=text(data.get("email")),
            event=ours,
            occurred_at=_moment(record.get("fired_at")),
            service_event=name,
            # data[id] is the member's id (not a campaign's) in these payloads
            campaign_id=text(data.get("campaign_id")),
            list=text(data.get("list_id")),
        )
    ]


SERVICE = Service(name="mailchimp", title=TITLE, recognises=recognises, events=events)
