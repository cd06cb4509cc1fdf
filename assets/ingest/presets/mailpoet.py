"""MailPoet subscribers export (MailPoet > Subscribers > Export, CSV).

Sources (mailpoet/mailpoet, GPL: layout from the code, nothing copied):
- mailpoet/lib/Subscribers/ImportExport/Export/Export.php at 3c38dd436608598373799b882f1e92ca37a67a94: UTF-8 BOM,
  every cell quoted, the selected fields then `List`; one row per subscriber and list.
- mailpoet/lib/Subscribers/ImportExport/ImportExportFactory.php at 057f25c1195f39b749638bb7bb9ce835c7b226cd: the
  field labels `Email`, `First name`, `Last name`, `Subscription IP`, `Subscription time`, `Confirmation time`,
  `Confirmation IP`, `List status`, `Global status` (English; a translated site writes translated labels).
- Global status values: subscribed, unconfirmed, unsubscribed, bounced, inactive (MailPoet's
  SubscriberEntity::STATUS_*); times are MySQL datetimes `2024-01-15 10:23:45`.
"""

from assets.ingest.presets.base import Preset

PRESET = Preset(
    name="mailpoet",
    title="MailPoet subscribers export",
    signature=("Email", "List status", "Global status"),
    columns={
        "Email": "email",
        "First name": "first_name",
        "Last name": "last_name",
        # The global status decides whether MailPoet mails the address at all; `List status` is per list and
        # cannot be a second status column (see the report).
        "Global status": "status",
        "Subscription time": "created_at",
    },
    status_values={
        "subscribed": "subscribed",
        "unconfirmed": "unconfirmed",
        "unsubscribed": "unsubscribed",
        "bounced": "bounced",
        # Inactive: MailPoet stopped mailing it for lack of engagement; not an opt-out, and it comes back when
        # the person engages. Not mailable, not closed: unconfirmed.
        "inactive": "unconfirmed",
    },
    time_format=None,
)
