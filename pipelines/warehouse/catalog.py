"""What the warehouse's catalog says about a table: the one lookup both the schema set-up and versioning need."""

from __future__ import annotations

import duckdb


def column_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """`{column: data type}` of `table` (`schema.name`, or a name in main); empty when it does not exist."""
    schema, _, name = table.rpartition(".")
    rows = con.execute(
        "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ?",
        [schema or "main", name],
    ).fetchall()
    return dict(rows)
