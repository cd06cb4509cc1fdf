"""Per-contact engagement as of the run's as-of date (formula in sql/models/contact_engagement.sql)."""

from __future__ import annotations

import datetime as dt

import duckdb

from assets.merge import run_statements
from pipelines.as_of import end_of_day
from pipelines.config import ContactsConfig
from pipelines.warehouse import load_sql


def compute_engagement(con: duckdb.DuckDBPyConnection, config: ContactsConfig, as_of: dt.date) -> None:
    script = load_sql("models/contact_engagement.sql")
    script = script.replace("{engaged_window_days}", str(int(config.rules.engaged_window_days)))
    script = script.replace("{inactive_after_days}", str(int(config.rules.inactive_after_days)))
    run_statements(con, con.extract_statements(script), {"day_end": end_of_day(as_of, config.timezone), "as_of_date": as_of})
