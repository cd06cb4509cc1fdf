"""phpList 3 subscribers export (Subscribers > Export), tab-separated.

Sources (phpList/phplist3, AGPL-3.0: layout from the code, nothing copied):
- public_html/lists/admin/actions/export.php at 134481bef48214d718fbb166aff871f75742f85c: TAB-delimited, one
  header cell per selected subscriber column (its label from structure.php, `sysexp:` prefix dropped, ID as
  `id`), then the selected attributes, then `List Membership` (list names separated by spaces).
- public_html/lists/admin/structure.php at 009ff7ee8918ce9eccfcda4b2b9c0431887ee7a3: the labels `Email`,
  `Is this subscriber confirmed`, `Is this subscriber blacklisted`, `Did this subscriber manually confirm`,
  `Number of bounces`, `Entered` (MySQL datetime `2024-01-15 10:23:45`), `Last Modified`.

confirmed and blacklisted are 0/1 columns. The confirmed column is read as the status column (1 subscribed,
0 unconfirmed) because a preset's flags only fire on a true value; blacklisted 1 wins over it (more
restrictive).
"""

from assets.ingest.presets.base import Preset

PRESET = Preset(
    name="phplist",
    title="phpList subscribers export",
    # `List Membership` is always written, whatever columns were selected.
    signature=("Email", "List Membership"),
    columns={
        "Email": "email",
        "Is this subscriber confirmed": "status",
        "Entered": "created_at",
    },
    status_values={"1": "subscribed", "0": "unconfirmed"},
    # phpList blacklists on unsubscribe and, by bounce rule, on bounces: the reason is not in the export.
    status_flags={"Is this subscriber blacklisted": "unsubscribed"},
    time_format=None,
)
