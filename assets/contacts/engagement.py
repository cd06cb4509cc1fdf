"""Per-contact engagement as of the run's as-of date (formula in sql/models/contact_engagement.sql)."""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.as_of import end_of_day
from pipelines.config import ContactsConfig
from pipelines.warehouse.render import KEEP_SCOPE, load_sql, render
from pipelines.warehouse.scope import recompute, settings_fingerprint, status_rules_fingerprint


def engagement_settings(config: ContactsConfig, as_of: dt.date) -> str:
    """What stored rows were computed with. The as-of date moves every window, so a new day recomputes every
    contact; the status rules too (a change replays every address's status)."""
    relevant = {
        "as_of": as_of.isoformat(),
        "timezone": config.timezone,
        "engaged_window_days": config.rules.engaged_window_days,
        "inactive_after_days": config.rules.inactive_after_days,
        "sql": load_sql("models/contact_engagement.sql"),
        "status": status_rules_fingerprint(config),
    }
    return settings_fingerprint(relevant)


def compute_engagement(con: duckdb.DuckDBPyConnection, config: ContactsConfig, as_of: dt.date) -> int | None:
    """Recompute the contacts new files mention, or every contact (another as-of date, other settings);
    returns how many addresses were recomputed, None for all. Call inside a transaction."""
    windows = {
        "engaged_window_days": config.rules.engaged_window_days,
        "inactive_after_days": config.rules.inactive_after_days,
    }
    script = render(load_sql("models/contact_engagement.sql"), windows, scope=KEEP_SCOPE)
    parameters = {"day_end": end_of_day(as_of, config.timezone), "as_of_date": as_of}
    return recompute(con, "contact_engagement", engagement_settings(config, as_of), script, parameters)
