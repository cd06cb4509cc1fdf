"""Mailtrap Email Marketing contacts export (Contacts > Export).

Sources:
- mailtrap/mailtrap-openapi specs/contacts.openapi.yml at 06714840ae5213d43fd35fe41cb480c03b6f7d8e (CC BY-SA
  4.0): a contact is `email`, its fields by merge tag (the default ones `first_name`, `last_name`), `status`
  `subscribed` / `unsubscribed` ("unsubscribed" when the address is on the suppression list), `created_at`.
- https://docs.mailtrap.io/email-marketing/contacts (CSV import and export).

The export's header is the fields' merge tags, the same words every generic file uses: it cannot be told apart,
so the preset applies only with `preset: mailtrap`.
"""

from assets.ingest.presets.base import Preset

PRESET = Preset(
    name="mailtrap",
    title="Mailtrap contacts export",
    signature=(),
    columns={
        "email": "email",
        "first_name": "first_name",
        "last_name": "last_name",
        "status": "status",
        "created_at": "created_at",
    },
    status_values={
        "subscribed": "subscribed",
        # On Mailtrap's suppression list: an unsubscribe, a hard bounce or a complaint, not told apart.
        "unsubscribed": "unsubscribed",
    },
    time_format=None,
)
