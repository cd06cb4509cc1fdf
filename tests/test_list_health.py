"""list_health on a hand-computed fixture: three weeks of March 2026 (UTC, engaged window 7 days), end to end
(the known answer with a late file, backfills, the report, the daily partitions), and its counting rules
tested by rows: list_health.sql alone on seeded status history, list membership and events.

Newsletter members (all imported with consent, day in brackets): a, b, c (03-02), d (03-04), e, f (03-09);
g signs up and confirms by event on 03-15. Events: b unsubscribes 03-05, c hard-bounces 03-06, d
soft-bounces 03-10 and 03-12 (limit 2: bounced 03-12), e complains 03-11. a: delivered and opened 03-03,
clicked 03-10; b: delivered 03-03; f: delivered and opened 03-10. A late event file says a unsubscribed
on 03-08, and brings g.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import dagster as dg
import pytest

from tests.conftest import INGEST_AND_MERGE, TEST_CONFIG, THROUGH_METRICS
from tests.model_rows import CLOCK, File, Rows, assert_seeding_matches, config_from_yaml, drop, event, seed

CONFIG = """
timezone: UTC
lists:
  newsletter: {name: Newsletter}
  seed-tests: {name: Seeds, test: true}
rules:
  soft_bounce_limit: 2
  engaged_window_days: 7
