"""The list-health report as one self-contained HTML page: plotly.js is embedded once, so it opens offline.

Overview first (a summary per list, the overlap heat map, segment performance, the back-tests), then a
section per list. Each chart has its own legend and axis titles and shows weeks, months or days, one click
apart; rates are percent.
"""

from __future__ import annotations

import datetime as dt
import html

import plotly.io
import plotly.offline

from assets.metrics.report_data import (
    COLORS,
    GRAINS,
    SEGMENT_LABELS,
    SUMMARY_LABELS,
    Backtest,
    Chart,
    ListReport,
    ReportData,
    Series,
    format_figure,
    over_limit,
    period_label,
)

PERIOD_DAYS = {"day": 1, "week": 7, "month": 31}
BUTTON_LABELS = {"week": "By week", "month": "By month", "day": "By day"}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th abbr { text-decoration: underline dotted; cursor: help; }
td.over { color: #b00020; font-weight: 600; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 1rem; }
dl.definitions { font-size: 0.85rem; color: #444; display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dl.definitions dt { font-weight: 600; }
section { margin-bottom: 3rem; }
nav a { margin-right: 1rem; }
.note { color: #555; }
"""


def figure_html(figure: dict) -> str:
    # Figures are plain dicts handed to plotly.io unvalidated: building graph objects validated every property
    # and took most of a small run's report time; the HTML is the same.
    return plotly.io.to_html(
        figure, full_html=False, include_plotlyjs=False, validate=False, config={"displaylogo": False}
    )


def axis_range(rows: list[dict], grain: str) -> list[str]:
    """Half a period either side, and at least a week in all: one point gets a readable axis of dates, not
    an hour-by-hour zoom onto a single day."""
    first, last = rows[0]["period"], rows[-1]["period"]
    pad = dt.timedelta(days=max(PERIOD_DAYS[grain], 7 - (last - first).days // 2))
    return [(first - pad).isoformat(), (last + pad).isoformat()]


def series_trace(
    series: Series, rows: list[dict], grain: str, color: str, visible: bool, percent: bool
) -> dict:
    values = [row[series.column] for row in rows]
    if series.sign < 0:
        values = [None if value is None else -value for value in values]
    trace = {
        "x": [row["period"].isoformat() for row in rows],
        "y": values,
        "name": series.label,
        "legendgroup": series.column,
        "showlegend": visible,
        "visible": visible,
        "marker": {"color": color},
        "customdata": [period_label(grain, row["period"]) for row in rows],
    }
    if series.style == "bar":
        # A bar spans most of its period, also when it is the only one.
        width = PERIOD_DAYS[grain] * 86_400_000 * 0.8
        trace.update(type="bar", width=width, offset=0)
    else:
        trace.update(
            type="scatter", mode="lines+markers" if len(rows) < 40 else "lines", line={"color": color}
        )
    number = ":.2%" if percent else ":,"
    trace["hovertemplate"] = "%{customdata}: %{y" + number + "}<extra>" + series.label + "</extra>"
    return trace


def chart_figure(report: ListReport, chart: Chart, series: tuple[Series, ...]) -> dict:
    data, buttons = [], []
    grains = [grain for grain in GRAINS if report.periods.get(grain)]
    for grain in grains:
        rows = report.periods[grain]
        for index, one in enumerate(series):
            color = COLORS[index % len(COLORS)]
            data.append(series_trace(one, rows, grain, color, grain == grains[0], chart.percent))
    for grain in grains:
        visible = [trace_grain == grain for trace_grain in grains for _ in series]
        buttons.append(
            {
                "label": BUTTON_LABELS[grain],
                "method": "update",
                "args": [
                    {"visible": visible, "showlegend": visible},
                    {"xaxis.range": axis_range(report.periods[grain], grain)},
                ],
            }
        )
    shapes, annotations = [], []
    for value, label in chart.limits:
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": value,
                "y1": value,
                "line": {"dash": "dash", "color": "#b00020", "width": 1},
            }
        )
        annotations.append(
            {
                "text": label,
                "xref": "paper",
                "x": 1,
                "xanchor": "right",
                "y": value,
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"color": "#b00020", "size": 11},
            }
        )
    y_axis: dict = {"title": {"text": chart.y_title}, "zeroline": True, "rangemode": "tozero"}
    if chart.percent:
        y_axis["tickformat"] = ".1%"
    if chart.limits:
        # The limits stay in view even when every rate is far below them.
        y_axis["range"] = [0, max(value for value, _ in chart.limits) * 1.25]
        y_axis["autorange"] = "max"
    layout = {
        "title": {"text": chart.title, "x": 0.02},
        "height": 380,
        "margin": {"t": 70, "b": 90, "l": 70, "r": 20},
        "barmode": "relative",
        "legend": {"orientation": "h", "x": 0, "y": -0.18, "yanchor": "top"},
        "xaxis": {
            "type": "date",
            "range": axis_range(report.periods[grains[0]], grains[0]),
            "nticks": 8,
            "tickformat": "%d %b %Y",
            "title": {"text": "period start"},
        },
        "yaxis": y_axis,
        "shapes": shapes,
        "annotations": annotations,
        "updatemenus": [
            {
                "type": "buttons",
                "direction": "right",
                "x": 1,
                "xanchor": "right",
                "y": 1.18,
                "yanchor": "top",
                "buttons": buttons,
                "showactive": True,
            }
        ]
        if len(buttons) > 1
        else [],
    }
    return {"data": data, "layout": layout}


def cell(name: str, value) -> str:
    text = html.escape(format_figure(name, value))
    if over_limit(name, value):
        return f'<td class="over" title="over the limit">{text} ▲</td>'
    return f"<td>{text}</td>"


def table_html(first_header: str, labels, rows: list[tuple[str, dict]]) -> str:
    head = "".join(
        f'<th><abbr title="{html.escape(definition)}">{html.escape(label)}</abbr></th>'
        for _, label, definition in labels
    )
    body = "".join(
        f"<tr><td>{html.escape(name)}</td>"
        + "".join(cell(key, values.get(key)) for key, _, _ in labels)
        + "</tr>"
        for name, values in rows
    )
    return f"<table><thead><tr><th>{html.escape(first_header)}</th>{head}</tr></thead><tbody>{body}</tbody></table>"


def definitions_html(labels) -> str:
    items = "".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(definition)}</dd>" for _, label, definition in labels
    )
    return f'<dl class="definitions">{items}</dl>'


def heatmap_figure(data: ReportData) -> dict:
    ids = data.overlap_ids
    z = [[data.overlap.get((row, column)) for column in ids] for row in ids]
    text = [["" if value is None else f"{value:.0%}" for value in row] for row in z]
    return {
        "data": [
            {
                "type": "heatmap",
                "x": ids,
                "y": ids,
                "z": z,
                "text": text,
                "texttemplate": "%{text}",
                "zmin": 0,
                "zmax": 1,
                "colorscale": "Blues",
                "colorbar": {"tickformat": ".0%", "title": {"text": "overlap"}},
                "hovertemplate": "%{y} and %{x}: %{z:.1%} of the smaller<extra></extra>",
            }
        ],
        "layout": {
            "title": {
                "text": "Audience overlap: shared members / members of the smaller audience",
                "x": 0.02,
            },
            "height": max(360, 60 + 36 * len(ids)),
            "yaxis": {"autorange": "reversed", "automargin": True},
            "xaxis": {"automargin": True, "tickangle": -30},
            "margin": {"t": 60},
        },
    }


def segment_sizes_figure(data: ReportData) -> dict:
    versions = sorted({row[1] for row in data.segment_sizes})
    labels = {version: f"v{version}" for version in versions}
    traces = []
    for index, segment_id in enumerate(sorted({row[0] for row in data.segment_sizes})):
        points = [row for row in data.segment_sizes if row[0] == segment_id]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": segment_id,
                "x": [labels[p[1]] for p in points],
                "y": [p[3] for p in points],
                "customdata": [p[2].isoformat() for p in points],
                "hovertemplate": "%{x} (as of %{customdata}): %{y:,} members<extra>"
                + segment_id
                + "</extra>",
                "marker": {"color": COLORS[index % len(COLORS)], "size": 9},
            }
        )
    return {
        "data": traces,
        "layout": {
            "title": {"text": "Segment size at each version where its membership changed", "x": 0.02},
            "height": 380,
            "xaxis": {
                "type": "category",
                "categoryorder": "array",
                "categoryarray": [labels[v] for v in versions],
                "title": {"text": "version"},
            },
            "yaxis": {"title": {"text": "members"}, "rangemode": "tozero", "tickformat": ",d"},
            "legend": {"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"},
        },
    }


def calibration_figure(backtest: Backtest) -> dict:
    points = sorted(backtest.calibration or [], key=lambda point: point["decile"])
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "observed",
                "x": [p["predicted"] for p in points],
                "y": [p["observed"] for p in points],
                "customdata": [[p["decile"], p["n"]] for p in points],
                "hovertemplate": "decile %{customdata[0]} (%{customdata[1]:,} contacts): predicted %{x:.1%}, "
                "observed %{y:.1%}<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": "perfect calibration",
                "x": [0, 1],
                "y": [0, 1],
                "line": {"dash": "dot", "color": "#888"},
            },
        ],
        "layout": {
            "title": {
                "text": f"{backtest.model}: calibration of the back-test as of {backtest.as_of_date.isoformat()}",
                "x": 0.02,
            },
            "height": 380,
            "xaxis": {"title": {"text": "mean predicted, per decile of the prediction"}, "tickformat": ".0%"},
            "yaxis": {"title": {"text": "observed rate in that decile"}, "tickformat": ".0%"},
            "legend": {"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"},
        },
    }


BACKTEST_LABELS = (
    ("horizon_days", "Horizon (days)", "how far ahead the model predicts"),
    ("n", "Contacts", "contacts scored in the back-test"),
    ("base_rate", "Base rate", "share of those contacts for whom the event happened within the horizon"),
    (
        "auc",
        "AUC",
        "probability that a contact for whom it happened ranks above one for whom it did not (0.5: chance)",
    ),
    ("brier", "Brier score", "mean squared error of the predicted probability (lower is better)"),
)


def backtest_section(data: ReportData) -> str:
    if not data.backtests:
        return "<p class='note'>No back-test yet: the predictions step has not run.</p>"
    latest = data.latest_backtests()
    rows = []
    for backtest in latest:
        values = {
            "horizon_days": backtest.horizon_days,
            "n": backtest.n,
            "base_rate": backtest.base_rate,
            "auc": backtest.auc,
            "brier": backtest.brier,
        }
        rows.append(
            f"<tr><td>{html.escape(backtest.model)}</td><td>{backtest.as_of_date.isoformat()}</td>"
            + "".join(
                f"<td>{html.escape(backtest_figure(key, values[key]))}</td>" for key, _, _ in BACKTEST_LABELS
            )
            + f"<td>{html.escape(backtest.reason or '')}</td></tr>"
        )
    head = "".join(
        f'<th><abbr title="{html.escape(definition)}">{html.escape(label)}</abbr></th>'
        for _, label, definition in BACKTEST_LABELS
    )
    charts = [
        figure_html(calibration_figure(backtest))
        for backtest in latest
        if backtest.reason is None and backtest.calibration
    ]
    trend = backtest_trend_figure(data)
    if trend:
        charts.append(figure_html(trend))
    return (
        "<p>Each model trained as of one horizon before the as-of date and scored against what then happened "
        '(README, "Predictions").</p>'
        f"<table><thead><tr><th>Model</th><th>As of</th>{head}<th>Not computed because</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{definitions_html(BACKTEST_LABELS)}"
        f'<div class="charts">{"".join(charts)}</div>'
    )


def backtest_figure(name: str, value) -> str:
    if value is None:
        return "–"
    if name == "base_rate":
        return f"{value:.1%}"
    if name in ("auc", "brier"):
        return f"{value:.3f}"
    return f"{value:,}"


def backtest_trend_figure(data: ReportData) -> dict | None:
    """AUC of each model over the as-of dates, once there are two computed back-tests of one model."""
    traces = []
    for model in sorted({backtest.model for backtest in data.backtests}):
        points = [b for b in data.backtests if b.model == model and b.auc is not None]
        if len(points) > 1:
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": model,
                    "x": [p.as_of_date.isoformat() for p in points],
                    "y": [p.auc for p in points],
                }
            )
    if not traces:
        return None
    return {
        "data": traces,
        "layout": {
            "title": {"text": "Back-test AUC by as-of date", "x": 0.02},
            "height": 380,
            "xaxis": {"type": "date", "tickformat": "%d %b %Y", "title": {"text": "as-of date"}},
            "yaxis": {"title": {"text": "AUC"}, "range": [0.4, 1]},
            "legend": {"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"},
        },
    }


def list_section(report: ListReport) -> tuple[str, int]:
    charts = [figure_html(chart_figure(report, chart, series)) for chart, series in report.charts()]
    summary = table_html("List", SUMMARY_LABELS, [(report.list_id, report.summary)])
    if not charts:
        body = "<p class='note'>No members yet: nothing to chart.</p>"
    else:
        body = f'<div class="charts">{"".join(charts)}</div>'
    anchor = html.escape(report.list_id, quote=True)
    return f'<section id="list-{anchor}"><h2>{html.escape(report.title)}</h2>{summary}{body}</section>', len(
        charts
    )


def segments_section(data: ReportData) -> str:
    rows = [(row["segment_id"], row) for row in data.segments]
    never = [row["segment_id"] for row in data.segments if row["version"] is None]
    parts = [
        table_html("Segment", SEGMENT_LABELS, rows) if rows else "<p class='note'>No segments.</p>",
        definitions_html(SEGMENT_LABELS),
    ]
    if data.segment_sizes:
        parts.append(figure_html(segment_sizes_figure(data)))
    if never:
        parts.append(
            f"<p class='note'>Never had a member, so not charted: {html.escape(', '.join(never))}.</p>"
        )
    return "".join(parts)


def report_html(data: ReportData) -> tuple[str, int]:
    """The document and its number of charts."""
    sections = [list_section(report) for report in data.lists]
    charts = sum(count for _, count in sections)
    overview = table_html("List", SUMMARY_LABELS, [(report.list_id, report.summary) for report in data.lists])
    heatmap = (
        figure_html(heatmap_figure(data))
        if len(data.overlap_ids) > 1
        else "<p class='note'>Fewer than two audiences with members: no overlap to show.</p>"
    )
    charts += len(data.overlap_ids) > 1
    backtests = backtest_section(data)
    charts += backtests.count("plotly-graph-div")
    segments = segments_section(data)
    charts += bool(data.segment_sizes)
    nav = "".join(
        f'<a href="#list-{html.escape(report.list_id, quote=True)}">{html.escape(report.list_id)}</a>'
        for report in data.lists
    )
    as_of = html.escape(data.as_of.isoformat())
    document = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>List health as of {as_of}</title>
<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>
<style>{STYLE}</style>
</head>
<body>
<h1>List health as of {as_of}</h1>
<p class="note">All figures as of the end of {as_of} in the configured timezone. Definitions below each table and in
the README ("List-health metrics"); contacts on a test list are kept out of the system lists.
<a href="list_health.pdf">PDF version</a>.</p>
<nav>Lists: {nav}</nav>
<section id="summary"><h2>Summary per list</h2>{overview}{definitions_html(SUMMARY_LABELS)}
<p class="note">▲ over the bulk-sender limit. Net growth and churn compare the last 30 days with the 30 before.</p></section>
<section id="overlap"><h2>Audience overlap</h2>{heatmap}</section>
<section id="segments"><h2>Segment performance</h2>{segments}</section>
<section id="predictions"><h2>Prediction back-tests</h2>{backtests}</section>
{"".join(section for section, _ in sections)}
</body>
</html>
"""
    return document, charts
