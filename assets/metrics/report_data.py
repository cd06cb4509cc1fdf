"""What the list-health report shows, read once from the public views: per list a summary and its figures by
day, week and month; the segments' performance; the overlap of every pair of audiences; the back-tests.

The HTML (report_html.py) and the PDF (report_pdf.py) draw the same ReportData, so they cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb

from assets.metrics.deliverability import BOUNCE_RATE_LIMIT, COMPLAINT_RATE_LIMIT, RATE_LIMITS
from assets.metrics.deliverability import over_limit as rate_over_limit

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")  # series colours, the same in HTML and PDF
GRAINS = ("week", "month", "day")  # the order of the report's buttons; the first is the default view
WINDOW_DAYS = 30  # the summary compares the last 30 days with the 30 before


@dataclass(frozen=True)
class Series:
    column: str
    label: str
    style: str = "line"  # 'line' or 'bar'
    sign: int = 1  # -1 draws a count below the axis (churned)


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    y_title: str
    series: tuple[Series, ...]
    percent: bool = False
    limits: tuple[tuple[float, str], ...] = ()
    subscribers: bool = True  # about subscribed members: cannot exist for the `suppressed` list


# Figures per period: sizes at the period's last day, counts summed over it, rates over the period (see
# PERIOD_SQL); the definitions are the README's ("List-health metrics").
CHARTS = (
    Chart(
        "size",
        "Members and subscribers",
        "contacts at the end of the period",
        (Series("members", "members"), Series("subscribed", "subscribed")),
        subscribers=False,
    ),
    Chart(
        "flow",
        "New subscribers and churned",
        "contacts in the period",
        (
            Series("new_subscribers", "new subscribers", "bar"),
            Series("churned", "churned (unsubscribed, bounced, complained)", "bar", -1),
        ),
    ),
    Chart(
        "rates",
        "Growth and churn rate",
        "% of subscribers at the period's start",
        (Series("growth_rate", "net growth rate"), Series("churn_rate", "churn rate")),
        percent=True,
    ),
    Chart(
        "engagement",
        "Engagement rate",
        "% of subscribers with an open or click in the engaged window",
        (Series("engagement_rate", "engagement rate"),),
        percent=True,
    ),
    Chart(
        "deliverability",
        "Bounces, complaints and unsubscribes per message sent",
        "% of messages sent in the period",
        (
            Series("bounce_rate", "bounce rate"),
            Series("complaint_rate", "complaint rate"),
            Series("unsubscribe_rate", "unsubscribe rate"),
        ),
        percent=True,
        limits=(
            (BOUNCE_RATE_LIMIT, f"bounce limit {BOUNCE_RATE_LIMIT:.0%}"),
            (COMPLAINT_RATE_LIMIT, f"complaint limit {COMPLAINT_RATE_LIMIT:.1%}"),
        ),
    ),
)
PERIOD_COLUMNS = tuple(
    dict.fromkeys(["period", "days", *(s.column for chart in CHARTS for s in chart.series), "messages_sent"])
)

# One row per list and period. A rate over a period divides its counts by the subscribers at the end of the
# day before the period (null on a list's first period: there is no day before it); deliverability rates
# divide the period's events by its messages sent (list_health's daily counts; hard bounces only, as its
# bounce_rate).
PERIOD_SQL = """
with daily as (
    select *, lag(subscribed) over (partition by list_id order by day) as subscribed_before,
           date_trunc($grain, day)::date as period
    from list_health
    where day <= $as_of
)
select list_id, period, count(*) as days,
       arg_max(members, day) as members,
       arg_max(subscribed, day) as subscribed,
       sum(new_subscribers) as new_subscribers,
       sum(churned) as churned,
       round((sum(new_subscribers) - sum(churned)) / nullif(arg_min_null(subscribed_before, day), 0), 4) as growth_rate,
       round(sum(churned) / nullif(arg_min_null(subscribed_before, day), 0), 4) as churn_rate,
       arg_max(engagement_rate, day) as engagement_rate,
       round(sum(hard_bounce_events) / nullif(sum(messages_sent), 0), 6) as bounce_rate,
       round(sum(complaint_events) / nullif(sum(messages_sent), 0), 6) as complaint_rate,
       round(sum(unsubscribe_events) / nullif(sum(messages_sent), 0), 6) as unsubscribe_rate,
       sum(messages_sent) as messages_sent
