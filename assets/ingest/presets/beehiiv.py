"""beehiiv subscribers export (Audience > Subscribers > Export).

Sources:
- TryGhost/migrate (MIT) packages/mg-beehiiv-members/src/test/fixtures/members.csv at
  faaf5ecab0d9be23d22d11df16ee5f8a3421d5b1: `email,First Name,Last Name,status,tier,created_at,
  stripe_customer_id,<tier columns>,unsubscribed_at,Subscription Date (Substack)`, created_at
  `2023-03-24 10:23:10 UTC`; packages/mg-beehiiv-members/src/lib/process.ts: a filled unsubscribed_at or status
  `inactive` means not subscribed.
- TryGhost/migrate packages/mg-beehiiv-api-members/src/types.d.ts and beehiiv's API reference
  (https://developers.beehiiv.com/api-reference/subscriptions/index): status `validating`, `invalid`,
  `pending`, `active`, `inactive`, `needs_attention`.
"""

from assets.ingest.presets.base import Preset

PRESET = Preset(
    name="beehiiv",
    title="beehiiv subscribers export",
    signature=("email", "status", "tier", "unsubscribed_at"),
    columns={
        "email": "email",
        "First Name": "first_name",
        "Last Name": "last_name",
        "status": "status",
        "created_at": "created_at",
    },
    status_values={
        "active": "subscribed",
        "inactive": "unsubscribed",
        # Waiting for the double opt-in confirmation.
        "pending": "unconfirmed",
        # beehiiv is still checking the address: not mailable yet, not closed.
        "validating": "unconfirmed",
        # beehiiv's check found the address undeliverable: closed like a bounce.
        "invalid": "bounced",
        # Held for the publisher's approval: not mailable yet, not closed.
        "needs_attention": "unconfirmed",
    },
    status_if_filled={"unsubscribed_at": "unsubscribed"},
    # `2023-03-24 10:23:10 UTC`: left to the ISO reader, which reads the trailing UTC as the zone; a strftime
    # `%Z` would skip the name and leave the time naive (configured timezone).
    time_format=None,
)
