"""Markdown previews for asset metadata. Previews show counts and file names, never addresses, so the
Dagster event log holds no personal data that an erasure could not reach."""

from __future__ import annotations

import dagster as dg
import duckdb


def markdown_table(con: duckdb.DuckDBPyConnection, sql: str, parameters: list | None = None) -> str:
    relation = con.execute(sql, parameters or [])
    names = [column[0] for column in relation.description]
    rows = relation.fetchall()
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for row in rows:
        cells = ["" if value is None else str(value).replace("|", "\\|").replace("\n", " ") for value in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def unchanged_metadata(reason: str | None) -> dict:
    """The same two keys on every materialization of a step that can skip its work: whether it skipped, and
    why (its inputs were those of its last computation, pipelines/warehouse/fingerprints.py)."""
    return {
        "unchanged": reason is not None,
        "unchanged_because": dg.MetadataValue.text(reason) if reason else dg.MetadataValue.null(),
    }


def number_or_null(value) -> dg.MetadataValue:
    """A figure as a float, or null when there is none: the same key every run, so the UI plots it."""
    return dg.MetadataValue.float(float(value)) if value is not None else dg.MetadataValue.null()