from daily
group by list_id, period
order by list_id, period
"""

# The summary of each list: now, the last WINDOW_DAYS days and the WINDOW_DAYS before.
SUMMARY_SQL = """
with windows as (
    select *, case when day > $as_of::date - $window then 'last' when day > $as_of::date - 2 * $window then 'prior' end as window_name,
           lag(subscribed) over (partition by list_id order by day) as subscribed_before
    from list_health
    where day <= $as_of
)
select list_id,
       max(members) filter (where day = $as_of) as members,
       max(subscribed) filter (where day = $as_of) as subscribed,
       sum(new_subscribers - churned) filter (where window_name = 'last') as net_growth,
       sum(new_subscribers - churned) filter (where window_name = 'prior') as net_growth_prior,
       sum(churned) filter (where window_name = 'last') as churned,
       sum(churned) filter (where window_name = 'prior') as churned_prior,
       round(sum(churned) filter (where window_name = 'last')
             / nullif(arg_min_null(subscribed_before, day) filter (where window_name = 'last'), 0), 4) as churn_rate,
       max(engagement_rate) filter (where day = $as_of) as engagement_rate,
       sum(messages_sent) filter (where window_name = 'last') as messages_sent,
       round(sum(hard_bounce_events) filter (where window_name = 'last')
             / nullif(sum(messages_sent) filter (where window_name = 'last'), 0), 4) as bounce_rate,
       round(sum(complaint_events) filter (where window_name = 'last')
             / nullif(sum(messages_sent) filter (where window_name = 'last'), 0), 4) as complaint_rate
from windows
group by list_id
"""
SUMMARY_COLUMNS = (
    "members",
    "subscribed",
    "net_growth",
    "net_growth_prior",
    "churned",
    "churned_prior",
    "churn_rate",
    "engagement_rate",
    "messages_sent",
    "bounce_rate",
    "complaint_rate",
)
# Each summary figure and its definition, in the order the table shows them (the report prints the definitions).
SUMMARY_LABELS = (
    ("subscribed", "Subscribers", "members subscribed at the end of the as-of day"),
    ("members", "Members", "members at the end of the as-of day, whatever their status"),
    ("net_growth", "Net growth, 30 d", "new subscribers minus churned over the last 30 days"),
    ("net_growth_prior", "Net growth, 30 d before", "the same over the 30 days before those"),
    ("churned", "Churned, 30 d", "subscribers who unsubscribed, bounced or complained in the last 30 days"),
    ("churn_rate", "Churn rate, 30 d", "churned in the last 30 days / subscribers 30 days ago"),
    (
        "engagement_rate",
        "Engagement",
        "subscribers with an open or click in the engaged window ending on the as-of day / subscribers",
    ),
    (
        "messages_sent",
        "Sent, 30 d",
        "messages sent (sent or delivered events) to members in the last 30 days",
    ),
    (
        "bounce_rate",
        "Bounce rate, 30 d",
        f"hard bounces / messages sent in the last 30 days; limit {BOUNCE_RATE_LIMIT:.0%}",
    ),
    (
        "complaint_rate",
        "Complaint rate, 30 d",
        f"spam complaints / messages sent in the last 30 days; limit {COMPLAINT_RATE_LIMIT:.1%}",
    ),
)
PERCENT_FIGURES = frozenset({"churn_rate", "engagement_rate", "bounce_rate", "complaint_rate"})

SEGMENTS_SQL = """
with latest as (
    select * from segment_health
    qualify row_number() over (partition by segment_id order by as_of_date desc, version desc) = 1
)
select s.segment_id, s.description, s.member_count, l.version, l.as_of_date, l.entered, l.exited,
       l.open_rate, l.click_rate
