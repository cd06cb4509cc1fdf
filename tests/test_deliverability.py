"""Deliverability in list_health (issue 20, point 4): messages sent per list and day, and the bounce, complaint
and unsubscribe rates over them, on a hand-computed fixture (UTC), by rows (list_health.sql alone) and end to
end (list_health's metadata against the providers' limits).

Lists newsletter (a, b, d) and promo (c; a from 03-03). Statuses: a subscribed; b unsubscribes 03-03 10:00;
c complains 03-03 12:00; d unsubscribes 03-03 08:00 and subscribes again at 09:00; e unsubscribes 03-02 and
bounces 03-03 (on no static list). x is no contact.

03-02: a m1 sent + delivered (1 message); b campaign nl-1 sent + delivered, nl-1b sent (no message_id: 2);
       c m2 sent and hard-bounced; x sent.
03-03: a m3 sent and delivered twice (1); b nl-2 sent and unsubscribed; c m4 sent, delivered, complained;
       d m5 sent; e m6 sent.
03-04: a m3 soft-bounces: nothing sent that day.
"""

from __future__ import annotations

import dagster as dg
import pytest

from assets.metrics.deliverability import BOUNCE_RATE_LIMIT, COMPLAINT_RATE_LIMIT, over_limit
from tests.conftest import THROUGH_METRICS
from tests.model_rows import Rows, config_from_yaml, event

CONFIG = """
timezone: UTC
lists:
  newsletter: {name: Newsletter}
  promo: {name: Promotions}
rules:
  engaged_window_days: 7
"""
ROW_CONFIG = config_from_yaml(CONFIG)
DAY1 = "2026-03-01T08:00:00Z"

EVENTS_0302 = [
    event("a@example.com", "sent", "2026-03-02T09:00:00Z", message_id="m1"),
    event("a@example.com", "delivered", "2026-03-02T09:01:00Z", message_id="m1"),
    event("b@example.com", "sent", "2026-03-02T09:00:00Z", campaign_id="nl-1"),
    event("b@example.com", "delivered", "2026-03-02T09:01:00Z", campaign_id="nl-1"),
    event("b@example.com", "sent", "2026-03-02T09:30:00Z", campaign_id="nl-1b"),
    event("c@example.com", "sent", "2026-03-02T09:00:00Z", message_id="m2"),
    event("c@example.com", "hard_bounce", "2026-03-02T09:05:00Z", message_id="m2"),
    event("x@example.com", "sent", "2026-03-02T09:00:00Z", campaign_id="nl-1"),
]
EVENTS_LATER = [
    event("a@example.com", "sent", "2026-03-03T09:00:00Z", message_id="m3", campaign_id="promo-1"),
    event("a@example.com", "delivered", "2026-03-03T09:01:00Z", message_id="m3", campaign_id="promo-1"),
    event("a@example.com", "delivered", "2026-03-03T09:02:00Z", message_id="m3", campaign_id="promo-1"),
    event("b@example.com", "sent", "2026-03-03T09:00:00Z", campaign_id="nl-2"),
    event("b@example.com", "unsubscribe", "2026-03-03T10:00:00Z", campaign_id="nl-2"),
    event("c@example.com", "sent", "2026-03-03T09:00:00Z", message_id="m4"),
    event("c@example.com", "delivered", "2026-03-03T09:01:00Z", message_id="m4"),
    event("c@example.com", "complaint", "2026-03-03T12:00:00Z", message_id="m4"),
    event("d@example.com", "sent", "2026-03-03T10:00:00Z", message_id="m5"),
    event("e@example.com", "sent", "2026-03-03T11:00:00Z", message_id="m6"),
    event("a@example.com", "soft_bounce", "2026-03-04T09:00:00Z", message_id="m3"),
]

