"""The SQL loading of event rows (assets/ingest/event_loading.py) against the polars staging of the same file.

Every row of a file full of awkward cells (padded, unicode, look-alike letters, impossible dates, DST
gaps, offsets, odd numbers, erased addresses) must come out of the two paths identically: the same
accepted rows with the same values, the same rejects with the same reasons, the same field issues.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from pathlib import Path

import polars as pl
import pytest

from assets.ingest.event_loading import load_event_rows
from assets.ingest.headers import map_header
from assets.ingest.readers import read_file
from assets.ingest.store_file import reject_erased
from assets.validation.emails import EmailValidatorCache
from assets.validation.event_rows import stage_event_file
from pipelines.config import ContactsConfig
from pipelines.vocabulary import EVENT_HEADERS
from pipelines.warehouse.connection import connect, transaction
from pipelines.warehouse.schema import ensure_schema
from pipelines.warehouse.tombstones import erasure_salt

EMAILS = [
    "ann@example.com",
    "Ann@Example.COM",
    "bob.smith+news@example.org",
    " padded@example.com ",
    "tab\t@example.com",
    "first.last+tag@gmail.com",
    "First.Last@googlemail.com",
    "bad@",
    "no-at-sign",
    "",
    "user@münchen.de",
    "\u212aelvin@example.com",
    "x@localhost",
    "x@mail.test",
    "x@a--b.com",
    '"quoted"@example.com',
    "dots..twice@example.com",
    "ünï@example.com",
    "erased.person@example.com",
    "a@" + "b" * 64 + ".com",
]
EVENT_NAMES = [
    "open",
    "OPEN",
    "Click",
    " click",
    "clic\u212a",
    "purchase",
    "sent ",
    "opened",
    "",
    "hard_bounce",
    "Sent",
]
MOMENTS = [
    "2026-01-05T10:00:00Z",
    "2026-01-05 10:00:00",
    "2026-01-05T10:00:00",
    "2026-01-05 10:00:00Z",
    "2026-02-30T10:00:00Z",
    "2026-01-05T24:00:00Z",
    "2026-01-05T23:59:60Z",
    "2026-01-05",
    "2026-01-05T10:00:00+02:00",
    "2026-01-05T10:00:00.123Z",
    "0999-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "yesterday",
    "",
    "2026-03-29T02:30:00",
    "2026-10-25T02:30:00",
    "\uff12\uff10\uff12\uff16-01-05T10:00:00Z",
    "2026-1-5T10:00:00Z",
    " 2026-01-05T10:00:00Z",
    "2026-01-05T10:00:00 UTC",
    "2024-02-29T23:59:59Z",
    "9999-12-31T23:59:59Z",
]
TEXTS = [
    None,
    "",
    "nl-1",
    " nl-2",
    "nl-3 ",
    "é-camp",
    "camp\u00a0",
    "a",
    "x\u2003",
    "multi\nline",
    "newsletter",
]
VALUES = [
    None,
    "",
    "12.50",
    "+5",
    "-3",
    "1e5",
    "12,50",
    " 7",
    "007.10",
    "123456789012345",
    ".5",
    "5.",
    "0.1",
    "999999999999999.999999999999999",
]
URLS = [
    None,
    "",
    "https://shop.example.com/p/1?utm=a",
    "https://x.example/é",
    " https://x.example",
    "https://x.example/ ",
]


def awkward_events(rows: int, seed: int) -> bytes:
    """A CSV of `rows` rows drawn from the awkward cells above, half of them plain so both paths get work."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "event", "occurred_at", "campaign_id", "list", "value", "url"])
    for _ in range(rows):
        if rng.random() < 0.5:
            row = [
                f"user{rng.randrange(300)}@example.com",
                rng.choice(["open", "click", "sent"]),
                f"2026-0{rng.randrange(1, 10)}-1{rng.randrange(10)}T1{rng.randrange(10)}:3{rng.randrange(10)}:00Z",
                "nl-7",
                "newsletter",
                None,
                None,
            ]
        else:
            row = [
                rng.choice(EMAILS),
                rng.choice(EVENT_NAMES),
                rng.choice(MOMENTS),
                rng.choice(TEXTS),
                rng.choice(TEXTS),
                rng.choice(VALUES),
                rng.choice(URLS),
            ]
        writer.writerow(["" if cell is None else cell for cell in row])
    out.write("only-an-address@example.com\n")  # a short row: missing cells are null
    return out.getvalue().encode("utf-8")


