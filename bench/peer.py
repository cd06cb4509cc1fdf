"""The peer: the script a user would write in an afternoon to do the job without the pipeline.

pandas reads each contact file, every address is stripped and checked with email-validator (row by row,
one process, as such a script does), the valid rows are keyed on the normalised address lower-cased and
deduplicated (the last row wins); pandas reads the event files and parses their times, dropping the rows
whose time does not parse; DuckDB stores both as tables in a fresh file and one segment query writes the
subscribed contacts with an open or a click in the 90 days to the as-of date into a third.

Honestly written, with nothing slowed down on purpose, and with no pipeline code: it imports nothing from
`assets` or `pipelines`. `compare` mode (bench/run.py) runs it in a child process of its own, so that its
peak memory is its own, with the interpreter of `.venv-peer` (bench/requirements-peer.lock, made by
`make bench`): pandas is not a dependency of the pipeline.

    .venv-peer/bin/python bench/peer.py CONTACT_DIR EVENT_DIR DATABASE

prints its figures as one JSON object (counts and seconds; never an address).
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
from email_validator import EmailNotValidError, validate_email

AS_OF = dt.date(2026, 6, 30)  # the bench's as-of date (bench/pipeline.py AS_OF)
ENGAGED_DAYS = 90
STATUS_EVENTS = ("unsubscribe", "hard_bounce", "complaint")  # what ends a subscription


def email_key(address: str) -> str | None:
    """email-validator's normalised address, lower-cased; None when it is not a valid address."""
    try:
        return validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def read_csvs(files: list[Path]) -> pd.DataFrame:
    """Every file as text, empty cells as empty strings (not NaN), one frame."""
    return pd.concat(
        [pd.read_csv(path, dtype=str, keep_default_na=False) for path in files], ignore_index=True
    )


def valid_contacts(contacts: pd.DataFrame) -> pd.DataFrame:
    """The rows with a valid address, `email` replaced by its key."""
    keys = contacts["email"].str.strip().map(email_key)
    return contacts.assign(email=keys)[keys.notna()]


def parsed_events(events: pd.DataFrame) -> pd.DataFrame:
    """Times parsed (unparseable ones dropped), addresses lower-cased to join the contacts' keys."""
    occurred_at = pd.to_datetime(events["occurred_at"], utc=True, errors="coerce")
    events = events.assign(occurred_at=occurred_at, email=events["email"].str.strip().str.lower())
    return events[occurred_at.notna()]


def engaged_segment_sql(as_of: dt.date) -> str:
    """Subscribed contacts (no unsubscribe, hard bounce or complaint up to the as-of date) with an open or a
    click in the 90 days up to the end of the as-of date."""
    day_end = f"timestamptz '{as_of + dt.timedelta(days=1)} 00:00:00+00'"
    closing = ", ".join(f"'{name}'" for name in STATUS_EVENTS)
    return f"""
        create table engaged as
        select c.email
        from contacts c
        where c.email not in (select email from events where event in ({closing}) and occurred_at < {day_end})
          and c.email in (
              select email from events
              where event in ('open', 'click')
                and occurred_at >= {day_end} - interval {ENGAGED_DAYS} day and occurred_at < {day_end})
    """


def run_peer(
    contact_files: list[Path], event_files: list[Path], database: Path, as_of: dt.date = AS_OF
) -> dict:
    """The whole script, timed from the first read to the database's close, stage by stage."""
    stages: dict[str, float] = {}
    started = clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        stages[stage] = round(now - clock, 3)
        clock = now

    rows = read_csvs(contact_files)
    lap("read")
    valid = valid_contacts(rows)
    lap("validate")
    contacts = valid.drop_duplicates(subset="email", keep="last")
    lap("dedupe")
    event_rows = read_csvs(event_files)
    events = parsed_events(event_rows)
    lap("events")
    database.unlink(missing_ok=True)
    con = duckdb.connect(str(database))
    try:
        con.register("contacts_frame", contacts)
        con.register("events_frame", events)
        con.execute("create table contacts as select * from contacts_frame")
        con.execute("create table events as select * from events_frame")
        lap("duckdb")
        con.execute(engaged_segment_sql(as_of))
        segment = con.execute("select count(*) from engaged").fetchone()[0]
    finally:
        con.close()
    lap("segment")
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "stages": stages,
        "rows": len(rows),
        "valid": len(valid),
        "contacts": len(contacts),
        "event_rows": len(event_rows),
        "events": len(events),
        "segment": segment,
        "database_mb": round(database.stat().st_size / 2**20, 1),
    }


def main(argv: list[str]) -> int:
    contact_dir, event_dir, database = (Path(arg) for arg in argv)
    figures = run_peer(sorted(contact_dir.glob("*.csv")), sorted(event_dir.glob("*.csv")), database)
    figures["peak_rss_mb"] = peak_rss_mb()
    figures["engaged_days"] = ENGAGED_DAYS
    print(json.dumps(figures))
    return 0


def peak_rss_mb() -> float:
    """The peak resident memory of this process (the interpreter and imports included). Linux's VmHWM, not
    ru_maxrss: ru_maxrss carries over the parent's resident size at the fork before exec, so a child of a
    large process would report at least the parent's size."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # not Linux


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
