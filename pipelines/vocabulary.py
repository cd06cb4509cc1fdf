"""The words of the product, written once: statuses, system lists, the relations segments read, and the
header names every file may use for the address. Python takes them from here; SQL that needs them gets
them as SQL literals from `sql_list`.
"""

from __future__ import annotations

STATUSES = ("subscribed", "unconfirmed", "unsubscribed", "bounced", "complained")
# Statuses that stop mail for good: only a confirm (double opt-in) reopens them, never an import.
CLOSED_STATUSES = ("unsubscribed", "bounced", "complained")
# Why an address is on the suppression list: a closed status, a manual suppression, or an erasure.
SUPPRESSION_REASONS = (*CLOSED_STATUSES, "manual", "erased")

# Lists every audience has, computed from statuses; a configured list may not take these ids.
SYSTEM_LISTS = {"all": "All contacts", "subscribed": "Subscribed (mailable)", "suppressed": "Suppressed"}

# Relations a segment may read (public, current version), each with the asset that produces it.
SEGMENT_RELATIONS = {
    "contacts": "contacts",
    "contact_engagement": "contact_engagement",
    "list_members": "list_members",
    "lists": "list_members",
    "events": "events",
    "status_history": "status_history",
    "suppressions": "suppressions",
}

# Header cells that name the address column, in contact, event and erasure files alike.
EMAIL_HEADERS = ("email", "e-mail", "email address", "email_address", "e-mail address")


def sql_list(values) -> str:
    """`('a', 'b')` for a SQL `in` test."""
    return "(" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + ")"
