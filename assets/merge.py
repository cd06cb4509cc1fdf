"""Dedupe and merge staged rows into `contacts`, one file per transaction, in ledger order (DESIGN 5.2)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb

from pipelines.config import ContactsConfig
from pipelines.warehouse import load_sql, transaction

@dataclass(frozen=True)
class MergeOutcome:
    file_id: int
    path: str
    contacts_created: int
    rows_merged: int
    resubscribe_blocked: int


def render_merge_sql(con: duckdb.DuckDBPyConnection, config: ContactsConfig) -> list:
    """The merge script with one entry per custom field, split into statements by DuckDB's parser."""
    names = [f'"{name}"' for name in config.fields]
    fragments = {
        "custom_aggregates": "".join(f",\n        arg_max({n}, row_number) filter (where {n} is not null) as {n}" for n in names),
        "custom_updates": "".join(f",\n    {n} = coalesce(u.{n}, c.{n})" for n in names),
        "custom_old": "".join(f", c.{n}" for n in names),
        "custom_new": "".join(f", coalesce(u.{n}, c.{n})" for n in names),
        "custom_inserts": "".join(f",\n    {n}" for n in names),
    }
    script = load_sql("models/merge_contacts.sql")
    for key, value in fragments.items():
        script = script.replace("{" + key + "}", value)
    return con.extract_statements(script)


def _run(con: duckdb.DuckDBPyConnection, statement, parameters: dict) -> None:
    used = {name: parameters[name] for name in statement.named_parameters}
    con.execute(statement, used or None)


def merge_pending_files(con: duckdb.DuckDBPyConnection, config: ContactsConfig, log: logging.Logger) -> list[MergeOutcome]:
    pending = con.execute(
        """select file_id, path, mode, coalesce(source, path), loaded_at from import_files
           where kind = 'contacts' and status = 'loaded' and merged_at is null order by file_id"""
    ).fetchall()
    statements = render_merge_sql(con, config)
    outcomes = []
    for position, (file_id, path, mode, source, loaded_at) in enumerate(pending, start=1):
        parameters = {"file_id": file_id, "mode": mode, "source": source, "loaded_at": loaded_at}
        with transaction(con):
            for statement in statements:
                _run(con, statement, parameters)
            created, merged, blocked = con.execute(
                "select contacts_created, rows_merged, resubscribe_blocked from import_files where file_id = ?", [file_id]
            ).fetchone()
        con.execute("drop table if exists merge_batch; drop table if exists merge_updates; drop table if exists merge_inserts")
        outcomes.append(MergeOutcome(file_id, path, created, merged, blocked))
        log.info("[%d/%d] merged %s: %d new contacts, %d rows merged, %d resubscribes blocked",
                 position, len(pending), path, created, merged, blocked)
    return outcomes
