"""Connecting to the warehouse: the memory budget, transactions, frames exposed to SQL, statements run with
only the parameters each uses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl


def run_statements(con: duckdb.DuckDBPyConnection, statements: list, parameters: dict) -> None:
    """Execute parsed statements, passing each only the named parameters it uses."""
    for statement in statements:
        used = {name: parameters[name] for name in statement.named_parameters}
        con.execute(statement, used or None)


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


def duckdb_config() -> dict[str, str]:
    """The memory budget, and `CONTACTS_DUCKDB_THREADS` when set (DuckDB's default: one thread per core)."""
    config = {"memory_limit": memory_limit()}
    if threads := os.environ.get("CONTACTS_DUCKDB_THREADS"):
        config["threads"] = threads
    return config


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path), read_only=read_only, config=duckdb_config())


# The warehouse instance a run holds open in this process, by path (pipelines/resources.py). Opening a DuckDB
# file starts a database instance (about 25 ms: the catalog read, the built-in functions registered) and
# closing the last connection checkpoints it; a run's steps open about fifty connections, so each is a cursor
# on the held instance instead, and the instance closes (and checkpoints) once, when the run ends.
_HELD: dict[str, duckdb.DuckDBPyConnection] = {}


def held(path: Path, opener) -> duckdb.DuckDBPyConnection:
    """A new connection (cursor) on the instance held for `path`, opened with `opener(path)` when none is."""
    key = str(path)
    if key not in _HELD:
        _HELD[key] = opener(path)
    return _HELD[key].cursor()


def release(path: Path) -> None:
    """Close the instance held for `path`, if any: before the file is opened another way in this process (the
    segments' read-only sandbox) or replaced (the erasure rewrite), and when the run ends. Its cursors must
    be closed already."""
    con = _HELD.pop(str(path), None)
    if con is not None:
        con.close()


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
