"""The words of the product, written once: statuses, event kinds, system lists, the relations segments
read, and the header names (aliases) of contact and event files. Python takes them from here; the SQL models
get them from the renderer (pipelines/warehouse/render.py) as `{statuses}`, `{closed_statuses}`,
`{status_events}`, ... (SQL literals from `sql_list`).
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

# The kinds of event an event file may hold (DESIGN 3.3).
EVENTS = (
    "sent",
    "delivered",
    "open",
    "click",
    "soft_bounce",
    "hard_bounce",
    "complaint",
    "unsubscribe",
    "signup",
    "confirm",
    "purchase",
    # a message the service would not send (a suppressed or rejected address), or is retrying: kept as
    # events, they change no status and count as no reach
    "dropped",
    "deferred",
)
# Events that set a status on their own (a soft bounce does only past soft_bounce_limit, status_history.sql).
STATUS_EVENTS = ("signup", "confirm", "unsubscribe", "hard_bounce", "complaint")
# Events that join a list (their `list` column) and create a contact.
SIGNUP_EVENTS = ("signup", "confirm")
# A person acting on a message; with purchases, what engagement counts.
INTERACTION_EVENTS = ("open", "click")
ENGAGEMENT_EVENTS = (*INTERACTION_EVENTS, "purchase")
# A message that reached the address: the denominator of the engagement rates.
REACH_EVENTS = ("open", "click", "delivered", "sent")

# Header cells that name the address column, in contact, event and erasure files alike.
EMAIL_HEADERS = ("email", "e-mail", "email address", "email_address", "e-mail address")
# Header aliases of the built-in contact fields (a custom field is matched by its own name).
CONTACT_HEADERS: dict[str, tuple[str, ...]] = {
    "email": EMAIL_HEADERS,
    "first_name": ("first_name", "first name", "firstname", "fname", "given name"),
    "last_name": ("last_name", "last name", "lastname", "lname", "surname", "family name"),
    "tags": ("tags", "labels"),
    "status": ("status",),
    "created_at": ("created_at", "signup date", "created", "optin_time"),
}
# Header aliases of the event fields.
EVENT_HEADERS: dict[str, tuple[str, ...]] = {
    "email": EMAIL_HEADERS,
    "event": ("event", "event_type", "event type", "type"),
    "occurred_at": ("occurred_at", "occurred at", "timestamp", "time", "event_time", "date"),
    "campaign_id": ("campaign_id", "campaign id", "campaign"),
    "list": ("list", "list_id"),
    "value": ("value", "amount", "revenue"),
    "url": ("url", "link"),
    "message_id": ("message_id", "message id", "msg_id"),
    "tags": ("tags", "categories", "labels"),
    # true when the service marks an open as made by a machine (Apple Mail privacy protection)
    "machine_open": ("machine_open",),
    # the service's own name of the event (`spamreport`, `Bounce/Permanent/General`)
    "service_event": ("service_event",),
}


def sql_list(values) -> str:
    """`('a', 'b')` for a SQL `in` test."""
    return "(" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + ")"
