"""Markdown previews for asset metadata. Previews show counts and file names, never addresses, so the
Dagster event log holds no personal data that an erasure could not reach."""

from __future__ import annotations

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