"""

EVENTS = """email,event,occurred_at
a@example.com,delivered,2026-03-03T09:00:00Z
a@example.com,open,2026-03-03T10:00:00Z
b@example.com,delivered,2026-03-03T09:00:00Z
b@example.com,unsubscribe,2026-03-05T10:00:00Z
c@example.com,hard_bounce,2026-03-06T10:00:00Z
d@example.com,soft_bounce,2026-03-10T10:00:00Z
d@example.com,soft_bounce,2026-03-12T10:00:00Z
e@example.com,complaint,2026-03-11T09:00:00Z
a@example.com,click,2026-03-10T10:00:00Z
f@example.com,delivered,2026-03-10T09:00:00Z
f@example.com,open,2026-03-10T10:00:00Z
"""

LATE_EVENTS = """email,event,occurred_at,list
a@example.com,unsubscribe,2026-03-08T10:00:00Z,
g@example.com,signup,2026-03-15T09:00:00Z,newsletter
g@example.com,confirm,2026-03-15T09:05:00Z,newsletter
"""

COLUMNS = "day, members, subscribed, new_subscribers, unsubscribes, bounces, complaints, churned, growth_rate, churn_rate, engagement_rate, open_rate, click_rate, invalid_rate"
N = None
# day: members, subscribed, new, unsubscribes, bounces, complaints, churned, growth, churn, engagement, open, click, invalid
EXPECTED = {
    "03-02": (3, 3, 3, 0, 0, 0, 0, N, N, 0.0, N, N, N),
    "03-03": (3, 3, 0, 0, 0, 0, 0, 0.0, 0.0, 0.3333, 0.5, 0.0, N),
    "03-04": (4, 4, 1, 0, 0, 0, 0, 0.3333, 0.0, 0.25, 0.5, 0.0, N),
    "03-05": (4, 3, 0, 1, 0, 0, 1, -0.25, 0.25, 0.3333, 0.5, 0.0, N),
    "03-06": (4, 2, 0, 0, 1, 0, 1, -0.3333, 0.3333, 0.5, 0.5, 0.0, N),
    "03-07": (4, 2, 0, 0, 0, 0, 0, 0.0, 0.0, 0.5, 0.5, 0.0, N),
    "03-08": (4, 1, 0, 1, 0, 0, 1, -0.5, 0.5, 0.0, 0.5, 0.0, N),
    "03-09": (6, 3, 2, 0, 0, 0, 0, 2.0, 0.0, 0.0, 0.5, 0.0, N),
    "03-10": (6, 3, 0, 0, 0, 0, 0, 0.0, 0.0, 0.3333, 0.5, 0.5, N),
    "03-11": (6, 2, 0, 0, 0, 1, 1, -0.3333, 0.3333, 0.5, 0.5, 0.5, N),
    "03-12": (6, 1, 0, 0, 1, 0, 1, -0.5, 0.5, 1.0, 0.5, 0.5, N),
    "03-13": (6, 1, 0, 0, 0, 0, 0, 0.0, 0.0, 1.0, 0.5, 0.5, N),
    "03-14": (6, 1, 0, 0, 0, 0, 0, 0.0, 0.0, 1.0, 0.5, 0.5, N),
    "03-15": (7, 2, 1, 0, 0, 0, 0, 1.0, 0.0, 0.5, 0.5, 0.5, N),
    "03-16": (7, 2, 0, 0, 0, 0, 0, 0.0, 0.0, 0.5, 0.5, 0.5, N),
}


def newsletter_rows(workspace):
    return {
        day.strftime("%m-%d"): tuple(values)
        for day, *values in workspace.query(
            f"select {COLUMNS} from list_health where list_id = 'newsletter' order by day"
        )
    }


def days_recomputed(result) -> int:
    materialization = next(
        m
        for m in result.asset_materializations_for_node("list_health")
        if m.asset_key == dg.AssetKey("list_health")
    )
    return materialization.metadata["days_recomputed"].value


def drop_fixture(workspace):
    """The fixture's config, contact files and first event file (the late one is each test's to drop)."""
    workspace.paths.config_path.write_text(CONFIG)
    workspace.drop(
        "1.csv",
        "email,created_at\na@example.com,2026-03-02T08:00:00Z\nb@example.com,2026-03-02T08:00:00Z\n"
        "c@example.com,2026-03-02T08:00:00Z\nd@example.com,2026-03-04T08:00:00Z\n",
    )
    workspace.drop(
        "2.csv", "email,created_at\ne@example.com,2026-03-09T08:00:00Z\nf@example.com,2026-03-09T08:00:00Z\n"
    )
    workspace.drop("1.csv", EVENTS, folder="events")
    return workspace


@pytest.fixture
def fixture_workspace(workspace):
    return drop_fixture(workspace)


def test_known_answer_with_a_late_event_file(fixture_workspace):
    workspace = fixture_workspace
    workspace.run(as_of="2026-03-16", only=THROUGH_METRICS)
    before = newsletter_rows(workspace)
    # before the late file, a is still subscribed from 03-08 on
    assert before["03-08"][:2] == (4, 2) and before["03-16"][:3] == (6, 2, 0)

    workspace.drop("2-late.csv", LATE_EVENTS, folder="events")
    result = workspace.run(as_of="2026-03-16", only=THROUGH_METRICS)
    after = newsletter_rows(workspace)
    assert after == EXPECTED
    # only the days from the late file's first day on were recomputed, and the earlier ones did not change
    assert days_recomputed(result) == 9
    assert {day: row for day, row in before.items() if day < "03-08"} == {
        day: row for day, row in after.items() if day < "03-08"
    }


def test_backfill_of_an_earlier_as_of_gives_the_rows_of_that_day(fixture_workspace):
    workspace = fixture_workspace
    workspace.run(as_of="2026-03-16", only=THROUGH_METRICS)
    current = workspace.query(f"select list_id, {COLUMNS} from list_health order by all")
    held = [row for row in current if row[1] <= dt.date(2026, 3, 12)]
    workspace.run(as_of="2026-03-12", only=THROUGH_METRICS)
    # the backfill's rows are read as of its day; the current view stays on the newest as-of day
    assert (
        workspace.query(
            f"select list_id, {COLUMNS} from list_health_at(version_as_of('list_health', date '2026-03-12')) order by all"
        )
        == held
    )
    assert workspace.query(f"select list_id, {COLUMNS} from list_health order by all") == current
    workspace.run(as_of="2026-03-16", only=THROUGH_METRICS)
    assert workspace.query(f"select list_id, {COLUMNS} from list_health order by all") == current
    assert newsletter_rows(workspace)["03-16"] == (6, 2, 0, 0, 0, 0, 0, 0.0, 0.0, 1.0, 0.5, 0.5, N)


def days_reported(result) -> dict[str, dict[str, float | None]]:
    """list_health_by_day's materializations in a run: partition -> figures."""
    return {
        event.partition: {key: value.value for key, value in event.metadata.items()}
        for event in result.asset_materializations_for_node("list_health")
        if event.asset_key == dg.AssetKey("list_health_by_day")
    }


