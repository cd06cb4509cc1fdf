"""Brevo (ex-Sendinblue) contacts export (Contacts > Export).

Sources:
- https://developers.brevo.com/reference/request-contact-export: the mandatory attributes EMAIL, ADDED_TIME,
  MODIFIED_TIME are exported by default.
- https://help.brevo.com/hc/en-us/articles/208729849: default attributes FIRSTNAME, LASTNAME, EMAIL, SMS, whose
  names follow the account language (PRENOM/NOM in French, VORNAME/NACHNAME in German, ...).
- The blocklist state is exported as EMAIL_BLACKLISTED (older/French exports: BLACKLISTED), a yes/no
  (true/false) column. Brevo blocklists on unsubscribe, hard bounce and complaint alike: the reason is not
  exported, so it is read as unsubscribed (closed).

Brevo writes `;`-separated files; ADDED_TIME is `2023-05-17 14:35:12` (the account's timezone unless the export
asks for UTC).
"""

from assets.ingest.presets.base import Preset

PRESET = Preset(
    name="brevo",
    title="Brevo contacts export",
    signature=("EMAIL", "ADDED_TIME", "MODIFIED_TIME"),
    columns={
        "EMAIL": "email",
        "FIRSTNAME": "first_name",
        "LASTNAME": "last_name",
        "PRENOM": "first_name",
        "NOM": "last_name",
        "VORNAME": "first_name",
        "NACHNAME": "last_name",
        "ADDED_TIME": "created_at",
    },
    status_flags={
        "EMAIL_BLACKLISTED": "unsubscribed",
        "BLACKLISTED": "unsubscribed",
    },
    time_format=None,
)