def sorted_frame(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("row_number")


@pytest.mark.parametrize(
    ("timezone", "fold", "erase", "seed"),
    [("UTC", False, False, 1), ("Europe/Berlin", False, True, 2), ("UTC", True, True, 3)],
)
def test_sql_loading_matches_polars_staging(
    tmp_path: Path, timezone: str, fold: bool, erase: bool, seed: int
):
    config = ContactsConfig(timezone=timezone, rules={"fold_provider_aliases": fold})
    path = tmp_path / "events.csv"
    path.write_bytes(awkward_events(6000, seed=seed))
    parsed = read_file(path)
    mapping = map_header(parsed.header, EVENT_HEADERS, {})
    con = connect(tmp_path / "warehouse.duckdb")
    ensure_schema(con, config)
    if erase:
        salt = erasure_salt(con)
        con.execute(
            "insert into suppressions values (null, sha256(? || ?), 'erased', now())",
            [salt, "erased.person@example.com"],
        )

    with transaction(con):
        loaded = load_event_rows(con, parsed, mapping, 1, config, EmailValidatorCache(fold))
    rest = reject_erased(con, loaded.rest)
    con.complete()
    by_sql = con.sql("select * exclude (file_id) from staging.event_rows where file_id = 1").pl()

    reference = reject_erased(con, stage_event_file(parsed, mapping, 1, config, EmailValidatorCache(fold)))
    expected_rows = sorted_frame(reference.rows.drop("file_id"))
    got_rows = sorted_frame(pl.concat([by_sql.cast(expected_rows.schema), rest.rows.drop("file_id")]))

    assert loaded.inserted > 2500, "the SQL path should take the plain half of the rows"
    assert got_rows.height + rest.rejects.height == parsed.rows_total
    assert got_rows.to_dicts() == expected_rows.to_dicts()
    assert sorted_frame(rest.rejects).to_dicts() == sorted_frame(reference.rejects).to_dicts()
    assert sorted_frame(rest.field_issues).to_dicts() == sorted_frame(reference.field_issues).to_dicts()
    assert (
        reference.rejects.height > 100 and reference.field_issues.height > 10
    )  # the awkward cells were exercised
    if erase:
        assert "erased" in reference.rejects.get_column("reason").to_list()
    con.close()


def test_sql_loading_keeps_occurred_at_exact(tmp_path: Path):
    """The moment DuckDB stores for the plain shapes is the one polars computes, to the microsecond."""
    config = ContactsConfig()
    path = tmp_path / "events.csv"
    path.write_text(
        "email,event,occurred_at\na@example.com,open,2024-02-29T23:59:59Z\nb@example.com,open,1970-01-01 00:00:00\n",
        encoding="utf-8",
    )
    parsed = read_file(path)
    con = connect(tmp_path / "warehouse.duckdb")
    ensure_schema(con, config)
    with transaction(con):
        loaded = load_event_rows(
            con, parsed, map_header(parsed.header, EVENT_HEADERS, {}), 1, config, EmailValidatorCache()
        )
    assert loaded.inserted == 2 and loaded.rest.rows.height == 0
    moments = [
        row[0]
        for row in con.execute("select occurred_at from staging.event_rows order by row_number").fetchall()
    ]
    assert [m.astimezone(dt.UTC) for m in moments] == [
        dt.datetime(2024, 2, 29, 23, 59, 59, tzinfo=dt.UTC),
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
    ]
    con.close()
