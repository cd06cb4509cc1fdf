"""The list-health report: one self-contained HTML file with a chart per list and a segment-size chart.

plotly.js is embedded once in the file, so the report opens offline in any browser.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import duckdb
import plotly.graph_objects as go
import plotly.offline
from plotly.subplots import make_subplots


def list_figure(rows: list[tuple], title: str) -> go.Figure:
    days = [row[0] for row in rows]
    column = lambda index: [row[index] for row in rows]  # noqa: E731
    figure = make_subplots(
        rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.06,
        subplot_titles=("Members and subscribed", "New subscribers vs churned, per day", "Growth and churn rate", "Engagement rate"),
    )
    figure.add_trace(go.Scatter(x=days, y=column(1), name="members", mode="lines"), row=1, col=1)
    figure.add_trace(go.Scatter(x=days, y=column(2), name="subscribed", mode="lines"), row=1, col=1)
    figure.add_trace(go.Bar(x=days, y=column(3), name="new subscribers"), row=2, col=1)
    figure.add_trace(go.Bar(x=days, y=[-value for value in column(4)], name="churned"), row=2, col=1)
    figure.add_trace(go.Scatter(x=days, y=column(5), name="growth rate", mode="lines"), row=3, col=1)
    figure.add_trace(go.Scatter(x=days, y=column(6), name="churn rate", mode="lines"), row=3, col=1)
    figure.add_trace(go.Scatter(x=days, y=column(7), name="engagement rate", mode="lines"), row=4, col=1)
    figure.update_layout(title=title, height=900, barmode="relative", legend={"orientation": "h"})
    return figure


def segment_figure(rows: list[tuple]) -> go.Figure:
    figure = go.Figure()
    for segment_id in sorted({row[0] for row in rows}):
        points = [row for row in rows if row[0] == segment_id]
        figure.add_trace(go.Scatter(x=[p[1] for p in points], y=[p[2] for p in points], name=segment_id, mode="lines+markers"))
    figure.update_layout(title="Segment size by version", xaxis_title="version", yaxis_title="members", height=450)
    return figure


def write_report(con: duckdb.DuckDBPyConnection, path: Path, as_of: dt.date) -> int:
    """Write the report atomically; returns the number of charts."""
    lists = con.execute("select list_id, name, kind from lists order by kind = 'system' desc, list_id").fetchall()
    sections = []
    for list_id, name, kind in lists:
        rows = con.execute(
            """select day, members, subscribed, new_subscribers, churned, growth_rate, churn_rate, engagement_rate
               from list_health where list_id = ? order by day""",
            [list_id],
        ).fetchall()
        title = f"{name} ({list_id}, {kind})" + ("" if rows else ": no members yet")
        sections.append(list_figure(rows, title).to_html(full_html=False, include_plotlyjs=False))
    segment_rows = con.execute("select segment_id, version, size from segment_health order by segment_id, version").fetchall()
    sections.append(segment_figure(segment_rows).to_html(full_html=False, include_plotlyjs=False))
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
