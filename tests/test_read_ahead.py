"""Reading the next inbox file ahead (assets/read_ahead.py) changes timing only: every file gets the
outcome it would get alone, in ledger order, and the ledger hashes exactly the bytes that were parsed."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path

from assets.ingest import KIND_EVENTS, IngestContext, ingest_folder
from assets.read_ahead import ReadAhead
from assets.validation import EmailValidatorCache
from pipelines.config import ContactsConfig
from pipelines.warehouse import connect, ensure_schema

HEADER = "email,event,occurred_at\n"


def test_a_folder_read_ahead_gets_each_file_its_own_outcome(tmp_path: Path):
    inbox = tmp_path / "inbox" / "events"
    inbox.mkdir(parents=True)
    (inbox / "01.csv").write_text(HEADER + "a@example.com,open,2026-01-05T10:00:00Z\n", encoding="utf-8")
    (inbox / "02.csv").write_bytes(bytes(range(256)) * 40)  # fails in the reader, which runs in the worker
    (inbox / "03.csv").write_text(HEADER + "b@example.com,click,2026-01-06T10:00:00Z\nbad,open,2026-01-06T10:00:00Z\n", encoding="utf-8")
    (inbox / "04.txt.unknown").write_text("not a data file", encoding="utf-8")
    con = connect(tmp_path / "warehouse.duckdb")
    config = ContactsConfig()
    ensure_schema(con, config)
    ctx = IngestContext(con, tmp_path, config, EmailValidatorCache(), dt.datetime.now(dt.timezone.utc), logging.getLogger("test"))

    outcomes = ingest_folder(ctx, inbox, KIND_EVENTS)

    assert [(o.path, o.status, o.rows_accepted, o.rows_rejected) for o in outcomes] == [
        ("inbox/events/01.csv", "loaded", 1, 0),
        ("inbox/events/02.csv", "failed", 0, 0),
        ("inbox/events/03.csv", "loaded", 1, 1),
        ("inbox/events/04.txt.unknown", "failed", 0, 0),
    ]
    assert "binary content" in outcomes[1].reason
    ledger = dict(con.execute("select path, sha256 from import_files").fetchall())
    expected = hashlib.sha256((inbox / "03.csv").read_bytes() + b"\x00manifest\x00\x00none").hexdigest()
    assert ledger["inbox/events/03.csv"] == expected
    # A second pass loads nothing again; only the failed files are tried (and fail) once more.
    again = ingest_folder(ctx, inbox, KIND_EVENTS)
    assert [(o.path, o.status) for o in again] == [("inbox/events/02.csv", "failed"), ("inbox/events/04.txt.unknown", "failed")]
    assert con.execute("select count(*) from staging.event_rows").fetchall()[0][0] == 2
    con.close()


def test_the_bytes_parsed_are_the_bytes_handed_back(tmp_path: Path):
    path = tmp_path / "events.csv"
    path.write_text(HEADER + "a@example.com,open,2026-01-05T10:00:00Z\n", encoding="utf-8")
    with ReadAhead() as ahead:
        ahead.start(path)
        read = ahead.take(path)
        path.write_text(HEADER, encoding="utf-8")  # changed on disk after the read: the result stays whole
    assert read.data == (HEADER + "a@example.com,open,2026-01-05T10:00:00Z\n").encode()
    assert read.parsed_or_raise().rows_total == 1
    assert ahead.take(path) is None  # taken once
