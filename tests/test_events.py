"""Event files: same formats, ledger and rejects as contact files; events of non-contacts are kept."""

from __future__ import annotations

import gzip
import json

from tests.conftest import INGEST_AND_MERGE


def test_event_rows_are_validated_and_kept(workspace):
    workspace.drop("contacts.csv", "email\nknown@example.com\n")
    workspace.drop(
        "a.csv",
        "E-Mail;Type;Timestamp;Campaign;Amount\n"
        "Known@Example.com;OPEN;2026-06-01T10:00:00;c1;\n"
        "stranger@example.com;click;2026-06-01 10:00:00+02:00;c1;\n"
        "known@example.com;opened;2026-06-01T10:00:00;c1;\n"
        "known@example.com;click;last tuesday;c1;\n"
        "known@example.com;click;;c1;\n"
        ";open;2026-06-01T10:00:00;c1;\n"
        "known@example.com;purchase;2026-06-02T10:00:00;c1;9,99\n",
        folder="events",
    )
    workspace.run(only=INGEST_AND_MERGE)
    ledger = workspace.one(
        "select kind, delimiter, rows_total, rows_accepted, rows_rejected from import_files where path like '%events/a.csv'"
    )
    assert ledger == ("events", ";", 7, 3, 4)
    assert workspace.query("select row_number, reason from rejected_rows order by row_number") == [
        (3, "unknown_event"),
        (4, "bad_timestamp"),
        (5, "bad_timestamp"),
        (6, "missing_email"),
    ]
    assert (
        "unknown event 'opened'" in workspace.one("select detail from rejected_rows where row_number = 3")[0]
    )
    events = workspace.query(
        "select contact_id is not null, email, event, occurred_at at time zone 'UTC', campaign_id from events order by email, event"
    )
    assert [row[:3] for row in events] == [
        (True, "known@example.com", "open"),
        (True, "known@example.com", "purchase"),
        (False, "stranger@example.com", "click"),
    ]
    # naive times are in the configured timezone (Europe/Berlin, UTC+2 in June); explicit offsets are kept
    assert str(events[0][3]) == "2026-06-01 08:00:00" and str(events[2][3]) == "2026-06-01 08:00:00"
    assert workspace.query("select field, raw_value from field_issues") == [("value", "9,99")]


def test_event_formats_and_idempotency(workspace):
    lines = [
        {"email": "j@example.com", "event": "open", "occurred_at": "2026-06-01T10:00:00Z"},
        {"email": "j@example.com", "event": "purchase", "occurred_at": "2026-06-01T11:00:00Z", "value": 12.5},
    ]
    workspace.drop(
        "b.jsonl.gz", gzip.compress("\n".join(json.dumps(line) for line in lines).encode()), folder="events"
    )
    workspace.drop(
        "c.tsv",
        "email\tevent\toccurred_at\nj@example.com\tclick\t2026-06-01T10:05:00Z\n".encode("utf-16"),
        folder="events",
    )
    workspace.run(only=INGEST_AND_MERGE)
    assert workspace.query("select event, value from events order by occurred_at") == [
        ("open", None),
        ("click", None),
        ("purchase", 12.5),
    ]
    before = workspace.snapshot()
    workspace.run(only=INGEST_AND_MERGE)
    assert workspace.snapshot() == before


def test_contact_id_appears_once_the_address_becomes_a_contact(workspace):
    workspace.drop(
        "e.csv", "email,event,occurred_at\nlater@example.com,open,2026-06-01T10:00:00Z\n", folder="events"
    )
    workspace.run(only=INGEST_AND_MERGE)
    assert workspace.one("select contact_id from events") == (None,)
    workspace.drop("later.csv", "email\nlater@example.com\n")
    workspace.run(only=INGEST_AND_MERGE)
    assert workspace.one(
        "select e.contact_id = c.contact_id from events e join contacts c using (email)"
    ) == (True,)
