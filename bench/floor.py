"""The floor of a whole job: DuckDB alone landing the contact files and the event files in two persistent
tables of a fresh database file, every column as text. Nothing that loads those bytes into DuckDB can be
faster, so the whole job's ratio to it says what the pipeline's work costs on top of the load itself."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

FLOOR_TRIES = 3  # best of three: the machine is shared, and the best try is the closest to the cost itself


def read_csv_sql(files: list[Path]) -> str:
    """DuckDB's reader over the files, every column as text (what the floors and the yardstick load)."""
    listed = ", ".join("'" + str(path).replace("'", "''") + "'" for path in files)
    return f"read_csv([{listed}], header = true, all_varchar = true)"


def load_floor(contact_files: list[Path], event_files: list[Path], database: Path) -> dict:
    """One try: connect to a fresh file, two `create table ... as select * from read_csv(...)`, close."""
    database.unlink(missing_ok=True)
    started = time.perf_counter()
    con = duckdb.connect(str(database))
    try:
        con.execute(f"create table contacts as select * from {read_csv_sql(contact_files)}")
        con.execute(f"create table events as select * from {read_csv_sql(event_files)}")
    finally:
        con.close()  # included: closing checkpoints the WAL into the file
    seconds = time.perf_counter() - started
    # Counted after the clock stops, so the count is not part of the floor.
    con = duckdb.connect(str(database), read_only=True)
    try:
        contacts = con.execute("select count(*) from contacts").fetchone()[0]
        events = con.execute("select count(*) from events").fetchone()[0]
    finally:
        con.close()
    return {
        "seconds": seconds,
        "contact_rows": contacts,
        "event_rows": events,
        "database_mb": database.stat().st_size / 2**20,
    }


def best_floor(
    contact_files: list[Path], event_files: list[Path], work: Path, tries: int = FLOOR_TRIES
) -> dict:
    """The fastest of `tries` loads, each into a fresh file (deleted after it is measured)."""
    work.mkdir(parents=True, exist_ok=True)
    runs = []
    for attempt in range(1, tries + 1):
        database = work / f"floor-{attempt}.duckdb"
        runs.append(load_floor(contact_files, event_files, database))
        database.unlink(missing_ok=True)
    best = min(runs, key=lambda run: run["seconds"])
    return best | {"tries_seconds": [round(run["seconds"], 3) for run in runs]}
