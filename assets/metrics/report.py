"""The list-health report: one self-contained HTML file with a chart per list and a segment-size chart.

plotly.js is embedded once in the file, so the report opens offline in any browser.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import duckdb
import plotly.io
import plotly.offline

# Figures are plain dicts handed to plotly.io unvalidated: building them as graph objects (make_subplots,
# add_trace) validated every property and took most of a small run's report time; the HTML is the same kind.
PANELS = (
    "Members and subscribed",
    "New subscribers vs churned, per day",
    "Growth and churn rate",
    "Engagement rate",
)
PANEL_GAP = 0.06


def list_figure(rows: list[tuple], title: str) -> dict:
    """Four panels over one shared day axis: sizes, daily new vs churned, growth and churn rates, engagement."""
    days = [row[0] for row in rows]

    def column(index: int) -> list:
        return [row[index] for row in rows]

    def trace(kind: str, panel: int, y: list, name: str) -> dict:
        shape = {"type": "scatter", "mode": "lines"} if kind == "line" else {"type": "bar"}
        return {
            **shape,
            "x": days,
            "y": y,
            "name": name,
            "xaxis": "x",
            "yaxis": "y" if panel == 1 else f"y{panel}",
        }

    height = (1 - PANEL_GAP * (len(PANELS) - 1)) / len(PANELS)
    layout: dict = {
        "title": {"text": title},
        "height": 900,
        "barmode": "relative",
        "legend": {"orientation": "h"},
        "xaxis": {"anchor": f"y{len(PANELS)}"},
        "annotations": [],
    }
    for panel, label in enumerate(PANELS, start=1):
        top = 1 - (panel - 1) * (height + PANEL_GAP)
        layout["yaxis" if panel == 1 else f"yaxis{panel}"] = {"domain": [top - height, top], "anchor": "x"}
        layout["annotations"].append(
            {
                "text": label,
                "x": 0.5,
                "y": top,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
            }
        )
    data = [
        trace("line", 1, column(1), "members"),
        trace("line", 1, column(2), "subscribed"),
        trace("bar", 2, column(3), "new subscribers"),
        trace("bar", 2, [-value for value in column(4)], "churned"),
        trace("line", 3, column(5), "growth rate"),
        trace("line", 3, column(6), "churn rate"),
        trace("line", 4, column(7), "engagement rate"),
    ]
    return {"data": data, "layout": layout}


def segment_figure(rows: list[tuple]) -> dict:
    data = []
    for segment_id in sorted({row[0] for row in rows}):
        points = [row for row in rows if row[0] == segment_id]
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": segment_id,
                "x": [p[1] for p in points],
                "y": [p[2] for p in points],
            }
        )
    layout = {
        "title": {"text": "Segment size by version"},
        "height": 450,
        "xaxis": {"title": {"text": "version"}},
        "yaxis": {"title": {"text": "members"}},
    }
    return {"data": data, "layout": layout}


def figure_html(figure: dict) -> str:
    return plotly.io.to_html(figure, full_html=False, include_plotlyjs=False, validate=False)


def write_report(con: duckdb.DuckDBPyConnection, path: Path, as_of: dt.date) -> int:
    """Write the report atomically; returns the number of charts."""
    lists = con.execute(
        "select list_id, name, kind from lists order by kind = 'system' desc, list_id"
    ).fetchall()
    sections = []
    for list_id, name, kind in lists:
        rows = con.execute(
            """select day, members, subscribed, new_subscribers, churned, growth_rate, churn_rate, engagement_rate
               from list_health where list_id = ? order by day""",
            [list_id],
        ).fetchall()
        title = f"{name} ({list_id}, {kind})" + ("" if rows else ": no members yet")
        sections.append(figure_html(list_figure(rows, title)))
    segment_rows = con.execute(
        "select segment_id, version, size from segment_health order by segment_id, version"
    ).fetchall()
    sections.append(figure_html(segment_figure(segment_rows)))
    document = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>List health as of {as_of.isoformat()}</title>
<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>
<style>body {{ font-family: system-ui, sans-serif; margin: 2rem; }} section {{ margin-bottom: 3rem; }}</style>
</head>
<body>
<h1>List health as of {html.escape(as_of.isoformat())}</h1>
<p>Definitions: README, "List-health metrics". Test lists are kept out of the system lists.</p>
{"".join(f"<section>{section}</section>" for section in sections)}
</body>
</html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(document, encoding="utf-8")
    temporary.replace(path)
    return len(sections)
