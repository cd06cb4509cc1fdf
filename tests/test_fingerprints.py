"""The fingerprint helpers on a real DuckDB file: a step is unchanged only while every part of its inputs is."""

from __future__ import annotations

import datetime as dt
import os

import duckdb
import pytest

from assets.audience.segments import uses_as_of_date
from pipelines.config import load_config
from pipelines.warehouse.fingerprints import (
    StepInputs,
    inbox_listing,
    ledger_token,
    reclaim_pending,
    record,
    unchanged,
)
from pipelines.warehouse.schema import ensure_schema


@pytest.fixture
def con(workspace):
    connection = duckdb.connect(str(workspace.paths.warehouse))
    ensure_schema(connection, load_config(workspace.paths.config_path))
    yield connection
    connection.close()


def test_unchanged_only_while_every_part_is_the_same(con):
    token = {"value": 1}
    inputs = StepInputs("step", {"as_of": "2026-06-30"}, lambda con: dict(token))
    assert unchanged(con, inputs) is None  # never computed
    record(con, inputs)
    assert "inputs unchanged since" in unchanged(con, inputs) and "as_of, value" in unchanged(con, inputs)
    assert unchanged(con, StepInputs("step", {"as_of": "2026-07-01"}, inputs.tokens)) is None
    assert unchanged(con, StepInputs("other", inputs.fixed, inputs.tokens)) is None
    token["value"] = 2  # the warehouse moved on
    assert unchanged(con, inputs) is None


def test_the_ledger_token_moves_with_every_entry_and_the_merge_mark(con):
    plain, merged = ledger_token(con, merged=False), ledger_token(con)
    con.execute(
        "insert into import_files (file_id, path, kind, sha256, status) values (1, 'inbox/contacts/a.csv', 'contacts', 'x', 'loaded')"
    )
    assert ledger_token(con, merged=False) != plain and ledger_token(con) != merged
    plain, merged, erasures = (
        ledger_token(con, merged=False),
        ledger_token(con),
        ledger_token(con, kinds=("erasure",)),
    )
    con.execute("update import_files set merged_at = now()")
    assert ledger_token(con, merged=False) == plain  # the ingest step's token leaves the merge out
    assert ledger_token(con) != merged
    assert ledger_token(con, kinds=("erasure",)) == erasures


def test_the_inbox_listing_sees_a_file_rewritten_with_the_same_size_and_time(tmp_path):
    folder = tmp_path / "contacts"
    folder.mkdir()
    path = folder / "a.csv"
    path.write_text("email\nann@example.com\n")
    before = inbox_listing(folder)
    stat = path.stat()
    path.write_text("email\nbob@example.com\n")  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the modification time put back
    assert inbox_listing(folder) != before  # the status-change time cannot be put back
    assert inbox_listing(folder) == inbox_listing(folder)
    assert inbox_listing(tmp_path / "missing") == []


def test_a_segment_depends_on_the_as_of_date_only_when_it_calls_it():
    assert uses_as_of_date("select contact_id from contacts where created_at < as_of_date() - interval 9 day")
    assert uses_as_of_date("select contact_id from contacts where created_at < AS_OF_DATE ( ) - 9")
    assert not uses_as_of_date("select contact_id from contacts where list_contains(tags, 'vip')")
    assert uses_as_of_date("select contact_id from (")  # unreadable: counted as depending on it


def test_a_step_must_run_to_make_the_newest_day_current_after_a_backfill(con):
    def version(number: int, day: str) -> None:
        con.execute(
            "insert into versions values (?, ?, ?, now(), ['contact_engagement'])",
            [number, f"run-{number}", dt.date.fromisoformat(day)],
        )

    assert not reclaim_pending(con, "contact_engagement", dt.date(2026, 7, 1))  # nothing written yet
    version(1, "2026-07-01")
    assert not reclaim_pending(con, "contact_engagement", dt.date(2026, 7, 1))
    version(2, "2026-06-30")  # a backfill wrote the rows last
    assert reclaim_pending(con, "contact_engagement", dt.date(2026, 7, 1))
    assert not reclaim_pending(con, "contact_engagement", dt.date(2026, 6, 29))  # another backfill
