"""Event logs of tools no preset knows, read through a manifest (`columns:` with nested paths, `events:`,
`time_format:`), JSON event files of our own rows, and what a file of no known shape is told."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.conftest import INGEST_AND_MERGE


def ledger(workspace, name):
    return workspace.one(
        "select status, reason, rows_total, rows_accepted, rows_rejected, format from import_files where path = ?",
        [f"inbox/events/{name}"],
    )


def rejects(workspace, name):
    return workspace.query(
        """select r.row_number, r.reason, r.detail from rejected_rows r join import_files f using (file_id)
           where f.path = ? order by r.row_number""",
        [f"inbox/events/{name}"],
    )


def status_of(workspace, email):
    rows = workspace.query("select status from status_history where email = ? and valid_to is null", [email])
    return rows[0][0] if rows else None


def drop_event_file(workspace, name, content, manifest=None):
    workspace.drop(name, content, manifest=None, folder="events")
    if manifest is not None:
        stem = name[:-3] if name.endswith(".gz") else name
        (workspace.paths.inbox / "events" / (stem.rsplit(".", 1)[0] + ".yaml")).write_text(manifest)


@pytest.fixture(scope="module")
def tool_logs(tmp_path_factory):
    """One run over the files of this module (each test reads its own file's outcome)."""
    from tests.conftest import make_workspace

    workspace = make_workspace(tmp_path_factory.mktemp("tool-logs"))
    # A webhook logger's JSONL of a tool no preset knows: nested address, its own event names, epoch ms.
    log = [
        {"ev": {"kind": "Bounced-Hard", "at": 1767225600000}, "to": {"addr": "nested-hard@example.com"}},
        {"ev": {"kind": "spam", "at": 1767225601000}, "to": {"addr": "nested-spam@example.com"}},
        {"ev": {"kind": "OPENED", "at": 1767225602500}, "to": {"addr": "nested-open@example.com"}},
        {"ev": {"kind": "teleported", "at": 1767225603000}, "to": {"addr": "nested-odd@example.com"}},
        {"ev": {"kind": "opened", "at": "yesterday"}, "to": {"addr": "nested-late@example.com"}},
    ]
    drop_event_file(
        workspace,
        "tool-log.jsonl",
        "\n".join(json.dumps(record) for record in log) + "\n",
        "columns: {to.addr: email, ev.kind: event, ev.at: occurred_at}\n"
        "events: {bounced-hard: hard_bounce, Spam: complaint, opened: open}\n"
        "time_format: epoch_ms\n",
    )
    # A CSV export with a strftime layout and its own names.
    drop_event_file(
        workspace,
        "desk.csv",
        "Recipient;Action;When\nstrf-unsub@example.com;Opted out;02/01/2026 10:30\n",
        "columns: {Recipient: email, Action: event, When: occurred_at}\n"
        "events: {Opted out: unsubscribe}\ntime_format: '%d/%m/%Y %H:%M'\n",
    )
    # The same layout from a desk in New York, whose naive times are its own.
    drop_event_file(
        workspace,
        "desk-ny.csv",
        "Recipient;Action;When\nstrf-ny@example.com;Opted out;02/01/2026 10:30\n",
        "columns: {Recipient: email, Action: event, When: occurred_at}\n"
        "events: {Opted out: unsubscribe}\ntime_format: '%d/%m/%Y %H:%M'\ntimezone: America/New_York\n",
    )
    # Our own rows as one JSON array, gzipped.
    own = [
        {"email": "own-json@example.com", "event": "complaint", "occurred_at": "2026-01-02T03:04:05.25+01:00"}
    ]
    drop_event_file(workspace, "own.json.gz", gzip.compress(json.dumps(own).encode()))
    # Payloads of no known shape, and no manifest.
    drop_event_file(workspace, "mystery.json", json.dumps([{"who": {"mail": "x@example.com"}, "what": "y"}]))
    # A manifest key that event files do not have.
    drop_event_file(
        workspace,
        "bad-manifest.csv",
        "email,event,occurred_at\nbm@example.com,open,2026-01-01\n",
        "mode: subscribe\n",
    )
    # A service nobody knows, and a timezone nobody knows.
    drop_event_file(workspace, "bad-format.json", "[]", "format: carrier-pigeon\n")
    drop_event_file(
        workspace,
        "bad-zone.csv",
        "email,event,occurred_at\nbz@example.com,open,2026-01-01\n",
        "timezone: Mars/Olympus\n",
    )
    workspace.run(only=INGEST_AND_MERGE)
    return workspace


def test_nested_columns_event_names_and_epoch_millis(tool_logs):
    status, _, total, accepted, rejected, _ = ledger(tool_logs, "tool-log.jsonl")
    assert (status, total, accepted, rejected) == ("loaded", 5, 3, 2)
    assert status_of(tool_logs, "nested-hard@example.com") == "bounced"
    assert status_of(tool_logs, "nested-spam@example.com") == "complained"
    (moment,) = tool_logs.one(
        "select occurred_at at time zone 'UTC' from events where email = 'nested-open@example.com'"
    )
    assert moment.isoformat() == "2026-01-01T00:00:02.500000"
    reasons = [(number, reason) for number, reason, _ in rejects(tool_logs, "tool-log.jsonl")]
    assert reasons == [(4, "unknown_event"), (5, "bad_timestamp")]
    assert "time_format 'epoch_ms'" in rejects(tool_logs, "tool-log.jsonl")[1][2]


def test_strftime_layout_and_csv_event_names(tool_logs):
    assert ledger(tool_logs, "desk.csv")[:5] == ("loaded", None, 1, 1, 0)
    (moment,) = tool_logs.one(
        "select occurred_at at time zone 'UTC' from events where email = 'strf-unsub@example.com'"
    )
    # naive in the configured timezone (Europe/Berlin, UTC+1 in January)
    assert moment.isoformat() == "2026-01-02T09:30:00"
    assert status_of(tool_logs, "strf-unsub@example.com") == "unsubscribed"
    # `timezone:` in the manifest: the file's naive times are New York's (UTC-5 in January)
    (moment,) = tool_logs.one(
        "select occurred_at at time zone 'UTC' from events where email = 'strf-ny@example.com'"
    )
    assert moment.isoformat() == "2026-01-02T15:30:00"


def test_our_own_rows_as_a_gzipped_json_array(tool_logs):
    assert ledger(tool_logs, "own.json.gz")[:5] == ("loaded", None, 1, 1, 0)
    assert status_of(tool_logs, "own-json@example.com") == "complained"


def test_a_file_of_no_known_shape_lists_its_keys(tool_logs):
    status, reason, *_ = ledger(tool_logs, "mystery.json")
    assert status == "failed"
    assert "no known shape" in reason and "who, what" in reason and "x@example.com" not in reason


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("bad-format.json", ["format", "carrier-pigeon", "sendgrid"]),
        ("bad-zone.csv", ["timezone", "Mars/Olympus"]),
    ],
)
def test_a_manifest_naming_what_does_not_exist_fails_the_file(tool_logs, name, words):
    status, reason, *_ = ledger(tool_logs, name)
    assert status == "failed" and all(word in reason for word in words), reason


def test_an_event_manifest_with_a_contact_key_fails_the_file(tool_logs):
    status, reason, *_ = ledger(tool_logs, "bad-manifest.csv")
    assert status == "failed" and "bad-manifest.yaml" in reason and "mode" in reason
