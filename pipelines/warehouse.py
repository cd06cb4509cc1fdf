"""DuckDB warehouse helpers: connecting, creating the schema, loading SQL files, adding custom fields."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from pipelines.catalog import column_types
from pipelines.config import ConfigError, ContactsConfig
from pipelines.versioning import ensure_history_tables

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
DUCKDB_TYPES = {
    "text": "VARCHAR",
    "integer": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
}
# Tables that carry one column per custom field.
CUSTOM_FIELD_TABLES = ("staging.contact_rows", "staging.contacts")


def load_sql(relative: str) -> str:
    return (SQL_DIR / relative).read_text(encoding="utf-8")


def run_statements(con: duckdb.DuckDBPyConnection, statements: list, parameters: dict) -> None:
    """Execute parsed statements, passing each only the named parameters it uses."""
    for statement in statements:
        used = {name: parameters[name] for name in statement.named_parameters}
        con.execute(statement, used or None)


def settings_fingerprint(relevant: dict) -> str:
    """A stable hash of what stored derived state was computed with (settings, the SQL itself), so that a
    change of any of them can force a full recomputation."""
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def memory_limit() -> str:
    """DuckDB's memory budget: `CONTACTS_DUCKDB_MEMORY_LIMIT` (e.g. `4GB`), else a fifth of the machine's
    RAM. DuckDB's own default (80%) leaves too little for the Python side of a run on a big load (DuckDB
    keeps what it took); past the budget DuckDB spills to a temporary directory beside the warehouse."""
    configured = os.environ.get("CONTACTS_DUCKDB_MEMORY_LIMIT")
    if configured:
        return configured
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return "4GB"
    return f"{max(1, physical // 5 // 2**20)}MB"


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path), read_only=read_only, config={"memory_limit": memory_limit()})


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: a file's rows are applied together or not at all."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, frame) -> Iterator[None]:
    """Expose a polars frame to SQL as `name` for the duration of the block.

    DuckDB 2.0 refuses to register while an earlier result is only partly fetched (fetchone), so the
    connection's pending result is completed first. A polars frame goes over as Arrow with string views,
    which DuckDB reads in place: the default (oldest) Arrow level copies every string column first.
    """
    con.complete()
    if isinstance(frame, pl.DataFrame):
        frame = frame.to_arrow(compat_level=pl.CompatLevel.newest())
    con.register(name, frame)
    try:
        yield
    finally:
        con.complete()
        con.unregister(name)


def has_tombstones(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether any address was erased. Checks that hash addresses against the tombstones skip the
    hashing (seconds at millions of rows) when there is none to match."""
    return con.execute("select count(*) from suppressions where reason = 'erased'").fetchall()[0][0] > 0


def erasure_salt(con: duckdb.DuckDBPyConnection) -> str:
    """The warehouse's erasure salt, created on first use. It never leaves the warehouse, so a tombstone
    hash cannot be matched against guessed addresses elsewhere."""
    row = con.execute("select value from staging.secrets where name = 'erasure_salt'").fetchone()
    if row:
        return row[0]
    salt = secrets.token_hex(32)
    con.execute("insert into staging.secrets values ('erasure_salt', ?)", [salt])
    return salt


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
