"""Deliverability limits of the big mailbox providers, in one place (DESIGN 8): list_health's metadata flags
the `all` list's rates against them, and a report can import them.

Sources: Google's and Yahoo's bulk-sender requirements, in force since February 2024 (Gmail: "Email sender
guidelines", support.google.com/a/answer/81126; Yahoo: "Sender Best Practices", senders.yahooinc.com): keep
the spam (complaint) rate below 0.3%, and Google asks for under 0.1%. The providers publish no bounce
limit; 2% hard (permanent) bounces is the common guideline of the sending services, hence hard bounces only
in list_health's bounce_rate.

The rates are list_health's (sql/models/list_health.sql): events of the day over the messages sent that day.
Google's spam rate in Postmaster Tools is over the mail delivered to the inbox, so ours, over every message
sent, reads a little lower than Google's for the same complaints.
"""

from __future__ import annotations

COMPLAINT_RATE_LIMIT = 0.003  # spam complaints / messages: stay below 0.3% (Google, Yahoo, 2024)
COMPLAINT_RATE_TARGET = 0.001  # Google's recommendation: below 0.1%
BOUNCE_RATE_LIMIT = 0.02  # hard bounces / messages: the common sending-service guideline of 2%

# list_health's rate column -> the limit it must stay below.
RATE_LIMITS = {"bounce_rate": BOUNCE_RATE_LIMIT, "complaint_rate": COMPLAINT_RATE_LIMIT}


def over_limit(rate: float | None, limit: float) -> bool:
    """Whether a rate breaks its limit: the providers ask for a rate below it, so reaching it is over. A day
    with nothing sent (rate null) is not."""
    return rate is not None and rate >= limit
