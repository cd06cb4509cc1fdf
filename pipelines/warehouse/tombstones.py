"""Erasure tombstones and the warehouse's erasure salt: the one place the salt is read or created."""

from __future__ import annotations

import secrets

import duckdb


def has_tombstones(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether any address was erased. Checks that hash addresses against the tombstones skip the
    hashing (seconds at millions of rows) when there is none to match."""
    return con.execute("select count(*) from suppressions where reason = 'erased'").fetchall()[0][0] > 0


def erasure_salt(con: duckdb.DuckDBPyConnection) -> str:
    """The warehouse's erasure salt, created on first use. It never leaves the warehouse, so a tombstone
    hash cannot be matched against guessed addresses elsewhere."""
    stored = stored_erasure_salt(con)
    if stored is not None:
        return stored
    salt = secrets.token_hex(32)
    con.execute("insert into staging.secrets values ('erasure_salt', ?)", [salt])
    return salt


def stored_erasure_salt(con: duckdb.DuckDBPyConnection) -> str | None:
    """The salt when one was created (nothing is erased before), without creating it: for read-only use."""
    row = con.execute("select value from staging.secrets where name = 'erasure_salt'").fetchone()
    return row[0] if row else None
