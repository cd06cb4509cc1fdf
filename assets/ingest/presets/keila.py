"""Keila contacts export (Contacts > Export, and a segment's export).

Sources (pentacent/keila, AGPL-3.0: layout from the code, nothing copied):
- lib/keila_web/helpers/contacts_csv_export.ex at 05a8bd1e2c74d7e400f0a527390e105d5819e972: header
  `Email,First name,Last name,Data,Status` (NimbleCSV RFC 4180), Data is the contact's JSON data.
- lib/keila/contacts/schemas/contact.ex at 03e81da3bbc11cd6fcc9367e6700cd1c4a919e77: status is one of
  `active`, `unsubscribed`, `unreachable`.

No date column is exported.
"""

from assets.ingest.presets.base import Preset

PRESET = Preset(
    name="keila",
    title="Keila contacts export",
    # `Data` (the JSON column) sets it apart from other Email/First name/Last name/Status files.
    signature=("Email", "First name", "Last name", "Data", "Status"),
    columns={"Email": "email", "First name": "first_name", "Last name": "last_name", "Status": "status"},
    status_values={
        "active": "subscribed",
        "unsubscribed": "unsubscribed",
        # Keila marks a contact unreachable after a hard bounce (or a complaint it cannot tell apart): bounced.
        "unreachable": "bounced",
    },
)