COLUMNS = "messages_sent, hard_bounce_events, soft_bounce_events, complaint_events, unsubscribe_events, bounce_rate, complaint_rate, unsubscribe_rate"
N = None
T = 0.333333
# list -> day -> (messages_sent, hard, soft, complaints, unsubscribes, bounce_rate, complaint_rate, unsubscribe_rate)
EXPECTED = {
    "all": {
        "03-01": (0, 0, 0, 0, 0, N, N, N),
        "03-02": (4, 1, 0, 0, 0, 0.25, 0.0, 0.0),  # a 1, b 2, c 1; x is no contact
        "03-03": (5, 0, 0, 1, 1, 0.0, 0.2, 0.2),  # a's m3 once
        "03-04": (0, 0, 1, 0, 0, N, N, N),  # a soft bounce, nothing sent: no rates
    },
    "newsletter": {
        "03-01": (0, 0, 0, 0, 0, N, N, N),
        "03-02": (3, 0, 0, 0, 0, 0.0, 0.0, 0.0),
        "03-03": (3, 0, 0, 0, 1, 0.0, 0.0, T),  # a, b, d
        "03-04": (0, 0, 1, 0, 0, N, N, N),
    },
    "promo": {
        "03-01": (0, 0, 0, 0, 0, N, N, N),
        "03-02": (1, 1, 0, 0, 0, 1.0, 0.0, 0.0),  # c only: a joins on 03-03
        "03-03": (2, 0, 0, 1, 0, 0.0, 0.5, 0.0),
        "03-04": (0, 0, 1, 0, 0, N, N, N),
    },
    "subscribed": {
        "03-01": (0, 0, 0, 0, 0, N, N, N),
        "03-02": (4, 1, 0, 0, 0, 0.25, 0.0, 0.0),
        # b and c left that day and count; d left and came back: once; e left on 03-02
        "03-03": (4, 0, 0, 1, 1, 0.0, 0.25, 0.25),
        "03-04": (0, 0, 1, 0, 0, N, N, N),
    },
    "suppressed": {
        "03-02": (0, 0, 0, 0, 0, N, N, N),  # e, from 03-02, had no event that day
        # b and c from that day, e (unsubscribed, then bounced: once); d was suppressed within the day only
        "03-03": (3, 0, 0, 1, 1, 0.0, T, T),
        "03-04": (0, 0, 0, 0, 0, N, N, N),
    },
}


def seed_contacts(rows: Rows) -> None:
    rows.contact("a@example.com", DAY1, lists={"newsletter": None, "promo": "2026-03-03T08:00:00Z"})
    b = [("subscribed", DAY1), ("unsubscribed", "2026-03-03T10:00:00Z")]
    rows.contact("b@example.com", DAY1, b, lists={"newsletter": None})
    c = [("subscribed", DAY1), ("complained", "2026-03-03T12:00:00Z")]
    rows.contact("c@example.com", DAY1, c, lists={"promo": None})
    d = [
        ("subscribed", DAY1),
        ("unsubscribed", "2026-03-03T08:00:00Z"),
        ("subscribed", "2026-03-03T09:00:00Z"),
    ]
    rows.contact("d@example.com", DAY1, d, lists={"newsletter": None})
    e = [("subscribed", DAY1), ("unsubscribed", "2026-03-02T10:00:00Z"), ("bounced", "2026-03-03T10:00:00Z")]
    rows.contact("e@example.com", DAY1, e)


def merged(rows: Rows) -> None:
    """The event files as the contacts stage leaves them: merged, so a later run sees only newer files."""
    rows.con.execute("update import_files set merged_at = loaded_at where merged_at is null")


def delivery(rows: Rows, table: str = "staging.list_health") -> dict[str, dict[str, tuple]]:
    found: dict[str, dict[str, tuple]] = {}
    for list_id, day, *values in rows.query(f"select list_id, day, {COLUMNS} from {table} order by all"):
        found.setdefault(list_id, {})[day.strftime("%m-%d")] = tuple(values)
    return found


@pytest.fixture
def rows(tmp_path):
    with Rows(tmp_path / "warehouse.duckdb", ROW_CONFIG) as warehouse:
        warehouse.sync_lists()
        yield warehouse


def test_messages_and_rates_per_list_and_day(rows):
    seed_contacts(rows)
    rows.event_file(*EVENTS_0302)
    rows.event_file(*EVENTS_LATER)
    merged(rows)
    rows.list_health("2026-03-04")
    assert delivery(rows) == EXPECTED


