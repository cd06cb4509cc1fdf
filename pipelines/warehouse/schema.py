"""The warehouse schema, created from one source: `sql/models/schema.sql` states every table; the custom
fields of contacts.yaml add typed columns; the history table of each versioned relation is derived from its
working table (versioning.py); the public views and macros follow (`sql/models/views.sql`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import duckdb

from pipelines.config import ConfigError, ContactsConfig
from pipelines.warehouse.catalog import column_types
from pipelines.warehouse.render import load_sql
from pipelines.warehouse.versioning import ensure_history_tables

DUCKDB_TYPES = {
    "text": "VARCHAR",
    "integer": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
}
# Tables that carry one column per custom field.
CUSTOM_FIELD_TABLES = ("staging.contact_rows", "staging.contacts")


def ensure_schema(con: duckdb.DuckDBPyConnection, config: ContactsConfig) -> None:
    """Create the relations, then add a typed column per custom field (a changed type is an error)."""
    con.execute(load_sql("models/schema.sql"))
    _add_new_columns(con)
    for table in CUSTOM_FIELD_TABLES:
        existing = column_types(con, table)
        for name, spec in config.fields.items():
            wanted = DUCKDB_TYPES[spec.type]
            if name not in existing:
                con.execute(f'alter table {table} add column "{name}" {wanted}')
            elif existing[name] != wanted:
                raise ConfigError(
                    f"contacts.yaml: key 'fields.{name}.type': the warehouse already holds {name} as "
                    f"{existing[name]}; changing it to {spec.type} needs a migration"
                )
    ensure_history_tables(con)
    con.execute(load_sql("models/views.sql"))


def _add_new_columns(con: duckdb.DuckDBPyConnection) -> None:
    """A warehouse made by an earlier release gets the columns the schema has gained since (nullable, so the
    rows already there read as null): `create table if not exists` leaves an existing table as it is."""
    existing = set(
        con.execute(
            """select table_schema, table_name, column_name from information_schema.columns
               where table_catalog = current_database()"""
        ).fetchall()
    )
    for (schema, table), columns in _declared_tables().items():
        for column in columns:
            if (schema, table, column.name) not in existing:
                con.execute(f'alter table {schema}.{table} add column "{column.name}" {column.type}')


@dataclass(frozen=True)
class DeclaredColumn:
    name: str
    type: str  # DuckDB's name for it, as information_schema spells it (VARCHAR, BIGINT, VARCHAR[], ...)
    nullable: bool


def declared_columns(table: str) -> tuple[DeclaredColumn, ...]:
    """The columns of `table` (`schema.name`, or a name in main) as sql/models/schema.sql declares them, in
    order; custom fields, added per contacts.yaml, are not among them."""
    schema, _, name = table.rpartition(".")
    try:
        return _declared_tables()[(schema or "main", name)]
    except KeyError:
        raise KeyError(f"sql/models/schema.sql declares no table {table}") from None


@functools.cache
def _declared_tables() -> dict[tuple[str, str], tuple[DeclaredColumn, ...]]:
    """Every table of the DDL, read from the DDL itself in an in-memory database: the frames that feed a
    table are checked against the one statement of its schema."""
    con = duckdb.connect()
    try:
        con.execute(load_sql("models/schema.sql"))
        rows = con.execute(
            """select table_schema, table_name, column_name, data_type, is_nullable = 'YES'
               from information_schema.columns order by table_schema, table_name, ordinal_position"""
        ).fetchall()
    finally:
        con.close()
    tables: dict[tuple[str, str], list[DeclaredColumn]] = {}
    for schema, table, *column in rows:
        tables.setdefault((schema, table), []).append(DeclaredColumn(*column))
    return {key: tuple(columns) for key, columns in tables.items()}
