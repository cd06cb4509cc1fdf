"""contact_engagement on a small fixture computed by hand, as of 2026-06-30 in Europe/Berlin.

The day ends at 2026-07-01 00:00 Berlin = 2026-06-30 22:00 UTC; the 30-day window starts 30 days earlier,
at 2026-05-31 22:00 UTC; the 365-day purchase window at 2025-06-30 22:00 UTC.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import THROUGH_METRICS

UTC = dt.UTC

EVENTS = """email,event,occurred_at,value
a@example.com,open,2026-05-31T21:59:59Z,
a@example.com,open,2026-05-31T22:00:00Z,
a@example.com,open,2026-06-10T08:00:00Z,
a@example.com,open,2026-06-15T08:00:00Z,
a@example.com,open,2026-06-20T08:00:00Z,
a@example.com,open,2026-06-30T23:30:00,
a@example.com,open,2026-06-30T22:00:00Z,
a@example.com,click,2026-06-20T09:00:00Z,
a@example.com,click,2026-06-25T09:00:00Z,
a@example.com,purchase,2025-07-01T00:00:00Z,10.5
a@example.com,purchase,2026-06-01T00:00:00Z,20
a@example.com,purchase,2025-06-30T21:00:00Z,100
c@example.com,open,2026-03-01T22:00:00Z,
d@example.com,unsubscribe,2026-06-01T00:00:00Z,
e@example.com,open,2026-07-05T10:00:00Z,
"""


@pytest.fixture
def engagement(workspace):
    workspace.drop(
        "contacts.csv",
        "email,created_at\na@example.com,2025-01-01\nb@example.com,2026-06-20\nc@example.com,2025-01-01\n"
        "d@example.com,2025-01-01\ne@example.com,2025-01-01\n",
    )
    workspace.drop("events.csv", EVENTS, folder="events")
    workspace.run(as_of="2026-06-30", only=THROUGH_METRICS)
    rows = workspace.query(
        """select email, last_open_at, last_click_at, opens_30d, clicks_30d, purchases_365d, purchase_value_365d,
                  engagement_score, lifecycle, as_of_date from contact_engagement order by email"""
    )
    return {row[0]: row[1:] for row in rows}


def test_engagement_by_hand(engagement):
    as_of = dt.date(2026, 6, 30)
    # a: 5 opens in the window (the boundary counts, the naive 23:30 Berlin one is 21:30 UTC and counts, the one
    # at 22:00 UTC is already July 1st in Berlin); 2 clicks; 2 purchases within 365 days worth 30.5.
    # score = 30*5/5 + 40*2/3 + 30*(1 - (0.5 h / 24) / 180) = 30 + 26.667 + 29.997 = 86.66 -> 86.7
    assert engagement["a@example.com"] == (
        dt.datetime(2026, 6, 30, 21, 30, tzinfo=UTC),
        dt.datetime(2026, 6, 25, 9, 0, tzinfo=UTC),
        5,
        2,
        2,
        30.5,
        86.7,
        "active",
        as_of,
    )
    # b: nothing yet, created 10 days before the as-of date
    assert engagement["b@example.com"] == (None, None, 0, 0, 0, 0.0, 0.0, "new", as_of)
    # c: one open 121 days before the end of the day: 30 * (1 - 121/180) = 9.83 -> 9.8
    assert engagement["c@example.com"] == (
        dt.datetime(2026, 3, 1, 22, 0, tzinfo=UTC),
        None,
        0,
        0,
        0,
        0.0,
        9.8,
        "lapsing",
        as_of,
    )
    assert engagement["d@example.com"][-2] == "churned"
    # e: its only open is after the as-of date, so it does not count yet
    assert engagement["e@example.com"] == (None, None, 0, 0, 0, 0.0, 0.0, "inactive", as_of)


def test_as_of_sets_the_windows_and_hides_no_input(workspace, engagement):
    workspace.run(as_of="2026-07-10", only=THROUGH_METRICS)
    later = dict(workspace.query("select email, opens_30d from contact_engagement"))
    assert later["e@example.com"] == 1
    # the window is now 2026-06-10 22:00 UTC to 2026-07-10 22:00 UTC: June 15, 20, 30 (21:30) and 30 (22:00)
    assert later["a@example.com"] == 4
    assert workspace.one("select distinct as_of_date from contact_engagement") == (dt.date(2026, 7, 10),)
