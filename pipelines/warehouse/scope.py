"""Which addresses a derived working table must be recomputed for: those the files loaded since its last
computation mention, or every address.

A per-contact table (list membership, engagement) depends only on the contact's own rows, events and
status, and those change only through new files (status replay covers exactly the addresses the new files
mention). So a run recomputes the addresses of those files and leaves every other row as it is, unless
something that touches every row changed: the settings the table was computed with (including the status
rules, whose change replays every address), an erasure, or a file that is loaded but not merged yet.

SQL scripts mark the places that narrow to the scope with `{scope:column}`, which becomes
`column in (select email from <scope table>)`, or `true` when every address is recomputed.
"""

from __future__ import annotations

import hashlib
import json

import duckdb

from pipelines.config import ContactsConfig
from pipelines.warehouse.connection import run_statements
from pipelines.warehouse.render import apply_scope, load_sql


def settings_fingerprint(relevant: dict) -> str:
    """A stable hash of what stored derived state was computed with (settings, the SQL itself), so that a
    change of any of them can force a full recomputation."""
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def status_rules_fingerprint(config: ContactsConfig) -> str:
    """What stored statuses were replayed with; a change means every address must be replayed again, and
    so every table derived from statuses (list membership, engagement) recomputed."""
    return settings_fingerprint(
        {
            "soft_bounce_limit": config.rules.soft_bounce_limit,
            "soft_bounce_window_days": config.rules.soft_bounce_window_days,
            "sql": load_sql("models/status_history.sql"),
        }
    )


def recompute(
    con: duckdb.DuckDBPyConnection, name: str, settings: str, script: str, parameters: dict
) -> int | None:
    """Run `script` (with `{scope:X}` marks) over the addresses files since `name`'s last computation
    mention, or over every address; record the computation. Returns how many addresses were recomputed,
    None for all. Call inside a transaction."""
    last_file_id = changed_since(con, name, settings)
    scope = None if last_file_id is None else f"{name}_scope"
    recomputed = None if scope is None else create_scope(con, scope, last_file_id)
    run_statements(con, con.extract_statements(apply_scope(script, scope)), parameters)
    record_computed(con, name, settings)
    if scope:
        con.execute(f"drop table {scope}")
    return recomputed


def changed_since(con: duckdb.DuckDBPyConnection, name: str, settings: str) -> int | None:
    """The last file `name` was computed after, when only the addresses of later files need recomputing;
    None when every address does."""
    state = con.execute(
        "select last_file_id, settings from staging.derived_state where name = ?", [name]
    ).fetchall()
    if not state or state[0][1] != settings:
        return None
    last_file_id = state[0][0]
    (everything,) = con.execute(
        """select count(*) from import_files
           where status = 'loaded' and ((kind = 'erasure' and file_id > ?) or (kind in ('contacts', 'events', 'merges') and merged_at is null))""",
        [last_file_id],
    ).fetchall()[0]
    return None if everything else last_file_id


def create_scope(con: duckdb.DuckDBPyConnection, table: str, last_file_id: int) -> int:
    """A temp table of the addresses files after `last_file_id` mention; returns how many."""
    con.execute(
        f"""create or replace temp table {table} as
            select email from staging.contact_rows where file_id > $last
            union
            select email from staging.event_rows where file_id > $last
            union  -- a merge file: both addresses of each pair it merged
            select alias_email from staging.contact_aliases where file_id > $last
            union
            select kept_email from staging.contact_aliases where file_id > $last""",
        {"last": last_file_id},
    )
    return con.execute(f"select count(*) from {table}").fetchall()[0][0]


def reflected_through(con: duckdb.DuckDBPyConnection) -> int:
    """The last ledger file whose rows the merged state holds: every file, unless a contact, event or merge file is
    loaded but not merged yet (a step run on its own before `contacts_statuses_and_events`), which a later run must still
    see as new."""
    return con.execute(
        """select coalesce(
               (select min(file_id) - 1 from import_files where status = 'loaded' and kind in ('contacts', 'events', 'merges') and merged_at is null),
               (select max(file_id) from import_files),
               0)"""
    ).fetchall()[0][0]


def record_computed(con: duckdb.DuckDBPyConnection, name: str, settings: str) -> None:
    """`name` now reflects the files through `reflected_through`, computed with `settings`."""
    con.execute(
        "insert or replace into staging.derived_state values (?, ?, ?)",
        [name, reflected_through(con), settings],
    )
