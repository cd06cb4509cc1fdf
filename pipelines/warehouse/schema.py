"""The warehouse schema, created from one source: `sql/models/schema.sql` states every table; the custom
fields of contacts.yaml add typed columns; the history table of each versioned relation is derived from its
working table (versioning.py); the public views and macros follow (`sql/models/views.sql`)."""

from __future__ import annotations

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
