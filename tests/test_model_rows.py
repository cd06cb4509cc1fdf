"""SQL models tested by rows, SQLMesh-style: seed the tables a model reads with a few rows on a real DuckDB
file (the real schema), run the one model through the renderer, assert the rows it writes. No pipeline
run: each test takes milliseconds, so the rule cases can be many."""

from __future__ import annotations

import datetime as dt

import pytest

from assets.metrics.health import compute_segment_health
from pipelines.config import ContactsConfig
from tests.model_rows import new_warehouse

CONFIG = ContactsConfig.model_validate({"timezone": "UTC", "rules": {"engaged_window_days": 7}})


@pytest.fixture
def con(tmp_path):
    connection = new_warehouse(tmp_path / "warehouse.duckdb", CONFIG)
    yield connection
    connection.close()


def seed_versions(con, versions: dict[int, str]) -> None:
    for version, as_of in versions.items():
        con.execute(
            "insert into versions values (?, ?, ?, now(), ['segment_members'])",
            [version, f"run-{version}", as_of],
        )


def seed_members(con, rows: list[tuple[str, int, int, int | None]]) -> None:
    """(segment, contact, valid_from_version, valid_to_version)"""
    for segment, contact, valid_from, valid_to in rows:
        con.execute(
            "insert into segment_members_history (segment_id, contact_id, email, sql_sha256, valid_from_version, valid_to_version)"
            " values (?, ?, ?, 'sha', ?, ?)",
            [segment, contact, f"c{contact}@example.com", valid_from, valid_to],
        )


def health(con) -> list[tuple]:
    return con.execute(
        "select segment_id, version, as_of_date::varchar, size, entered, exited from segment_health order by segment_id, as_of_date, version"
    ).fetchall()


def test_segment_health_counts_entries_and_exits_between_changes(con):
    seed_versions(con, {1: "2026-06-01", 2: "2026-06-02", 3: "2026-06-03"})
    # c1 stays, c2 leaves at v2, c3 joins at v2, c4 joins at v3
    seed_members(con, [("s", 1, 1, None), ("s", 2, 1, 2), ("s", 3, 2, None), ("s", 4, 3, None)])
    compute_segment_health(con, CONFIG)
    assert health(con) == [
        ("s", 1, "2026-06-01", 2, 2, 0),
        ("s", 2, "2026-06-02", 2, 1, 1),
        ("s", 3, "2026-06-03", 3, 1, 0),
    ]


def test_segment_health_puts_a_backfill_among_the_days(con):
    # v1 today {c1, c2}; v2 a backfill of an earlier day {c1}; v3 today again {c1, c2}
    seed_versions(con, {1: "2026-07-15", 2: "2026-06-10", 3: "2026-07-15"})
    seed_members(con, [("s", 1, 1, None), ("s", 2, 1, 2), ("s", 2, 3, None)])
    compute_segment_health(con, CONFIG)
    # in as-of order: the June backfill first, then July's two versions; v3 is no exit-and-return of c2
    assert health(con) == [
        ("s", 2, "2026-06-10", 1, 1, 0),
        ("s", 1, "2026-07-15", 2, 1, 0),
        ("s", 3, "2026-07-15", 2, 0, 0),
    ]


def test_segment_health_rates_over_the_engaged_window(con):
    seed_versions(con, {1: "2026-06-10"})
    seed_members(con, [("s", 1, 1, None), ("s", 2, 1, None)])
    events = [
        ("c1@example.com", "delivered", dt.datetime(2026, 6, 8, 9, tzinfo=dt.UTC)),
        ("c1@example.com", "open", dt.datetime(2026, 6, 8, 10, tzinfo=dt.UTC)),
        ("c2@example.com", "delivered", dt.datetime(2026, 6, 9, 9, tzinfo=dt.UTC)),
        ("c2@example.com", "open", dt.datetime(2026, 5, 1, 9, tzinfo=dt.UTC)),  # outside the 7-day window
    ]
    for row_number, (email, event, moment) in enumerate(events, start=1):
        con.execute(
            "insert into staging.event_rows (file_id, row_number, email, event, occurred_at) values (1, ?, ?, ?, ?)",
            [row_number, email, event, moment],
        )
    compute_segment_health(con, CONFIG)
    assert con.execute("select open_rate, click_rate from segment_health").fetchall() == [(0.5, 0.0)]