def test_every_recomputed_day_is_a_partition_of_list_health_by_day(fixture_workspace):
    workspace = fixture_workspace
    first = days_reported(workspace.run(as_of="2026-03-16", only=THROUGH_METRICS))
    assert sorted(first) == [f"2026-03-{day:02d}" for day in range(2, 17)]
    rows = workspace.query(
        "select day::varchar, members, new_subscribers, churned, churn_rate from list_health where list_id = 'newsletter'"
    )
    for day, members, new, churned, churn_rate in rows:
        figures = first[day]
        assert (
            figures["newsletter_members"],
            figures["newsletter_new_subscribers"],
            figures["newsletter_churned"],
        ) == (members, new, churned)
        assert figures["newsletter_churn_rate"] == churn_rate
    # the same keys every day, so each figure is one line over the days
    assert len({frozenset(figures) for figures in first.values()}) == 1
    assert {"all_growth_rate", "subscribed_members", "newsletter_engagement_rate"} <= set(first["2026-03-16"])
    # the next day's run reports the days it recomputed, not the whole history again
    assert sorted(days_reported(workspace.run(as_of="2026-03-17", only=THROUGH_METRICS))) == ["2026-03-17"]


def test_only_the_last_days_reported_become_partitions(fixture_workspace, monkeypatch):
    """A first load of years of history reports its last DAYS_REPORTED days, not every day (each is a Dagster
    event); list_health itself holds every day."""
    import assets.metrics.asset_defs as metrics_assets

    monkeypatch.setattr(metrics_assets, "DAYS_REPORTED", 5)
    reported = days_reported(fixture_workspace.run(as_of="2026-03-16", only=THROUGH_METRICS))
    assert sorted(reported) == [f"2026-03-{day:02d}" for day in range(12, 17)]
    (days,) = fixture_workspace.query(
        "select count(distinct day) from list_health where day <= '2026-03-16'"
    )[0]
    assert days == 15


# -- By rows: list_health.sql alone (assets/metrics/health.py compute_list_health) on seeded inputs ---------------

ROW_CONFIG = config_from_yaml(CONFIG)
NEWSLETTER = {"newsletter": None}  # a member of the newsletter from the contact's created_at


@pytest.fixture
def rows(tmp_path):
    with Rows(tmp_path / "warehouse.duckdb", ROW_CONFIG) as warehouse:
        warehouse.sync_lists()
        yield warehouse


def health(rows, list_id: str, columns: str) -> dict[str, tuple]:
    """list_id's rows: MM-DD -> the columns."""
    return {
        day.strftime("%m-%d"): tuple(values)
        for day, *values in rows.query(
            f"select day, {columns} from staging.list_health where list_id = ? order by day", [list_id]
        )
    }


def csv_events(text: str) -> list[dict]:
    return [{k: v for k, v in row.items() if v} for row in csv.DictReader(io.StringIO(text))]


