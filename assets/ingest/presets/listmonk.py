"""listmonk subscribers export (Subscribers > Export).

Sources (knadh/listmonk, AGPL-3.0: the layout is taken from the code, no code or data copied):
- cmd/subscribers.go at 911e0b774abad4fbf7b534be43a34a80fb6ace5b, ExportSubscribers: the header
  `uuid,email,name,attributes,status,created_at,updated_at`; created_at is Go's `time.Time.String()`,
  `2024-01-15 10:23:45.123456 +0000 UTC` (fraction only when non-zero).
- models/subscribers.go: subscriber status `enabled`, `disabled`, `blocklisted` (the per-list subscription
  status unconfirmed/confirmed/unsubscribed is not in this export).

`name` is one full-name field: there is no first/last split to map it to (see the report).
"""

from assets.ingest.presets.base import Preset

PRESET = Preset(
    name="listmonk",
    title="listmonk subscribers export",
    signature=("uuid", "email", "attributes", "status"),
    columns={"email": "email", "status": "status", "created_at": "created_at"},
    status_values={
        "enabled": "subscribed",
        # Blocklisted: never mailed on any list again; listmonk's bounce actions can also blocklist, so the
        # reason is not known. Closed either way: unsubscribed.
        "blocklisted": "unsubscribed",
        # Disabled: listmonk does not mail it; not an opt-out we can prove, but never map an unclear word to a
        # mailable status. Unsubscribed keeps it closed until a confirm.
        "disabled": "unsubscribed",
    },
    time_format="%Y-%m-%d %H:%M:%S%.f %z %Z",
)
