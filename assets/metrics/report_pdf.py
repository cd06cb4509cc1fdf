"""The list-health report as a PDF: an overview page, then one page per list, drawn by matplotlib's PDF backend
(offline: no browser, unlike plotly's image export through kaleido).

The same ReportData as the HTML page; each list's charts use one grain, the finest that keeps them readable.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

from assets.metrics.report_data import (
    COLORS,
    SEGMENT_LABELS,
    SUMMARY_LABELS,
    Chart,
    ListReport,
    ReportData,
    Series,
    format_figure,
    over_limit,
)

PAGE = (11.69, 8.27)  # A4 landscape, inches
GRAIN_WORDS = {"day": "per day", "week": "per week", "month": "per month"}


def pdf_grain(report: ListReport) -> str:
    """Days for a month of history, weeks up to two years, months beyond."""
    days = report.periods.get("day", [])
    if not days:
        return "week"
    span = (days[-1]["period"] - days[0]["period"]).days
    return "day" if span <= 31 else "week" if span <= 730 else "month"


def draw_chart(axes, chart: Chart, series: tuple[Series, ...], rows: list[dict], grain: str) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.ticker import PercentFormatter

    width = {"day": 0.8, "week": 5.6, "month": 24.0}[grain]
    periods = [row["period"] for row in rows]
    for index, one in enumerate(series):
        values = [row[one.column] for row in rows]
        color = COLORS[index % len(COLORS)]
        if one.style == "bar":
            heights = [0 if value is None else one.sign * value for value in values]
            axes.bar(periods, heights, width=width, align="edge", color=color, label=one.label)
        else:
            points = [(p, v) for p, v in zip(periods, values, strict=True) if v is not None]
            axes.plot(
                [p for p, _ in points],
                [v for _, v in points],
                color=color,
                label=one.label,
                marker="o" if len(points) < 40 else None,
                markersize=3,
                linewidth=1.2,
            )
    for value, label in chart.limits:
        axes.axhline(value, color="#b00020", linestyle="--", linewidth=0.8)
        axes.annotate(
            label,
            (1, value),
            xycoords=("axes fraction", "data"),
            ha="right",
            va="bottom",
            fontsize=6,
            color="#b00020",
        )
    if chart.limits:
        axes.set_ylim(bottom=0, top=max(axes.get_ylim()[1], max(v for v, _ in chart.limits) * 1.25))
    pad = dt.timedelta(days=max({"day": 1, "week": 7, "month": 31}[grain], 3))
    axes.set_xlim(periods[0] - pad, periods[-1] + pad + dt.timedelta(days=width))
    locator = AutoDateLocator(minticks=3, maxticks=7)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if chart.percent:
        axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    axes.set_title(f"{chart.title}, {GRAIN_WORDS[grain]}", fontsize=9, loc="left")
    axes.set_ylabel(textwrap.fill(chart.y_title, 32), fontsize=7)
    axes.tick_params(labelsize=7)
    axes.grid(axis="y", linewidth=0.3)
    axes.legend(fontsize=6, loc="upper left", frameon=False)


def table(axes, header: list[str], rows: list[list[str]], over: set[tuple[int, int]], font: float) -> None:
    axes.axis("off")
    if not rows:
        return
    header = [textwrap.fill(label, 14) for label in header]
    # Columns as wide as their longest line, so that ids and reasons are not cut.
    lengths = [
        max([len(line) for line in label.split("\n")] + [len(row[c]) for row in rows]) + 2
        for c, label in enumerate(header)
    ]
    widths = [length / sum(lengths) for length in lengths]
    drawn = axes.table(
        cellText=rows, colLabels=header, colWidths=widths, loc="upper center", cellLoc="right", colLoc="right"
    )
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(font)
    drawn.scale(1, 1.25)
    for (row, column), cell in drawn.get_celld().items():
        cell.set_linewidth(0.3)
        if row == 0:
            cell.set_text_props(weight="bold")
            cell.set_height(cell.get_height() * 1.8)
        if column == 0:
            cell.set_text_props(ha="left")
        if (row - 1, column) in over:
            cell.set_text_props(color="#b00020", weight="bold")


def summary_rows(reports: list[ListReport]) -> tuple[list[list[str]], set[tuple[int, int]]]:
    rows, over = [], set()
    for r, report in enumerate(reports):
        row = [report.list_id]
        for c, (key, _, _) in enumerate(SUMMARY_LABELS, start=1):
            value = report.summary.get(key)
            row.append(format_figure(key, value))
            if over_limit(key, value):
                over.add((r, c))
        rows.append(row)
    return rows, over


def definitions_text(labels) -> str:
    return "\n".join(textwrap.fill(f"{label}: {definition}", 120) for _, label, definition in labels)


def overview_page(data: ReportData):
    from matplotlib.figure import Figure

    figure = Figure(figsize=PAGE)
    figure.suptitle(f"List health as of {data.as_of.isoformat()}: overview", x=0.02, ha="left", fontsize=14)
    grid = figure.add_gridspec(
        3, 2, height_ratios=[0.9, 0.45, 1.6], left=0.04, right=0.98, top=0.92, bottom=0.09
    )
    rows, over = summary_rows(data.lists)
    table(
        figure.add_subplot(grid[0, :]), ["list", *(label for _, label, _ in SUMMARY_LABELS)], rows, over, 6.5
    )
    notes = figure.add_subplot(grid[1, :])
    notes.axis("off")
    notes.text(0, 1, definitions_text(SUMMARY_LABELS), fontsize=5.5, va="top", family="sans-serif")
    heat = figure.add_subplot(grid[2, 0])
    overlap_heatmap(heat, data)
    right = grid[2, 1].subgridspec(2, 1, hspace=0.35)
    segment_rows = [
        [row["segment_id"], *(format_figure(key, row.get(key)) for key, _, _ in SEGMENT_LABELS)]
        for row in data.segments
    ]
    segments = figure.add_subplot(right[0])
    table(segments, ["segment", *(label for _, label, _ in SEGMENT_LABELS)], segment_rows, set(), 6)
    segments.set_title(
        "Segment performance (open and click rates over the engaged window)", fontsize=8, loc="left"
    )
    backtests = figure.add_subplot(right[1])
    backtest_table(backtests, data)
    return figure


def overlap_heatmap(axes, data: ReportData) -> None:
    ids = data.overlap_ids
    axes.set_title("Audience overlap: shared / the smaller audience", fontsize=8, loc="left")
    if len(ids) < 2:
        axes.axis("off")
        axes.text(0, 0.5, "Fewer than two audiences with members.", fontsize=8)
        return
    matrix = [[data.overlap.get((row, column)) for column in ids] for row in ids]
    values = [[float("nan") if value is None else value for value in row] for row in matrix]
    image = axes.imshow(values, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(ids)), ids, rotation=40, ha="right", fontsize=6)
    axes.set_yticks(range(len(ids)), ids, fontsize=6)
    if len(ids) <= 14:
        for r, row in enumerate(matrix):
            for c, value in enumerate(row):
                if value is not None:
                    axes.text(
                        c,
                        r,
                        f"{value:.0%}",
                        ha="center",
                        va="center",
                        fontsize=5.5,
                        color="white" if value > 0.6 else "black",
                    )
    from matplotlib.ticker import PercentFormatter

    axes.figure.colorbar(image, ax=axes, fraction=0.04, format=PercentFormatter(1.0, decimals=0))


def backtest_table(axes, data: ReportData) -> None:
    rows = []
    for b in data.latest_backtests():
        rows.append(
            [
                b.model,
                b.as_of_date.isoformat(),
                str(b.horizon_days),
                "–" if b.n is None else f"{b.n:,}",
                "–" if b.base_rate is None else f"{b.base_rate:.1%}",
                "–" if b.auc is None else f"{b.auc:.3f}",
                "–" if b.brier is None else f"{b.brier:.3f}",
                textwrap.shorten(b.reason or "", 48),
            ]
        )
    header = [
        "model",
        "as of",
        "horizon (d)",
        "contacts",
        "base rate",
        "AUC",
        "Brier",
        "not computed because",
    ]
    table(axes, header, rows, set(), 6)
    axes.set_title(
        "Prediction back-tests: trained one horizon back, scored on what then happened",
        fontsize=8,
        loc="left",
    )
    if not rows:
        axes.text(0, 0.5, "No back-test yet.", fontsize=8)


def list_page(report: ListReport, as_of: dt.date):
    from matplotlib.figure import Figure

    figure = Figure(figsize=PAGE)
    figure.suptitle(report.title, x=0.02, ha="left", fontsize=13)
    summary = "   ".join(
        f"{label}: {format_figure(key, report.summary.get(key))}" for key, label, _ in SUMMARY_LABELS
    )
    figure.text(0.02, 0.925, textwrap.fill(summary, 190), fontsize=7, va="top")
    charts = report.charts()
    if not charts:
        figure.text(0.02, 0.8, f"No members as of {as_of.isoformat()}: nothing to chart.", fontsize=10)
        return figure
    grain = pdf_grain(report)
    rows = report.periods[grain]
    grid = figure.add_gridspec(3, 2, left=0.07, right=0.98, top=0.86, bottom=0.05, hspace=0.55, wspace=0.22)
    for index, (chart, series) in enumerate(charts):
        draw_chart(figure.add_subplot(grid[index // 2, index % 2]), chart, series, rows, grain)
    return figure


# The PDF's 14 standard fonts (Helvetica): nothing to embed, which takes a third off the drawing time and
# keeps the file small. Their metrics have no "normal" weight, only "medium", which font_manager warns about
# for every text.
PDF_STYLE = {"pdf.use14corefonts": True, "font.family": "sans-serif", "font.sans-serif": ["Helvetica"]}


def write_pdf(data: ReportData, path: Path) -> int:
    """Write the PDF to `path` (the caller renames it into place); returns its number of pages."""
    import logging

    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    font_log = logging.getLogger("matplotlib.font_manager")
    level = font_log.level
    font_log.setLevel(logging.ERROR)
    try:
        with matplotlib.rc_context(PDF_STYLE):
            pages = [overview_page(data), *(list_page(report, data.as_of) for report in data.lists)]
            with PdfPages(path, metadata={"Title": f"List health as of {data.as_of.isoformat()}"}) as pdf:
                for page in pages:
                    pdf.savefig(page)
    finally:
        font_log.setLevel(level)
    return len(pages)
