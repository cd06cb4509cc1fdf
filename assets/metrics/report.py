"""The list-health report: data/reports/list_health.html (interactive, offline) and list_health.pdf (one
overview page, then a page per list), both from one read of the public views (report_data.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

from assets.metrics.report_data import SUMMARY_LABELS, ReportData, format_figure, read_report_data
from assets.metrics.report_html import report_html

HTML_NAME = "list_health.html"
PDF_NAME = "list_health.pdf"


@dataclass(frozen=True)
class WrittenReport:
    html: Path
    pdf: Path | None
    charts: int
    pages: int | None
    summary_markdown: str


def replace_atomically(path: Path, write) -> None:
    """Write through a temporary file beside `path`, then rename: a reader never sees half a report."""
    temporary = path.with_name(path.name + ".tmp")
    write(temporary)
    temporary.replace(path)


def summary_markdown(data: ReportData) -> str:
    """The overview's summary table, for the asset page (numbers at a glance without opening the report)."""
    header = "| list | " + " | ".join(label for _, label, _ in SUMMARY_LABELS) + " |"
    rule = "|---" * (len(SUMMARY_LABELS) + 1) + "|"
    rows = [
        f"| {report.list_id} | "
        + " | ".join(format_figure(key, report.summary.get(key)) for key, _, _ in SUMMARY_LABELS)
        + " |"
        for report in data.lists
    ]
    return "\n".join([header, rule, *rows])


def write_report(con: duckdb.DuckDBPyConnection, directory: Path, as_of: dt.date, pdf: bool) -> WrittenReport:
    data = read_report_data(con, as_of)
    directory.mkdir(parents=True, exist_ok=True)
    document, charts = report_html(data)
    html_path = directory / HTML_NAME
    replace_atomically(html_path, lambda path: path.write_text(document, encoding="utf-8"))
    pdf_path, pages = None, None
    if pdf:
        from assets.metrics.report_pdf import write_pdf

        pdf_path = directory / PDF_NAME
        written: list[int] = []
        replace_atomically(pdf_path, lambda path: written.append(write_pdf(data, path)))
        pages = written[0]
    else:
        (directory / PDF_NAME).unlink(missing_ok=True)
    return WrittenReport(html_path, pdf_path, charts, pages, summary_markdown(data))