def seed_fixture_state(rows, late: bool, seeds: bool = False) -> None:
    """The fixture of the end-to-end tests as the contacts stage leaves it (status history, contacts, list
    membership, events); `late`: with the late event file, `seeds`: with the seed address of a test list."""
    histories = {
        "a": [("subscribed", "2026-03-02T08:00:00Z")]
        + ([("unsubscribed", "2026-03-08T10:00:00Z")] if late else []),
        "b": [("subscribed", "2026-03-02T08:00:00Z"), ("unsubscribed", "2026-03-05T10:00:00Z")],
        "c": [("subscribed", "2026-03-02T08:00:00Z"), ("bounced", "2026-03-06T10:00:00Z")],
        "d": [
            ("subscribed", "2026-03-04T08:00:00Z"),
            ("bounced", "2026-03-12T10:00:00Z"),
        ],  # soft-bounce limit
        "e": [("subscribed", "2026-03-09T08:00:00Z"), ("complained", "2026-03-11T09:00:00Z")],
        "f": [("subscribed", "2026-03-09T08:00:00Z")],
    }
    if late:  # g signs up and confirms, for the newsletter
        histories["g"] = [("unconfirmed", "2026-03-15T09:00:00Z"), ("subscribed", "2026-03-15T09:05:00Z")]
    for name, history in histories.items():
        rows.contact(f"{name}@example.com", history[0][1], history, lists=NEWSLETTER)
    if seeds:
        rows.contact("seed@example.com", "2026-03-02T08:00:00Z", lists={"seed-tests": None})
    rows.event_file(*csv_events(EVENTS))
    if late:
        rows.event_file(*csv_events(LATE_EVENTS))


def test_known_answer_by_rows(rows):
    seed_fixture_state(rows, late=True)
    rows.list_health("2026-03-16")
    assert health(rows, "newsletter", COLUMNS.removeprefix("day, ")) == EXPECTED


def test_system_lists_and_test_lists(rows):
    seed_fixture_state(rows, late=False, seeds=True)
    rows.list_health("2026-03-16")
    found = {
        (list_id, day.strftime("%m-%d")): (members, subscribed)
        for list_id, day, members, subscribed in rows.query(
            "select list_id, day, members, subscribed from staging.list_health where day in ('2026-03-06', '2026-03-16')"
        )
    }
    # the seed address counts in its test list, never in the system lists
    assert found[("seed-tests", "03-16")] == (1, 1)
    assert found[("all", "03-16")] == (6, 2)  # a to f; a and f subscribed (no late file in this test)
    assert found[("subscribed", "03-06")] == (2, 2) and found[("subscribed", "03-16")] == (2, 2)
    assert found[("suppressed", "03-16")] == (4, 0)  # b, c, d, e


def test_counts_are_end_of_day_and_a_subscription_within_one_day_counts_nowhere(rows):
    # x subscribes and unsubscribes on 03-02; y subscribes on 03-02 and unsubscribes on 03-03
    x = [("subscribed", "2026-03-02T08:00:00Z"), ("unsubscribed", "2026-03-02T20:00:00Z")]
    rows.contact("x@example.com", "2026-03-02T08:00:00Z", x, lists=NEWSLETTER)
    y = [("subscribed", "2026-03-02T09:00:00Z"), ("unsubscribed", "2026-03-03T10:00:00Z")]
    rows.contact("y@example.com", "2026-03-02T09:00:00Z", y, lists=NEWSLETTER)
    rows.list_health("2026-03-04")
    columns = "members, subscribed, new_subscribers, unsubscribes, churned"
    assert health(rows, "newsletter", columns) == {
        "03-02": (2, 1, 1, 0, 0),
        "03-03": (2, 0, 0, 1, 1),
        "03-04": (2, 0, 0, 0, 0),
    }
    assert health(rows, "subscribed", "members") == {"03-02": (1,), "03-03": (0,), "03-04": (0,)}
    assert health(rows, "suppressed", "members") == {"03-02": (1,), "03-03": (2,), "03-04": (2,)}


