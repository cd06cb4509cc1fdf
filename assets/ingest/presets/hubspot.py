"""HubSpot contacts export (Contacts > Export, properties in view or all properties).

Sources:
- https://knowledge.hubspot.com/import-and-export/export-records (header = property labels, `Record ID` first).
- HubSpot default contact properties (labels as exported): `Email`, `First Name`, `Last Name`, `Create Date`,
  `Marketing contact status` (hs_marketable_status: "Marketing contact" / "Non-marketing contact"),
  `Unsubscribed from all email` (hs_email_optout, true/false), `Email hard bounce reason`
  (hs_email_hard_bounce_reason_enum), `Invalid email address` (hs_email_bad_address, true/false); see
  https://knowledge.hubspot.com/properties/hubspots-default-contact-properties.

Datetimes are written in the account's timezone, `2024-03-04 09:15` (no seconds): left to the ISO reader.
"""

from assets.ingest.presets.base import Preset

PRESET = Preset(
    name="hubspot",
    title="HubSpot contacts export",
    signature=("Record ID", "Email", "Create Date"),
    columns={
        "Email": "email",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Create Date": "created_at",
        "Marketing contact status": "status",
    },
    status_values={
        "marketing contact": "subscribed",
        # A billing designation, not an opt-out: HubSpot will not send it marketing email, and nothing says the
        # person agreed to it. Not mailable, not closed: unconfirmed.
        "non-marketing contact": "unconfirmed",
    },
    status_flags={
        "Unsubscribed from all email": "unsubscribed",
        "Invalid email address": "bounced",
    },
    status_if_filled={"Email hard bounce reason": "bounced"},
    time_format=None,
)
