"""Dedupe and merge staged rows into `contacts` in ledger order (DESIGN 5.2), then replay statuses (5.3)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.config import ContactsConfig
from pipelines.warehouse.connection import registered, run_statements
from pipelines.warehouse.ledger import record_merged, record_resubscribes_blocked, unmerged_file_count
from pipelines.warehouse.render import load_sql, render
from pipelines.warehouse.scope import status_rules_fingerprint
from pipelines.warehouse.tombstones import erasure_salt

MERGE_TEMP_TABLES = (
    "merge_files",
    "merge_batch",
    "merge_addresses",
    "merge_states",
    "merge_counts",
    "status_facts",
    "status_replay",
    "status_current",
    "replay_scope",
)


@dataclass(frozen=True)
class MergeOutcome:
    file_id: int
    path: str
    contacts_created: int
    rows_merged: int | None


def render_merge_sql(con: duckdb.DuckDBPyConnection, config: ContactsConfig) -> list:
    """The merge script with `{each_field: ...}` repeated per custom field, split into statements by DuckDB's parser."""
    return con.extract_statements(render(load_sql("models/merge_contacts.sql"), fields=config.fields))


def merge_pending_files(
    con: duckdb.DuckDBPyConnection, config: ContactsConfig, log: logging.Logger
) -> list[MergeOutcome]:
    """Apply every loaded, not yet merged contact or event file, as merging them one by one in ledger order
    would, in one set-based pass. Call inside a transaction."""
    pending = unmerged_file_count(con)
    if not pending:
        return []
    log.info("merging %d file(s) into contacts", pending)
    run_statements(con, render_merge_sql(con, config), {})
    merged = record_merged(con)
    outcomes = []
    for position, (file_id, path, created, rows_merged) in enumerate(merged, start=1):
        outcomes.append(MergeOutcome(file_id, path, created, rows_merged))
        log.info(
            "[%d/%d] merged %s: %d new contacts%s",
            position,
            len(merged),
            path,
            created,
            "" if rows_merged is None else f", {rows_merged} rows merged into existing contacts",
        )
    return outcomes


def replay_status(
    con: duckdb.DuckDBPyConnection,
    config: ContactsConfig,
    now: dt.datetime,
    merged_file_ids: list[int] | None = None,
) -> int | None:
    """Rebuild status history, current statuses, consent and suppressions of the addresses that files
    `merged_file_ids` mention (contact, event or merge files), from all their facts; of every address when `merged_file_ids` is None or
    the rules changed since the last replay. Returns the number of addresses replayed, None for all.
    Call inside a transaction."""
    settings = status_rules_fingerprint(config)
    stored = con.execute("select settings from staging.replay_state").fetchall()
    scoped = merged_file_ids is not None and stored == [(settings,)]
    if scoped:
        with registered(
            con, "_merged_files", pl.DataFrame({"file_id": merged_file_ids}, schema={"file_id": pl.Int64})
        ):
            con.execute(
                """create or replace temp table replay_scope as
                   select email from staging.contact_rows where file_id in (select file_id from _merged_files)
                   union
                   select email from staging.event_rows where file_id in (select file_id from _merged_files)
                   union  -- a merge file: both addresses of each pair it merged (the alias keeps no fact of its own)
                   select alias_email from staging.contact_aliases where file_id in (select file_id from _merged_files)
                   union
                   select kept_email from staging.contact_aliases where file_id in (select file_id from _merged_files)"""
            )
    rules = {
        "soft_bounce_limit": config.rules.soft_bounce_limit,
        "soft_bounce_window_days": config.rules.soft_bounce_window_days,
    }
    script = render(load_sql("models/status_history.sql"), rules, scope="replay_scope" if scoped else None)
    run_statements(con, con.extract_statements(script), {"now": now, "salt": erasure_salt(con)})
    record_resubscribes_blocked(con)
    con.execute("delete from staging.replay_state")
    con.execute("insert into staging.replay_state values (?)", [settings])
    if not scoped:
        return None
    (replayed,) = con.execute("select count(*) from replay_scope").fetchone()
    return replayed


def drop_temp_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in MERGE_TEMP_TABLES:
        con.execute(f"drop table if exists {table}")
