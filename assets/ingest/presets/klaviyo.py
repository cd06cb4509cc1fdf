"""Klaviyo profiles export (Lists & Segments > a list or segment > Export).

Sources:
- https://help.klaviyo.com/hc/en-us/articles/115005237908 (export a list or segment: Email, First Name,
  Last Name, Phone Number, location, Created, Last Active, ... and the consent columns).
- https://help.klaviyo.com/hc/en-us/articles/360049711392 (email consent: SUBSCRIBED, UNSUBSCRIBED,
  NEVER_SUBSCRIBED; a suppressed profile is SUPPRESSED).

Created is `2023-06-01 14:22:10`.
"""

from assets.ingest.presets.base import Preset

PRESET = Preset(
    name="klaviyo",
    title="Klaviyo profiles export",
    signature=("Email", "Email Marketing Consent"),
    columns={
        "Email": "email",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email Marketing Consent": "status",
        "Created": "created_at",
    },
    status_values={
        "subscribed": "subscribed",
        "unsubscribed": "unsubscribed",
        # Klaviyo holds the profile (an order, a form without consent) but has no email consent for it: not
        # mailable. The person never opted out either, so it is not closed: unconfirmed.
        "never_subscribed": "unconfirmed",
        # Suppressed: hard bounce, spam complaint, manual suppression or invalid address, the export does not
        # say which. Closed; unsubscribed is the closed status that claims no bounce or complaint.
        "suppressed": "unsubscribed",
    },
    time_format=None,
)
