"""List-health and segment-health metrics (DESIGN 8), incremental by day.

A run recomputes list_health only from the first day that new inputs touch (the earliest business time
among the files loaded since the last computation), so a late event file for an old day updates that day
and the days after it, and a normal daily run computes one new day. An erasure or a change of the
settings the metrics depend on recomputes every day.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.config import ContactsConfig
from pipelines.warehouse.connection import run_statements
from pipelines.warehouse.render import load_sql, render
from pipelines.warehouse.scope import reflected_through, settings_fingerprint


def metric_settings(config: ContactsConfig) -> str:
    """What the stored days were computed with; a change invalidates all of them."""
    relevant = {
        "timezone": config.timezone,
        "engaged_window_days": config.rules.engaged_window_days,
        "lists": {k: v.model_dump() for k, v in config.lists.items()},
        "sql": load_sql("models/list_health.sql"),
    }
    return settings_fingerprint(relevant)


def first_touched_day(con: duckdb.DuckDBPyConnection, config: ContactsConfig) -> tuple[dt.date, int] | None:
    """The first day to recompute and the last file the stored days had seen, or None when nothing is
    stored yet or everything must be redone."""
    state = con.execute("select last_file_id, last_day, settings from staging.metrics_state").fetchall()
    if not state or state[0][2] != metric_settings(config):
        return None
    last_file_id, last_day, _ = state[0]
    erased = con.execute(
        "select count(*) from import_files where file_id > ? and kind = 'erasure' and status = 'loaded'",
        [last_file_id],
    ).fetchall()[0][0]
    if erased:
        return None
    touched = con.execute(
        """select min(day) from (
               select timezone($tz, coalesce(r.created_at, f.loaded_at))::date as day
               from staging.contact_rows r join import_files f using (file_id) where f.file_id > $last
               union all
               select timezone($tz, f.loaded_at)::date from import_files f
               where f.file_id > $last and f.kind = 'contacts' and f.status = 'loaded'
               union all
               select timezone($tz, e.occurred_at)::date from staging.event_rows e where e.file_id > $last
           )""",
        {"tz": config.timezone, "last": last_file_id},
    ).fetchall()[0][0]
    candidates = [last_day + dt.timedelta(days=1)] + ([touched] if touched else [])
    return min(candidates), last_file_id


def compute_list_health(con: duckdb.DuckDBPyConnection, config: ContactsConfig, as_of: dt.date) -> dt.date:
    """Recompute the touched days up to the as-of date; returns the first day recomputed. Call in a transaction."""
    # Engagement islands are recomputed for the contacts files after last_file_id mention; -1: for everyone.
    start, last_file_id = first_touched_day(con, config) or (dt.date(1900, 1, 1), -1)
    script = render(
        load_sql("models/list_health.sql"), {"engaged_window_days": config.rules.engaged_window_days}
    )
    run_statements(
        con,
        con.extract_statements(script),
        {"tz": config.timezone, "start_day": start, "as_of": as_of, "last_file_id": last_file_id},
    )
    con.execute("delete from staging.metrics_state")
    con.execute(
        "insert into staging.metrics_state values (?, ?, ?)",
        [reflected_through(con), as_of, metric_settings(config)],
    )
    return start


def compute_segment_health(con: duckdb.DuckDBPyConnection, config: ContactsConfig) -> None:
    script = render(
        load_sql("models/segment_health.sql"), {"engaged_window_days": config.rules.engaged_window_days}
    )
    run_statements(con, con.extract_statements(script), {"tz": config.timezone})
