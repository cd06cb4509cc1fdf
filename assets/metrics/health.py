"""List-health and segment-health metrics (DESIGN 8), incremental by day.

A run recomputes list_health only from the first day that new inputs touch (the earliest business time
among the files loaded since the last computation), so a late event file for an old day updates that day
and the days after it. An erasure or a change of the settings the metrics depend on recomputes every day.

A day's figures depend on the inputs and the day, never on the as-of date: so each computation goes on a
year past the as-of date and keeps those days in `staging.list_health_ahead`, and a daily run that finds
no new file and no other setting takes its new day from there instead of computing anything.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.config import ContactsConfig
from pipelines.warehouse.connection import run_statements
from pipelines.warehouse.fingerprints import config_token, data_tokens, digest, sql_token
from pipelines.warehouse.render import load_sql, render
from pipelines.warehouse.scope import reflected_through, settings_fingerprint, status_rules_fingerprint

AHEAD_DAYS = 366  # how far past the as-of date each computation goes (a year of daily runs)


def metric_settings(config: ContactsConfig) -> str:
    """What the stored days were computed with; a change invalidates all of them."""
    relevant = {
        "timezone": config.timezone,
        "engaged_window_days": config.rules.engaged_window_days,
        "lists": {k: v.model_dump() for k, v in config.lists.items()},
        "sql": load_sql("models/list_health.sql"),
        # a change of the status rules replays every address's status, which moves every day's figures
        "status": status_rules_fingerprint(config),
    }
    return settings_fingerprint(relevant)


def first_touched_day(con: duckdb.DuckDBPyConnection, config: ContactsConfig) -> tuple[dt.date, int] | None:
    """The first day to recompute and the last file the stored days had seen, or None when nothing is
    stored yet or everything must be redone."""
    state = con.execute("select last_file_id, last_day, settings from staging.metrics_state").fetchall()
    if not state or state[0][2] != metric_settings(config):
        return None
    last_file_id, last_day, _ = state[0]
    redo_all = con.execute(
        # an erasure, or a merge (it moves a contact's past, its events, lists and statuses, to another): every day again
        "select count(*) from import_files where file_id > ? and kind in ('erasure', 'merges') and status = 'loaded'",
        [last_file_id],
    ).fetchall()[0][0]
    if redo_all:
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


def days_ahead_from(con: duckdb.DuckDBPyConnection, config: ContactsConfig, as_of: dt.date) -> dt.date | None:
    """The last day computed, when the days up to `as_of` are all in `staging.list_health_ahead`: nothing was
    loaded (no file of any kind, erasure requests included) and no setting changed since that computation,
    and `as_of` is after its as-of date and within its year ahead. None: compute."""
    state = con.execute(
        "select last_file_id, last_day, settings, ahead_until from staging.metrics_state"
    ).fetchall()
    if not state:
        return None
    last_file_id, last_day, settings, ahead_until = state[0]
    if settings != metric_settings(config) or ahead_until is None or not last_day < as_of <= ahead_until:
        return None
    (newest_file,) = con.execute("select coalesce(max(file_id), 0) from import_files").fetchall()[0]
    if newest_file != last_file_id or reflected_through(con) != last_file_id:
        return None
    return last_day


def compute_list_health(con: duckdb.DuckDBPyConnection, config: ContactsConfig, as_of: dt.date) -> dt.date:
    """Recompute the touched days up to the as-of date, or take them from the days ahead when nothing changed;
    returns the first day recomputed. Call in a transaction."""
    last_day = days_ahead_from(con, config, as_of)
    if last_day is not None:
        con.execute(
            "insert into staging.list_health select * from staging.list_health_ahead where day > ? and day <= ?",
            [last_day, as_of],
        )
        con.execute("delete from staging.list_health_ahead where day <= ?", [as_of])
        con.execute("update staging.metrics_state set last_day = ?", [as_of])
        return last_day + dt.timedelta(days=1)
    # Engagement islands are recomputed for the contacts files after last_file_id mention; -1: for everyone.
    start, last_file_id = first_touched_day(con, config) or (dt.date(1900, 1, 1), -1)
    # A backfill (an as-of date before the last one) computes the days after it again, for the days ahead.
    start = min(start, as_of + dt.timedelta(days=1))
    until = as_of + dt.timedelta(days=AHEAD_DAYS)
    script = render(
        load_sql("models/list_health.sql"), {"engaged_window_days": config.rules.engaged_window_days}
    )
    run_statements(
        con,
        con.extract_statements(script),
        {
            "tz": config.timezone,
            "start_day": start,
            "as_of": as_of,
            "until": until,
            "last_file_id": last_file_id,
        },
    )
    con.execute("delete from staging.metrics_state")
    con.execute(
        "insert into staging.metrics_state values (?, ?, ?, ?)",
        [reflected_through(con), as_of, metric_settings(config), until],
    )
    return start


def segment_health_inputs(con: duckdb.DuckDBPyConnection, config: ContactsConfig) -> str:
    """What every row of segment_health depends on besides the segments' history: the events (the files), the
    erasures and the settings."""
    return digest(
        {
            "data": data_tokens(con),
            "config": config_token(config),
            "sql": sql_token("models/segment_health.sql"),
        }
    )


def segment_health_from(con: duckdb.DuckDBPyConnection, config: ContactsConfig) -> int:
    """The first version whose rows must be computed: after the last computation's versions when only new
    versions came since, none of them as of a day before those (a backfill changes which change comes before
    which); 0, every version, otherwise."""
    state = con.execute("select inputs, through_version from staging.segment_health_state").fetchall()
    if not state or state[0][0] != segment_health_inputs(con, config):
        return 0
    through = state[0][1]
    (backfilled,) = con.execute(
        """select count(*) from versions
           where version > $through and as_of_date < (select max(as_of_date) from versions where version <= $through)""",
        {"through": through},
    ).fetchall()[0]
    return 0 if backfilled else through + 1


def compute_segment_health(con: duckdb.DuckDBPyConnection, config: ContactsConfig) -> int:
    """Compute the rows of the versions from segment_health_from on; returns that version. Call in a
    transaction."""
    from_version = segment_health_from(con, config)
    script = render(
        load_sql("models/segment_health.sql"), {"engaged_window_days": config.rules.engaged_window_days}
    )
    run_statements(con, con.extract_statements(script), {"tz": config.timezone, "from_version": from_version})
    con.execute("delete from staging.segment_health_state")
    con.execute(
        "insert into staging.segment_health_state select ?, coalesce(max(version), 0) from versions",
        [segment_health_inputs(con, config)],
    )
    return from_version
