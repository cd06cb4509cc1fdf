"""list_health on a hand-computed fixture: three weeks of March 2026 (UTC, engaged window 7 days).

Newsletter members (all imported with consent, day in brackets): a, b, c (03-02), d (03-04), e, f (03-09);
g signs up and confirms by event on 03-15. Events: b unsubscribes 03-05, c hard-bounces 03-06, d
soft-bounces 03-10 and 03-12 (limit 2: bounced 03-12), e complains 03-11. a: delivered and opened 03-03,
clicked 03-10; b: delivered 03-03; f: delivered and opened 03-10. A late event file says a unsubscribed
on 03-08, and brings g.
"""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

import dagster as dg
import pytest

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


@pytest.fixture
def fixture_workspace(workspace):
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


def test_known_answer_with_a_late_event_file(fixture_workspace):
    workspace = fixture_workspace
    workspace.run(as_of="2026-03-16")
    before = newsletter_rows(workspace)
    # before the late file, a is still subscribed from 03-08 on
    assert before["03-08"][:2] == (4, 2) and before["03-16"][:3] == (6, 2, 0)

    workspace.drop("2-late.csv", LATE_EVENTS, folder="events")
    result = workspace.run(as_of="2026-03-16")
    after = newsletter_rows(workspace)
    assert after == EXPECTED
    # only the days from the late file's first day on were recomputed, and the earlier ones did not change
    assert days_recomputed(result) == 9
    assert {day: row for day, row in before.items() if day < "03-08"} == {
        day: row for day, row in after.items() if day < "03-08"
    }


def test_system_lists_and_test_lists(fixture_workspace):
    workspace = fixture_workspace
    workspace.drop(
        "seeds.csv",
        "email,created_at\nseed@example.com,2026-03-02T08:00:00Z\n",
        manifest="consent: confirmed\nlists: [seed-tests]\n",
    )
    workspace.run(as_of="2026-03-16")
    rows = {
        (list_id, day.strftime("%m-%d")): (members, subscribed)
        for list_id, day, members, subscribed in workspace.query(
            "select list_id, day, members, subscribed from list_health where day in ('2026-03-06', '2026-03-16')"
        )
    }
    # the seed address counts in its test list, never in the system lists
    assert rows[("seed-tests", "03-16")] == (1, 1)
    assert rows[("all", "03-16")] == (6, 2)  # a to f; a and f subscribed (no late file in this test)
    assert rows[("subscribed", "03-06")] == (2, 2) and rows[("subscribed", "03-16")] == (2, 2)
    assert rows[("suppressed", "03-16")] == (4, 0)  # b, c, d, e


def test_backfill_of_an_earlier_as_of_gives_the_rows_of_that_day(fixture_workspace):
    workspace = fixture_workspace
    workspace.run(as_of="2026-03-16")
    current = workspace.query(f"select list_id, {COLUMNS} from list_health order by all")
    held = [row for row in current if row[1] <= dt.date(2026, 3, 12)]
    workspace.run(as_of="2026-03-12")
    # the backfill's rows are read as of its day; the current view stays on the newest as-of day
    assert (
        workspace.query(
            f"select list_id, {COLUMNS} from list_health_at(version_as_of('list_health', date '2026-03-12')) order by all"
        )
        == held
    )
    assert workspace.query(f"select list_id, {COLUMNS} from list_health order by all") == current
    workspace.run(as_of="2026-03-16")
    assert workspace.query(f"select list_id, {COLUMNS} from list_health order by all") == current
    assert newsletter_rows(workspace)["03-16"] == (6, 2, 0, 0, 0, 0, 0, 0.0, 0.0, 1.0, 0.5, 0.5, N)


def test_invalid_rate_counts_invalid_rows_offered_to_the_list_on_the_load_day(workspace):
    workspace.drop("offer.csv", "email\nok@example.com\nbad@@example.com\nalso-ok@example.com\nnope\n")
    today = dt.datetime.now(dt.UTC).astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin")).date()
    workspace.run(as_of=today.isoformat())
    assert workspace.one(
        "select invalid_rate from list_health where list_id = 'newsletter' and day = ?", [today]
    ) == (0.5,)
    assert workspace.one(
        "select invalid_rate from list_health where list_id = 'subscribed' and day = ?", [today]
    ) == (None,)


class ChartCounter(HTMLParser):
    def __init__(self):
        super().__init__()
        self.charts = 0
        self.scripts_with_src = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "div" and "plotly-graph-div" in (attributes.get("class") or ""):
            self.charts += 1
        if tag in ("script", "link") and (attributes.get("src") or attributes.get("href")):
            self.scripts_with_src += 1


def test_report_has_one_chart_per_list_and_needs_no_network(fixture_workspace):
    workspace = fixture_workspace
    workspace.write_segment("everyone", "select contact_id from contacts")
    result = workspace.run(as_of="2026-03-16")
    path = workspace.paths.data_dir / "reports" / "list_health.html"
    parser = ChartCounter()
    parser.feed(path.read_text(encoding="utf-8"))
    lists = workspace.one("select count(*) from lists")[0]
    assert parser.charts == lists + 1  # one per list, one of segment sizes
    assert parser.scripts_with_src == 0  # plotly.js is inline: nothing to fetch
    materialization = next(m for m in result.asset_materializations_for_node("list_health_report"))
    assert materialization.metadata["path"].value == str(path)


def days_reported(result) -> dict[str, dict[str, float | None]]:
    """list_health_by_day's materializations in a run: partition -> figures."""
    return {
        event.partition: {key: value.value for key, value in event.metadata.items()}
        for event in result.asset_materializations_for_node("list_health")
        if event.asset_key == dg.AssetKey("list_health_by_day")
    }


def test_every_recomputed_day_is_a_partition_of_list_health_by_day(fixture_workspace):
    workspace = fixture_workspace
    first = days_reported(workspace.run(as_of="2026-03-16"))
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
    assert sorted(days_reported(workspace.run(as_of="2026-03-17"))) == ["2026-03-17"]
