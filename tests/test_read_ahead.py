"""Reading the next inbox file ahead (assets/ingest/read_ahead.py) changes timing only: every file gets the
outcome it would get alone, in ledger order, and the ledger hashes exactly the bytes that were parsed."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from pathlib import Path

from assets.ingest import read_ahead
from assets.ingest.context import KIND_EVENTS, IngestContext
from assets.ingest.inbox import _ingest_one, ingest_folder
from assets.ingest.read_ahead import ReadAhead
from assets.ingest.readers import read_file
from assets.validation.emails import EmailValidatorCache
from pipelines.config import ContactsConfig
from pipelines.warehouse.connection import connect
from pipelines.warehouse.schema import ensure_schema

HEADER = "email,event,occurred_at\n"


def test_a_folder_read_ahead_gets_each_file_its_own_outcome(tmp_path: Path):
    inbox = tmp_path / "inbox" / "events"
    inbox.mkdir(parents=True)
    (inbox / "01.csv").write_text(HEADER + "a@example.com,open,2026-01-05T10:00:00Z\n", encoding="utf-8")
    (inbox / "02.csv").write_bytes(bytes(range(256)) * 40)  # fails in the reader, which runs in the worker
    (inbox / "03.csv").write_text(
        HEADER + "b@example.com,click,2026-01-06T10:00:00Z\nbad,open,2026-01-06T10:00:00Z\n", encoding="utf-8"
    )
    (inbox / "04.txt.unknown").write_text("not a data file", encoding="utf-8")
    con = connect(tmp_path / "warehouse.duckdb")
    config = ContactsConfig()
    ensure_schema(con, config)
    ctx = IngestContext(
        con, tmp_path, config, EmailValidatorCache(), dt.datetime.now(dt.UTC), logging.getLogger("test")
    )

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
    assert [(o.path, o.status) for o in again] == [
        ("inbox/events/02.csv", "failed"),
        ("inbox/events/04.txt.unknown", "failed"),
    ]
    assert con.execute("select count(*) from staging.event_rows").fetchall()[0][0] == 2
    con.close()


def test_files_after_the_first_are_parsed_in_the_worker(tmp_path: Path, monkeypatch):
    inbox = tmp_path / "inbox" / "events"
    inbox.mkdir(parents=True)
    for number in range(1, 4):
        (inbox / f"0{number}.csv").write_text(
            HEADER + f"a{number}@example.com,open,2026-01-05T10:00:00Z\n", encoding="utf-8"
        )
    readers: dict[str, str] = {}

    def recording(path, data=None, content=None):
        readers[path.name] = threading.current_thread().name
        return read_file(path, data, content)

    monkeypatch.setattr(read_ahead, "read_file", recording)
    con = connect(tmp_path / "warehouse.duckdb")
    config = ContactsConfig()
    ensure_schema(con, config)
    ctx = IngestContext(
        con, tmp_path, config, EmailValidatorCache(), dt.datetime.now(dt.UTC), logging.getLogger("test")
    )
    assert [o.status for o in ingest_folder(ctx, inbox, KIND_EVENTS)] == ["loaded"] * 3
    assert sorted(readers) == ["01.csv", "02.csv", "03.csv"]
    assert (
        not readers["01.csv"].startswith("read-ahead")
        and readers["02.csv"].startswith("read-ahead")
        and readers["03.csv"].startswith("read-ahead")
    )
    con.close()


def test_the_ledger_hashes_the_bytes_that_were_parsed(tmp_path: Path):
    """A file changed on disk after it was read ahead loads as it was read, under that content's hash."""
    inbox = tmp_path / "inbox" / "events"
    inbox.mkdir(parents=True)
    path = inbox / "01.csv"
    original = HEADER + "a@example.com,open,2026-01-05T10:00:00Z\n"
    path.write_text(original, encoding="utf-8")
    con = connect(tmp_path / "warehouse.duckdb")
    config = ContactsConfig()
    ensure_schema(con, config)
    ctx = IngestContext(
        con, tmp_path, config, EmailValidatorCache(), dt.datetime.now(dt.UTC), logging.getLogger("test")
    )
    with ReadAhead(ContactsConfig().limits) as ahead:
        ahead.start(path)
        prefetched = ahead.take(path)
    path.write_text(HEADER, encoding="utf-8")  # changed after the read
    outcome = _ingest_one(ctx, path, KIND_EVENTS, None, prefetched)
    assert (outcome.status, outcome.rows_accepted) == ("loaded", 1)
    (sha,) = con.execute("select sha256 from import_files").fetchall()[0]
    assert sha == hashlib.sha256(original.encode() + b"\x00manifest\x00\x00none").hexdigest()
    con.close()


def test_the_bytes_parsed_are_the_bytes_handed_back(tmp_path: Path):
    path = tmp_path / "events.csv"
    path.write_text(HEADER + "a@example.com,open,2026-01-05T10:00:00Z\n", encoding="utf-8")
    with ReadAhead(ContactsConfig().limits) as ahead:
        ahead.start(path)
        read = ahead.take(path)
        path.write_text(HEADER, encoding="utf-8")  # changed on disk after the read: the result stays whole
    assert (
        read.digest.digest()
        == hashlib.sha256((HEADER + "a@example.com,open,2026-01-05T10:00:00Z\n").encode()).digest()
    )
    assert read.parsed_or_raise().rows_total == 1
    assert ahead.take(path) is None  # taken once