from segments s
left join latest l using (segment_id)
order by s.segment_id
"""
SEGMENT_LABELS = (
    ("member_count", "Members", "members of the current version"),
    ("entered", "Entered", "members who joined at the segment's last change"),
    ("exited", "Exited", "members who left at the segment's last change"),
    ("open_rate", "Open rate", "members with an open in the engaged window / members reached in it"),
    ("click_rate", "Click rate", "members with a click in the engaged window / members reached in it"),
    ("version", "Changed at version", "the version of the segment's last change of membership"),
)


@dataclass
class ListReport:
    list_id: str
    name: str
    kind: str
    summary: dict
    periods: dict[str, list[dict]] = field(default_factory=dict)  # grain -> rows of PERIOD_COLUMNS

    @property
    def title(self) -> str:
        return f"{self.name} ({self.list_id}, {self.kind} list)"

    def charts(self) -> list[tuple[Chart, tuple[Series, ...]]]:
        """The charts this list can have, each with the series that hold a value: none for a list without
        members, none about subscribers for `suppressed` (its members are never subscribed)."""
        drawn = []
        for chart in CHARTS:
            if self.list_id == "suppressed" and chart.subscribers:
                continue
            series = tuple(
                s
                for s in chart.series
                if not (self.list_id == "suppressed" and s.column == "subscribed")
                and any(row[s.column] is not None for grain in GRAINS for row in self.periods.get(grain, []))
            )
            if series:
                drawn.append((chart, series))
        return drawn


@dataclass
class Backtest:
    model: str
    as_of_date: dt.date
    horizon_days: int
    n: int | None
    base_rate: float | None
    auc: float | None
    brier: float | None
    calibration: list[dict]
    reason: str | None


@dataclass
class ReportData:
    as_of: dt.date
    lists: list[ListReport]
    segments: list[dict]
    overlap_ids: list[str]  # the audiences of the heat map, lists first
    overlap: dict[tuple[str, str], float | None]  # (row id, column id) -> shared / the smaller
    backtests: list[Backtest]
    segment_sizes: list[tuple[str, int, dt.date, int]]  # (segment_id, version, as_of_date, size)

    def latest_backtests(self) -> list[Backtest]:
        """The newest back-test of each model (the rows are in as-of order)."""
        return list({backtest.model: backtest for backtest in self.backtests}.values())


def dict_rows(con: duckdb.DuckDBPyConnection, sql: str, parameters: dict | list | None = None) -> list[dict]:
    cursor = con.execute(sql, parameters or [])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def read_report_data(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> ReportData:
    catalog = con.execute(
        "select list_id, name, kind from staging.list_catalog order by kind = 'system' desc, list_id"
    ).fetchall()
    summaries = {
        row["list_id"]: row for row in dict_rows(con, SUMMARY_SQL, {"as_of": as_of, "window": WINDOW_DAYS})
    }
    lists = []
    for list_id, name, kind in catalog:
        summary = summaries.get(list_id) or dict.fromkeys(SUMMARY_COLUMNS)
        lists.append(ListReport(list_id, name, kind, summary))
    by_id = {report.list_id: report for report in lists}
    for grain in GRAINS:
        for row in dict_rows(con, PERIOD_SQL, {"grain": grain, "as_of": as_of}):
            if row["list_id"] in by_id:
                by_id[row["list_id"]].periods.setdefault(grain, []).append(
                    {name: row[name] for name in PERIOD_COLUMNS}
                )
    segments = dict_rows(con, SEGMENTS_SQL)
    overlap_rows = con.execute(
        "select kind_a, id_a, kind_b, id_b, members_a, members_b, overlap from list_overlap"
    ).fetchall()
    sizes: dict[str, int] = {}
    overlap: dict[tuple[str, str], float | None] = {}
    for kind_a, id_a, kind_b, id_b, members_a, members_b, value in overlap_rows:
        a, b = audience_label(kind_a, id_a), audience_label(kind_b, id_b)
        sizes[a], sizes[b] = members_a, members_b
        overlap[a, b] = overlap[b, a] = value
    # Audiences with members only: an empty one overlaps nothing and would be a row of blanks.
    overlap_ids = sorted((label for label, size in sizes.items() if size), key=audience_order)
    for label in overlap_ids:
        overlap[label, label] = 1.0
    backtests = [
        Backtest(**row)
        for row in dict_rows(
            con,
            """select model, as_of_date, horizon_days, n, base_rate, auc, brier, calibration, reason
               from prediction_backtest where as_of_date <= ? order by model, as_of_date""",
            [as_of],
        )
    ]
    segment_sizes = con.execute(
        """select segment_id, version, as_of_date, size from segment_health
           where segment_id in (select segment_id from segments) order by segment_id, as_of_date, version"""
    ).fetchall()
    return ReportData(as_of, lists, segments, overlap_ids, overlap, backtests, segment_sizes)


def audience_label(kind: str, audience_id: str) -> str:
    return audience_id if kind == "list" else f"segment: {audience_id}"


def audience_order(label: str) -> tuple:
    return (label.startswith("segment: "), label)


def period_label(grain: str, start: dt.date) -> str:
    if grain == "month":
        return start.strftime("%b %Y")
    if grain == "week":
        return f"week of {start.isoformat()}"
    return start.isoformat()


def format_figure(name: str, value) -> str:
    """A summary figure as the tables show it: percent for rates, thousands separated for counts."""
    if value is None:
        return "–"
    if name in PERCENT_FIGURES:
        return f"{value:.2%}"
    if name.startswith("net_growth"):
        return f"{value:+,}"
    return f"{value:,}"


def over_limit(name: str, value) -> bool:
    """Whether a summary figure breaks its bulk-sender limit (only the bounce and complaint rates have one)."""
    return name in RATE_LIMITS and rate_over_limit(value, RATE_LIMITS[name])