def test_new_subscribers_are_subscriptions_that_start_on_the_day(rows):
    rows.contact("imported@example.com", "2026-03-02T08:00:00Z", lists=NEWSLETTER)
    # signs up for the newsletter on 03-03, confirms on 03-05: new on the confirm day
    confirmed = [("unconfirmed", "2026-03-03T08:00:00Z"), ("subscribed", "2026-03-05T08:00:00Z")]
    rows.contact("confirmed@example.com", "2026-03-03T08:00:00Z", confirmed, lists=NEWSLETTER)
    # subscribed since 03-01, joins the newsletter on 03-04: new to the newsletter that day
    rows.contact("joiner@example.com", "2026-03-01T08:00:00Z", lists={"newsletter": "2026-03-04T08:00:00Z"})
    # leaves on 03-03 and confirms again on 03-06: new twice
    back = [
        ("subscribed", "2026-03-02T08:00:00Z"),
        ("unsubscribed", "2026-03-03T08:00:00Z"),
        ("subscribed", "2026-03-06T08:00:00Z"),
    ]
    rows.contact("back@example.com", "2026-03-02T08:00:00Z", back, lists=NEWSLETTER)
    rows.list_health("2026-03-06")
    assert health(rows, "newsletter", "members, subscribed, new_subscribers, churned") == {
        "03-02": (2, 2, 2, 0),
        "03-03": (3, 1, 0, 1),
        "03-04": (4, 2, 1, 0),
        "03-05": (4, 3, 1, 0),
        "03-06": (4, 4, 1, 0),
    }
    # on the system list the joiner was new on 03-01, when it subscribed
    assert health(rows, "subscribed", "new_subscribers")["03-01"] == (1,)


def test_churn_by_the_status_it_changed_to_and_rates_over_the_day_before(rows):
    for name, closed in (("u", "unsubscribed"), ("b", "bounced"), ("c", "complained")):
        history = [("subscribed", "2026-03-02T08:00:00Z"), (closed, "2026-03-03T10:00:00Z")]
        rows.contact(f"{name}@example.com", "2026-03-02T08:00:00Z", history, lists=NEWSLETTER)
    stays = [("subscribed", "2026-03-02T08:00:00Z"), ("unsubscribed", "2026-03-04T10:00:00Z")]
    rows.contact("s@example.com", "2026-03-02T08:00:00Z", stays, lists=NEWSLETTER)
    rows.contact("n@example.com", "2026-03-06T08:00:00Z", lists=NEWSLETTER)
    rows.list_health("2026-03-06")
    columns = (
        "subscribed, new_subscribers, unsubscribes, bounces, complaints, churned, growth_rate, churn_rate"
    )
    assert health(rows, "newsletter", columns) == {
        "03-02": (4, 4, 0, 0, 0, 0, None, None),  # the list's first day: no day before
        "03-03": (1, 0, 1, 1, 1, 3, -0.75, 0.75),
        "03-04": (0, 0, 1, 0, 0, 1, -1.0, 1.0),
        "03-05": (0, 0, 0, 0, 0, 0, None, None),  # nobody subscribed the day before
        "03-06": (1, 1, 0, 0, 0, 0, None, None),
    }


def test_engagement_rate_counts_subscribed_members_with_an_open_or_click_in_the_window(rows):
    rows.contact("s1@example.com", "2026-03-01T08:00:00Z", lists=NEWSLETTER)
    rows.contact("s2@example.com", "2026-03-01T08:00:00Z", lists=NEWSLETTER)
    left = [("subscribed", "2026-03-01T08:00:00Z"), ("unsubscribed", "2026-03-02T08:00:00Z")]
    rows.contact("left@example.com", "2026-03-01T08:00:00Z", left, lists=NEWSLETTER)
    rows.event_file(
        ("s1@example.com", "open", "2026-03-03T10:00:00Z"),  # engaged 03-03 to 03-09 (7 days)
        ("s2@example.com", "click", "2026-03-05T10:00:00Z"),  # 03-05 to 03-11
        ("s1@example.com", "delivered", "2026-03-10T10:00:00Z"),  # no engagement
        ("left@example.com", "open", "2026-03-04T10:00:00Z"),  # not subscribed
    )
    rows.list_health("2026-03-12")
    rates = {day: rate for day, (rate,) in health(rows, "newsletter", "engagement_rate").items()}
    assert rates == {
        "03-01": 0.0,
        "03-02": 0.0,
        "03-03": 0.5,
        "03-04": 0.5,
        "03-05": 1.0,
        "03-06": 1.0,
        "03-07": 1.0,
        "03-08": 1.0,
        "03-09": 1.0,
        "03-10": 0.5,
        "03-11": 0.5,
        "03-12": 0.0,
    }


