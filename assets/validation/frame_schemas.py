"""The contracts of the frames that become rows of the warehouse, derived from the tables they feed.

Columns, types and nullability come from sql/models/schema.sql (`declared_columns`), so a column added to
a table is a column the frame must have; what the DDL cannot say (an address is lower case and holds an
`@`, a status is one of ours, row numbers are unique within a file) is added here as pandera checks.
"""

from __future__ import annotations

import functools

import pandera.polars as pa
import polars as pl

from assets.validation.fields import typed_fields
from pipelines.config import ContactsConfig
from pipelines.vocabulary import EVENTS, STATUSES
from pipelines.warehouse.schema import declared_columns

UTC_DATETIME = pl.Datetime("us", "UTC")
POLARS_TYPES: dict[str, pl.DataType] = {
    "BIGINT": pl.Int64,
    "VARCHAR": pl.Utf8,
    "VARCHAR[]": pl.List(pl.Utf8),
    "DOUBLE": pl.Float64,
    "BOOLEAN": pl.Boolean,
    "DATE": pl.Date,
    "TIMESTAMP WITH TIME ZONE": UTC_DATETIME,
}

ADDRESS_CHECKS = [pa.Check.str_contains("@")]
LOWER_CASE = pa.Check(lambda d: d.lazyframe.select(pl.col(d.key) == pl.col(d.key).str.to_lowercase()))
ROW_NUMBER = pa.Column(pl.Int64, pa.Check.ge(1), nullable=False, unique=True)


def polars_schema(table: str) -> dict[str, pl.DataType]:
    """`{column: polars type}` of a table, for frames built column by column (rejects, field issues)."""
    return {column.name: POLARS_TYPES[column.type] for column in declared_columns(table)}


def table_frame_schema(
    table: str, checks: dict[str, list[pa.Check]], extra: dict[str, pa.Column] | None = None
) -> pa.DataFrameSchema:
    """Exactly the table's columns in its order (then `extra`), typed and nullable as declared, with
    `checks` per column; `row_number` unique within the frame (one file)."""
    columns = {}
    for column in declared_columns(table):
        if column.name == "row_number":
            columns[column.name] = ROW_NUMBER
            continue
        columns[column.name] = pa.Column(
            POLARS_TYPES[column.type], checks.get(column.name, []), nullable=column.nullable
        )
    return pa.DataFrameSchema(columns | (extra or {}), strict=True, ordered=True)


# Built on first use, not at import: reading the DDL opens an in-memory DuckDB.
@functools.cache
def reject_schema() -> dict[str, pl.DataType]:
    return polars_schema("rejected_rows")


@functools.cache
def issue_schema() -> dict[str, pl.DataType]:
    return polars_schema("field_issues")


@functools.cache
def event_row_schema() -> pa.DataFrameSchema:
    return table_frame_schema(
        "staging.event_rows", {"email": ADDRESS_CHECKS, "event": [pa.Check.isin(EVENTS)]}
    )


def contact_row_schema(config: ContactsConfig) -> pa.DataFrameSchema:
    """Accepted contact rows: a valid, normalised, lower-case email, a known status, typed custom fields."""
    return table_frame_schema(
        "staging.contact_rows",
        {"email": [*ADDRESS_CHECKS, LOWER_CASE], "status": [pa.Check.isin(list(STATUSES))]},
        {typed.name: pa.Column(typed.dtype, nullable=True) for typed in typed_fields(config)},
    )


def staged_text_schema(text_columns: list[str]) -> pa.DataFrameSchema:
    """The raw frame: one row per parsed record, every mapped column still text."""
    columns = {"file_id": pa.Column(pl.Int64, nullable=False), "row_number": ROW_NUMBER}
    columns.update({name: pa.Column(pl.Utf8, nullable=True) for name in text_columns})
    return pa.DataFrameSchema(columns, strict=True)