def test_incremental_and_days_ahead_equal_a_rebuild(rows):
    """The day's file, then a later file (recomputed from its first day), then a day with no new file (taken
    from the days ahead): the same rows, here and ahead, as computing everything again."""
    seed_contacts(rows)
    rows.event_file(*EVENTS_0302)
    merged(rows)
    rows.list_health("2026-03-02")
    rows.event_file(*EVENTS_LATER)
    merged(rows)
    assert rows.list_health("2026-03-03").isoformat() == "2026-03-03"
    assert rows.list_health("2026-03-04").isoformat() == "2026-03-04"  # from the days ahead
    incremental = rows.query("select * from staging.list_health order by all")
    # the days ahead go on to a year after 03-03, the as-of date of the last computation
    held_ahead = "select * from staging.list_health_ahead where day <= date '2026-03-03' + 366 order by all"
    ahead = rows.query(held_ahead)
    assert delivery(rows) == EXPECTED
    rows.con.execute("delete from staging.metrics_state")  # forget what was computed: a full recompute
    rows.list_health("2026-03-04")
    assert rows.query("select * from staging.list_health order by all") == incremental
    assert rows.query(held_ahead) == ahead
    # the days ahead carry the new columns too: nothing sent after 03-04
    assert set(delivery(rows, "staging.list_health_ahead")["all"].values()) == {(0, 0, 0, 0, 0, N, N, N)}


def test_over_limit_means_reaching_the_limit():
    assert (COMPLAINT_RATE_LIMIT, BOUNCE_RATE_LIMIT) == (0.003, 0.02)
    assert over_limit(0.003, COMPLAINT_RATE_LIMIT) and over_limit(0.25, BOUNCE_RATE_LIMIT)
    assert not over_limit(0.002999, COMPLAINT_RATE_LIMIT) and not over_limit(None, BOUNCE_RATE_LIMIT)


CONTACTS = "email,created_at\n" + "".join(
    f"{name}@example.com,2026-03-01T08:00:00Z\n" for name in ("a", "b", "c", "d")
)
FILE_EVENTS = """email,event,occurred_at,message_id
a@example.com,sent,2026-03-04T09:00:00Z,m1
a@example.com,delivered,2026-03-04T09:01:00Z,m1
b@example.com,sent,2026-03-04T09:00:00Z,m2
c@example.com,sent,2026-03-04T09:00:00Z,m3
d@example.com,sent,2026-03-04T09:00:00Z,m4
d@example.com,complaint,2026-03-04T11:00:00Z,m4
a@example.com,sent,2026-03-05T09:00:00Z,m5
"""


def list_health_metadata(result) -> dict:
    materialization = next(
        m
        for m in result.asset_materializations_for_node("list_health")
        if m.asset_key == dg.AssetKey("list_health")
    )
    return {key: value.value for key, value in materialization.metadata.items()}


def test_metadata_reports_the_as_of_day_of_all_against_the_limits(workspace):
    workspace.paths.config_path.write_text(CONFIG)
    workspace.drop("1.csv", CONTACTS)
    workspace.drop("1.csv", FILE_EVENTS, folder="events")
    metadata = list_health_metadata(workspace.run(as_of="2026-03-04", only=THROUGH_METRICS))
    assert {
        "all_bounce_rate": 0.0,
        "all_complaint_rate": 0.25,  # d's complaint of 4 messages
        "all_unsubscribe_rate": 0.0,
        "all_bounce_rate_over_limit": False,
        "all_complaint_rate_over_limit": True,
        "bounce_rate_limit": BOUNCE_RATE_LIMIT,
        "complaint_rate_limit": COMPLAINT_RATE_LIMIT,
    }.items() <= metadata.items()
    assert metadata["all_messages_sent"] == 4
    # a later day with nothing over the limits: the same keys
    later = list_health_metadata(workspace.run(as_of="2026-03-05", only=THROUGH_METRICS))
    assert set(later) == set(metadata)
    assert (
        later["all_messages_sent"],
        later["all_complaint_rate"],
        later["all_complaint_rate_over_limit"],
    ) == (
        1,
        0.0,
        False,
    )
