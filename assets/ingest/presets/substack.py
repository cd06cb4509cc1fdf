"""Substack subscriber export (Settings > Export: email_list `signup_emails` and `subscriber_emails` CSVs).

Sources (TryGhost/migrate, MIT):
- packages/mg-substack-members-csv/test/fixtures/fixtures_signup_emails.csv and fixtures_subscriber_emails.csv
  at 6dc6a3afcb8fd55bf5be680b1397df6782aa6a46: `email,active_subscription,expiry,email_disabled,prefer_digests,
  created_at` and `email,expiry,email_disabled,prefer_digests,stripe_connected_customer_id,type`.
- packages/mg-substack-members-csv/lib/process.js: `email_disabled` true means not subscribed to emails;
  addresses at @deletion-request.substack.com are deletion requests (not expressible, see the report).

Times are ISO 8601 (`2018-08-27T15:06:27.713Z`). There is no name column.
"""

from assets.ingest.presets.base import Preset

PRESET = Preset(
    name="substack",
    title="Substack subscriber export",
    # Both Substack files have these two.
    signature=("email", "email_disabled", "prefer_digests"),
    columns={"email": "email", "created_at": "created_at"},
    status_flags={"email_disabled": "unsubscribed"},
    time_format=None,
)
