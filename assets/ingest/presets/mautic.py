"""Mautic contacts export (Contacts > Export to CSV).

Sources:
- mautic/mautic app/bundles/LeadBundle/Model/ContactExportSchedulerModel.php (commit
  02e5b53096f9957c7f52a35826deb4dc616a33c7): each row is `Lead::getProfileFields()`, i.e. `id` then every
  contact field by its alias (core fields: title, firstname, lastname, company, position, email, mobile, phone,
  points, fax, address1, ..., preferred_locale, timezone, last_active, attribution_date, attribution, website and
  the social fields); mautic/mautic#11552 added `stage`.
- https://docs.mautic.org/en/contacts/import-contacts (Mautic's own CSV layout: boolean `doNotEmail` with
  true/1/on/yes, tags separated by `|`, dates `2019-01-02 19:08:42`).

The export carries NO do-not-contact (DNC) state: every row of a plain export loads as subscribed. The preset
also reads `doNotEmail` (Mautic's import column, which a user adds from a DNC report) so such a file keeps its
opt-outs.
"""

from assets.ingest.presets.base import Preset

PRESET = Preset(
    name="mautic",
    title="Mautic contacts export",
    # Core Mautic field aliases no other tool's export has together.
    signature=("email", "points", "preferred_locale", "attribution_date"),
    columns={
        "email": "email",
        "firstname": "first_name",
        "lastname": "last_name",
        "tags": "tags",
        "dateAdded": "created_at",
        "date_added": "created_at",
    },
    status_flags={"doNotEmail": "unsubscribed"},
    tag_separator="|",
    time_format=None,
)
