"""The list-health report, HTML and PDF, on test_list_health's hand-computed fixture (three weeks of March
2026): the summary and the weekly figures have known answers; the charts drawn are the ones each list can
have; the axes read as dates and percent; the PDF has a page per list plus the overview; the served link
opens."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser

import duckdb
import pytest

from assets.metrics.report_data import Backtest, read_report_data
from assets.metrics.report_html import axis_range, backtest_section, chart_figure
from assets.metrics.report_pdf import write_pdf
from tests.conftest import make_workspace
from tests.test_list_health import LATE_EVENTS, drop_fixture
from tests.test_webserver import free_port

AS_OF = dt.date(2026, 3, 16)
REPORT_CONFIG = """
timezone: UTC
lists:
  newsletter: {name: Newsletter}
  seed-tests: {name: Seeds, test: true}
  webinar: {name: Webinar}
rules:
  soft_bounce_limit: 2
  engaged_window_days: 7
reports:
  pdf: true
"""


class ReportParser(HTMLParser):
    """Charts per section, and anything the page would fetch."""

    def __init__(self):
        super().__init__()
        self.section = None
        self.charts: dict[str | None, int] = {}
        self.fetched = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "section":
            self.section = attributes.get("id")
            self.charts.setdefault(self.section, 0)
        if tag == "div" and "plotly-graph-div" in (attributes.get("class") or ""):
            self.charts[self.section] = self.charts.get(self.section, 0) + 1
        if tag in ("script", "link", "img") and (attributes.get("src") or attributes.get("href")):
            self.fetched += 1


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """The fixture run once as of 03-16 (the tests only read it; one that changes it works on a copy)."""
    workspace = make_workspace(tmp_path_factory.mktemp("report"))
    drop_fixture(workspace)
    workspace.paths.config_path.write_text(REPORT_CONFIG)
    workspace.drop("2-late.csv", LATE_EVENTS, folder="events")
    # the webinar list has one member, who joined on the as-of day: a one-day list
    workspace.drop(
        "3.csv",
        "email,created_at\nw@example.com,2026-03-16T08:00:00Z\n",
        manifest="consent: confirmed\nmode: subscribe\nlists: [webinar]\nsource: test form\n",
    )
    workspace.write_segment("everyone", "select contact_id from contacts")
    workspace.write_segment("nobody", "select contact_id from contacts where false")
    return workspace, workspace.run(as_of=AS_OF.isoformat())


def report_data(workspace):
    con = duckdb.connect(str(workspace.paths.warehouse), read_only=True)
    try:
        return read_report_data(con, AS_OF)
    finally:
        con.close()


def test_summary_and_weekly_figures_have_known_answers(reported):
    data = report_data(reported[0])
    newsletter = next(report for report in data.lists if report.list_id == "newsletter")
    summary = newsletter.summary
    # test_list_health's EXPECTED: 7 new and 5 churned from 03-02 to 03-16; the list is younger than 30 days,
    # so there is no churn rate over 30 days (no subscribers 30 days ago) and no prior window
    assert (summary["members"], summary["subscribed"], summary["net_growth"], summary["churned"]) == (
        7,
        2,
        2,
        5,
    )
    assert summary["churn_rate"] is None and summary["net_growth_prior"] is None
    assert summary["engagement_rate"] == 0.5
    weeks = {row["period"]: row for row in newsletter.periods["week"]}
    assert sorted(weeks) == [dt.date(2026, 3, 2), dt.date(2026, 3, 9), dt.date(2026, 3, 16)]
    first, second, third = (weeks[day] for day in sorted(weeks))
    assert (first["members"], first["subscribed"], first["new_subscribers"], first["churned"]) == (4, 1, 4, 3)
    assert first["growth_rate"] is None  # the list's first week: no subscribers before it
    # week of 03-09: 3 new, 2 churned, over the 1 subscriber at the end of 03-08
    assert (second["members"], second["subscribed"], second["growth_rate"], second["churn_rate"]) == (
        7,
        2,
        1.0,
        2.0,
    )
    assert (third["new_subscribers"], third["churned"], third["growth_rate"]) == (0, 0, 0.0)
    assert second["engagement_rate"] == 0.5  # the week's last day, 03-15
    assert len(newsletter.periods["day"]) == 15 and len(newsletter.periods["month"]) == 1


def test_each_list_has_the_charts_it_can_have(reported):
    workspace, result = reported
    data = report_data(workspace)
    charts = {report.list_id: [chart.key for chart, _ in report.charts()] for report in data.lists}
    assert charts["seed-tests"] == []  # no members: no chart at all
    assert charts["suppressed"] == ["size"]  # its members are never subscribed
    suppressed = next(report for report in data.lists if report.list_id == "suppressed")
    assert [s.column for _, series in suppressed.charts() for s in series] == ["members"]
    assert {"size", "flow", "rates", "engagement", "deliverability"} <= set(charts["newsletter"])

    html = (workspace.paths.data_dir / "reports" / "list_health.html").read_text(encoding="utf-8")
    parser = ReportParser()
    parser.feed(html)
    assert parser.fetched == 0  # plotly.js is inline: the report opens offline
    for list_id, keys in charts.items():
        assert parser.charts.get(f"list-{list_id}", 0) == len(keys)
    seeds = html[html.index('id="list-seed-tests"') :]
    assert "No members yet" in seeds[: seeds.index("</section>")]
    assert parser.charts["overlap"] == 1 and parser.charts["segments"] == 1
    # segments: every current one in the table, the one that never had a member named under the chart
    segments = html[html.index('id="segments"') : html.index('id="predictions"')]
    assert "<td>everyone</td>" in segments and "<td>nobody</td>" in segments
    assert "Never had a member, so not charted: nobody" in segments

    # the back-tests: a row per model, with the reason when there was too little history
    predictions = html[html.index('id="predictions"') :]
    predictions = predictions[: predictions.index("</section>")]
    for model, reason in workspace.query("select model, reason from prediction_backtest"):
        assert f"<td>{model}</td>" in predictions and (reason is None or reason in predictions)

    materialization = next(iter(result.asset_materializations_for_node("list_health_report")))
    metadata = materialization.metadata
    assert re.fullmatch(r"http://127\.0\.0\.1:3001/list_health\.html", metadata["open"].value)
    assert metadata["pdf"].value.endswith("list_health.pdf")
    assert "| newsletter | 2 | 7 | +2 |" in metadata["summary"].value


def test_axes_read_as_dates_and_percent(reported):
    data = report_data(reported[0])
    webinar = next(report for report in data.lists if report.list_id == "webinar")
    assert [row["period"] for row in webinar.periods["day"]] == [AS_OF]
    for chart, series in webinar.charts():
        figure = chart_figure(webinar, chart, series)
        layout = figure["layout"]
        start, end = (dt.date.fromisoformat(day) for day in layout["xaxis"]["range"])
        # one day of data still gets an axis of days, not hours of one day
        assert (end - start).days >= 7 and layout["xaxis"]["tickformat"] == "%d %b %Y"
        assert layout["yaxis"]["title"]["text"] and layout["legend"]
        assert (layout["yaxis"].get("tickformat") == ".1%") == chart.percent
        for trace in figure["data"]:
            if trace["type"] == "bar" and trace["visible"]:
                assert trace["width"] == pytest.approx(
                    0.8 * 7 * 86_400_000
                )  # weeks by default: a bar is most of a week
        buttons = layout["updatemenus"][0]["buttons"]
        assert [button["label"] for button in buttons] == ["By week", "By month", "By day"]
    for grain in ("day", "week", "month"):
        start, end = (dt.date.fromisoformat(day) for day in axis_range(webinar.periods[grain], grain))
        assert start < AS_OF < end and (end - start).days >= 7


def pdf_pages(content: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", content))


def test_pdf_has_an_overview_and_a_page_per_list(reported, tmp_path):
    workspace = reported[0].copy_to(tmp_path / "copy")
    pdf = workspace.paths.data_dir / "reports" / "list_health.pdf"
    content = pdf.read_bytes()
    assert content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")
    lists = workspace.one("select count(*) from lists")[0]
    assert pdf_pages(content) == lists + 1
    # with the PDF turned off the file goes, so no stale PDF is served
    workspace.paths.config_path.write_text(REPORT_CONFIG.replace("pdf: true", "pdf: false"))
    workspace.run(as_of=AS_OF.isoformat())
    assert not pdf.exists()
    assert (workspace.paths.data_dir / "reports" / "list_health.html").exists()


def test_served_report_opens_and_nothing_outside_it(workspace):
    reports = workspace.paths.data_dir / "reports"
    reports.mkdir(parents=True)
    (reports / "list_health.html").write_text("<!DOCTYPE html><title>report</title>", encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "CONTACTS_DATA_DIR": str(workspace.paths.data_dir),
        "CONTACTS_CONFIG": str(workspace.paths.config_path),
        "CONTACTS_SEGMENTS_DIR": str(workspace.paths.segments_dir),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "serve-reports", "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"{url}/list_health.html", timeout=5) as response:
                    body = response.read()
                break
            except urllib.error.URLError:
                time.sleep(0.05)
        else:
            pytest.fail("serve-reports did not answer")
        assert body == (reports / "list_health.html").read_bytes()
        # the warehouse and the config beside the reports folder are not served
        for outside in ("/../warehouse.duckdb", "/%2e%2e/warehouse.duckdb", "/../../contacts.yaml"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(url + outside, timeout=5)
            assert refused.value.code == 404
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_computed_back_test_is_charted(reported, tmp_path):
    """Calibration by decile against the diagonal, and AUC over the as-of dates once there are two."""
    data = report_data(reported[0])
    calibration = [
        {"decile": d, "n": 10, "predicted": d / 10 - 0.05, "observed": d / 10 - 0.04} for d in range(1, 11)
    ]
    data.backtests = [
        Backtest("churn_risk", day, 90, 100, 0.3, auc, 0.15, calibration, None)
        for day, auc in ((dt.date(2026, 2, 1), 0.82), (AS_OF, 0.86))
    ]
    section = backtest_section(data)
    assert section.count("plotly-graph-div") == 2  # the newest calibration, and AUC by as-of date
    assert "<td>0.860</td>" in section and "<td>30.0%</td>" in section
    assert write_pdf(data, tmp_path / "report.pdf") == len(data.lists) + 1