def test_open_and_click_rates_are_over_the_members_reached_in_the_window(rows):
    for name in ("m1", "m2", "m3"):
        rows.contact(f"{name}@example.com", "2026-03-01T08:00:00Z", lists=NEWSLETTER)
    left = [("subscribed", "2026-03-01T08:00:00Z"), ("unsubscribed", "2026-03-02T08:00:00Z")]
    rows.contact("m4@example.com", "2026-03-01T08:00:00Z", left, lists=NEWSLETTER)  # still a member
    rows.event_file(
        ("m1@example.com", "delivered", "2026-03-03T10:00:00Z"),
        ("m2@example.com", "open", "2026-03-03T10:00:00Z"),  # an open proves delivery
        ("m3@example.com", "sent", "2026-03-03T10:00:00Z"),
        ("m3@example.com", "click", "2026-03-04T10:00:00Z"),
        ("m4@example.com", "open", "2026-03-05T10:00:00Z"),
    )
    rows.list_health("2026-03-12")
    found = health(rows, "newsletter", "open_rate, click_rate")
    assert found["03-02"] == (None, None)  # nobody reached
    assert found["03-03"] == (0.3333, 0.0)  # m1, m2, m3 reached; m2 opened
    assert found["03-04"] == (0.3333, 0.3333)
    assert found["03-05"] == (0.5, 0.25)  # and m4
    assert found["03-10"] == (0.5, 0.5)  # m1's and m2's windows ended on 03-09: m3 and m4 are left
    assert found["03-12"] == (None, None)


OFFER = File(
    "contacts",
    "offer.csv",
    text="email\nok@example.com\nbad@@example.com\nalso-ok@example.com\nnope\n",
    rows=[{"email": "ok@example.com"}, {"email": "also-ok@example.com"}],
    rejected=((2, "invalid_email"), (4, "invalid_email")),
)
# offered to no list, so only to `all`: a missing address is offered but not invalid
UNLISTED = File(
    "contacts",
    "unlisted.csv",
    text="email,first_name\nother@example.com,Otto\n,Nobody\n",
    rows=[{"email": "other@example.com", "first_name": "Otto"}],
    rejected=((2, "missing_email"),),
    lists=(),
)


def test_invalid_rate_counts_invalid_rows_offered_to_the_list_on_the_load_day(rows):
    seed(rows, [OFFER, UNLISTED])  # both loaded on one day
    for email in ("ok@example.com", "also-ok@example.com"):
        rows.contact(email, CLOCK, lists=NEWSLETTER)
    rows.contact("other@example.com", CLOCK)
    today = CLOCK.date()
    rows.list_health(today + dt.timedelta(days=1))
    invalid = "select invalid_rate from staging.list_health where list_id = ? and day = ?"
    assert rows.one(invalid, ["newsletter", today]) == (0.5,)
    assert rows.one(invalid, ["subscribed", today]) == (None,)
    assert rows.one(invalid, ["all", today]) == (0.3333,)  # 2 of the 6 rows of both files
    assert rows.one(invalid, ["newsletter", today + dt.timedelta(days=1)]) == (None,)  # nothing loaded


def test_ingest_rejects_what_the_invalid_rate_rows_seed(workspace, tmp_path):
    drop(workspace, [OFFER, UNLISTED])
    workspace.run(only=INGEST_AND_MERGE)
    assert_seeding_matches(workspace, [OFFER, UNLISTED], tmp_path / "seeded.duckdb")


def test_days_are_in_the_configured_timezone(tmp_path):
    with Rows(tmp_path / "warehouse.duckdb", config_from_yaml(TEST_CONFIG)) as rows:  # Europe/Berlin
        rows.sync_lists()
        rows.contact("late@example.com", "2026-03-01T23:30:00Z", lists=NEWSLETTER)  # 00:30 on 03-02
        rows.event_file(event("late@example.com", "open", "2026-03-02T23:30:00Z"))  # 00:30 on 03-03
        rows.list_health("2026-03-04")
        assert health(rows, "newsletter", "members, new_subscribers, engagement_rate") == {
            "03-02": (1, 1, 0.0),
            "03-03": (1, 0, 1.0),
            "03-04": (1, 0, 1.0),
        }
