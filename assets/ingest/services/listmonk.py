"""listmonk's bounce webhook (POST /webhooks/bounce): one JSON object a bounce,
`{"email"|"subscriber_uuid", "campaign_uuid"?, "source", "type": "hard"|"soft"|"complaint", "meta"?,
"created_at"?}`.

Follows listmonk's docs (docs/docs/content/bounces.md, "Webhook API") and the fields of its `models.Bounce`
(models/bounces.go; listmonk is AGPL-3.0: only the field names were taken). The same object is what
GET /api/bounces lists (with `campaign: {id, name}`), so a saved export maps too. listmonk stamps a bounce
without `created_at` with the time it arrived, which a saved payload no longer knows: such a record gets
no time (and its row is rejected as bad_timestamp). Fixtures in tests/data/services/listmonk/.
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
    found,
    iso_timestamp,
    text,
    unmapped,
)

TITLE = "listmonk bounce webhook"

# listmonk's own classification (models.BounceTypeHard, ...); it accepts no other type.
TYPES = {"hard": "hard_bounce", "soft": "soft_bounce", "complaint": "complaint"}


def recognises(record: Mapping[str, Any]) -> bool:
    return (
        "source" in record
        and isinstance(record.get("type"), str)
        and ("email" in record or "subscriber_uuid" in record)
        and "event" not in record
    )


def events(record: Mapping[str, Any]) -> list[ServiceEvent]:
    if not recognises(record):
        raise RecordRejected(UNRECOGNISED_RECORD, f"not a {TITLE} record: {found(record)}")
    their = record["type"]
    ours = TYPES.get(their)
    if ours is None:
        raise unmapped(TITLE, their)
    return [
        ServiceEvent(
            email=text(record.get("email")),
            event=ours,
            occurred_at=iso_timestamp(record.get("created_at")),
            service_event=f"bounce/{their}",
            campaign_id=text(record.get("campaign_uuid")) or text(dig(record, "campaign", "id")),
        )
    ]


SERVICE = Service(name="listmonk", title=TITLE, recognises=recognises, events=events)
