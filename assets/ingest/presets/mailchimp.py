"""Mailchimp audience export: a zip of three CSVs (subscribed, unsubscribed, cleaned) with the same merge
fields and no status column. Which file a row came from is told by its columns: UNSUB_TIME (with
UNSUB_CAMPAIGN_TITLE, UNSUB_REASON, ...) only in the unsubscribed file, CLEAN_TIME (with CLEAN_CAMPAIGN_TITLE,
...) only in the cleaned file; the subscribed file has LAST_CHANGED instead.

Sources:
- TryGhost/migrate (MIT), packages/mg-mailchimp-members/src/test/fixtures/{subscribed,unsubscribed,cleaned}.csv
  at 91b3a59a5f0564a36beb8590aaa362a8eb0ce919, and packages/mg-mailchimp-members/src/lib/process.ts (UNSUB_TIME
  marks an unsubscribed member; TAGS is `"Editors","Writers"`, quotes stripped and split on commas; OPTIN_TIME and
  CONFIRM_TIME are `2018-02-05 19:28:23`).
- https://mailchimp.com/help/view-export-contacts/ (the export's three files).

"Email Address", "First Name" and "Last Name" are the default merge-field names; an audience that renamed them
needs `columns:` in the manifest. OPTIN_TIME is the signup time (CONFIRM_TIME, the double opt-in, comes later).
"""

from assets.ingest.presets.base import Preset

PRESET = Preset(
    name="mailchimp",
    title="Mailchimp audience export",
    # System columns every one of the three files has, whatever the merge fields are called.
    signature=("MEMBER_RATING", "OPTIN_TIME", "CONFIRM_TIME", "LEID", "EUID"),
    columns={
        "Email Address": "email",
        "First Name": "first_name",
        "Last Name": "last_name",
        "TAGS": "tags",
        "OPTIN_TIME": "created_at",
    },
    status_if_filled={
        "UNSUB_TIME": "unsubscribed",
        # Mailchimp "cleans" an address after a hard bounce (or repeated soft bounces).
        "CLEAN_TIME": "bounced",
    },
    tag_separator=",",
    # `2018-02-05 19:28:23`: ISO 8601 without a zone, which Mailchimp writes in UTC.
    time_format=None,
    timezone="UTC",
)
