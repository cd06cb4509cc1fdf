"""Ghost members CSV (Members > Export; the same layout is what Ghost imports).

Sources (TryGhost/Ghost, MIT):
- ghost/members-csv/lib/unparse.js at def097e2cdfc7d8b5d61eba0e2e05ed903eb636a: DEFAULT_COLUMNS
  `id,email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,created_at,deleted_at,labels,
  tiers`; subscribed_to_emails is true/false, labels are joined with `,`.
- ghost/core/test/utils/fixtures/csv/valid-members-import.csv at 43ed603e89f797e77eb62381e5a382e354730b9c
  (created_at `1991-10-02T20:30:31.000Z`).

`subscribed_to_emails` false means the member gets no newsletters: it is read as the status column (a flag only
fires on true). An empty cell is subscribed, as in Ghost's importer. `name` is one full-name field: not mapped.
"""

from assets.ingest.presets.base import Preset

PRESET = Preset(
    name="ghost",
    title="Ghost members export",
    # Ghost's own column: TryGhost/migrate writes the same layout for files meant for Ghost.
    signature=("email", "subscribed_to_emails"),
    columns={
        "email": "email",
        "subscribed_to_emails": "status",
        "labels": "tags",
        "created_at": "created_at",
    },
    status_values={
        "true": "subscribed",
        "false": "unsubscribed",
    },
    tag_separator=",",
    time_format=None,
)
