"""Erasure: the address leaves every relation and the bytes of the warehouse; a re-import is rejected."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.crash_points import CRASH_AT
from tests.conftest import make_workspace

ADDRESS = "Erin.Erasable@Example.org"
LOWER = ADDRESS.lower()


def traces(workspace) -> list[str]:
    """Files under the data directory, outside the inbox, that contain the address in any case we store."""
    found = []
    for path in workspace.paths.data_dir.rglob("*"):
        if not path.is_file() or workspace.paths.inbox in path.parents:
            continue
        data = path.read_bytes()
        if ADDRESS.encode() in data or LOWER.encode() in data:
            found.append(path.name)
    return found


def seed(workspace):
    # an audit export holds unsubscribed contacts too, so the address reaches the export files
    workspace.write_segment("everyone", "select contact_id from contacts")
    config = workspace.paths.config_path
    config.write_text(config.read_text() + "exports:\n  audit: [everyone]\n")
    workspace.drop(
        "01-contacts.csv",
        f"email,first_name,birthday,company,created_at\n{ADDRESS},Erin,not-a-date,Erasure Ltd,2026-01-10\nkeep@example.org,Keep,,,\n",
    )
    # a rejected row that quotes the address, and an unrelated rejected row that must stay
    workspace.drop("02-ragged.csv", f"email,first_name\n{ADDRESS},Erin,extra-cell\nbroken@@example.org,X\n")
    workspace.drop(
        "01-events.csv",
        f"email,event,occurred_at\n{LOWER},open,2026-06-01T10:00:00Z\n{LOWER},unsubscribe,2026-06-02T10:00:00Z\nkeep@example.org,open,2026-06-01T10:00:00Z\n",
        folder="events",
    )
    # a sending service's payloads: a click (the address in the event, its URL and the record's JSON) and a
    # record with no counterpart here, rejected with its JSON as raw text
    payloads = [
        {"email": ADDRESS, "timestamp": 1780000000, "event": "click", "url": f"https://example.org/u?e={LOWER}",
         "sg_event_id": "e1", "sg_message_id": "m1", "category": ["news"]},
        {"email": ADDRESS, "timestamp": 1780000001, "event": "group_resubscribe", "sg_event_id": "e2",
         "sg_message_id": "m1", "asm_group_id": 7},
    ]  # fmt: skip
    workspace.drop("01-sendgrid.json", json.dumps(payloads), folder="events")
    workspace.run()


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory):
    workspace = make_workspace(tmp_path_factory.mktemp("seeded"))
    seed(workspace)
    return workspace


@pytest.fixture
def seeded(seeded_template, tmp_path):
    """A workspace after `seed`'s run, copied from one materialized per module."""
    return seeded_template.copy_to(tmp_path / "seeded")


def test_erased_address_leaves_no_trace_and_stays_out(seeded):
    workspace = seeded
    # the scan does see the address before erasure: in the warehouse and in the exports
    before = set(traces(workspace))
    assert "warehouse.duckdb" in before and {"v1.csv", "v1.jsonl", "latest.csv", "v1.added.csv"} <= before
    assert workspace.query("select count(*) from contact_predictions where email = ?", [LOWER]) == [(1,)]
    keep_before = workspace.one(
        "select contact_id, first_name from contacts where email = 'keep@example.org'"
    )

    workspace.drop("request.csv", f"Email\n  {ADDRESS.upper()}  \n", folder="erasure")
    workspace.run()
    assert traces(workspace) == []
    assert (
        not Path(str(workspace.paths.warehouse) + ".wal").exists()
        or LOWER.encode() not in Path(str(workspace.paths.warehouse) + ".wal").read_bytes()
    )
    for table in (
        "contacts",
        "staging.contact_rows",
        "staging.event_rows",
        "status_history",
        "events",
        "contact_engagement",
        "contact_predictions",
        "contact_predictions_history",
    ):
        assert workspace.query(f"select count(*) from {table} where email = ?", [LOWER]) == [(0,)], table
    assert workspace.one("select count(*) from field_issues") == (0,)  # the bad birthday was the erased row's
    assert workspace.query("select reason from rejected_rows") == [("invalid_email",)]
    assert workspace.one("select count(*) from suppressions where email is null and reason = 'erased'") == (
        1,
    )
    # the erasure log keeps the tombstone hash and the time, nothing else
    assert workspace.query(
        "select column_name from information_schema.columns where table_name = 'erasure_log' order by ordinal_position"
    ) == [
        ("email_sha256",),
        ("erased_at",),
    ]
    assert workspace.one("select count(*) from erasure_log") == (1,)
    assert (
        workspace.one("select contact_id, first_name from contacts where email = 'keep@example.org'")
        == keep_before
    )
    # the ledger still adds up: erased rows are counted, not lost
    assert workspace.query(
        "select path, rows_erased from import_files where rows_erased > 0 order by path"
    ) == [
        ("inbox/contacts/01-contacts.csv", 1),
        ("inbox/contacts/02-ragged.csv", 1),
        ("inbox/events/01-events.csv", 2),
        ("inbox/events/01-sendgrid.json", 2),
    ]

    # re-importing it (any case) is one rejected row with reason erased, and nothing else
    workspace.drop("03-again.csv", f"email,first_name\n{ADDRESS},Erin again\n")
    workspace.drop(
        "02-events.csv", f"email,event,occurred_at\n{ADDRESS},click,2026-06-05T10:00:00Z\n", folder="events"
    )
    workspace.run()
    assert workspace.query(
        "select f.path, r.reason, r.raw from rejected_rows r join import_files f using (file_id) where r.reason = 'erased' order by f.path"
    ) == [("inbox/contacts/03-again.csv", "erased", None), ("inbox/events/02-events.csv", "erased", None)]
    assert workspace.one("select count(*) from contacts") == (1,)
    assert traces(workspace) == []


def test_run_reports_inbox_files_that_still_hold_the_address(seeded):
    workspace = seeded
    workspace.drop("request.csv", f"email\n{LOWER}\n", folder="erasure")
    result = workspace.run()
    metadata = result.asset_materializations_for_node("erasure_log")
    still = next(
        m.metadata["inbox_files_still_holding_erased_addresses"].value
        for m in metadata
        if m.asset_key.to_user_string() == "erasure_log"
    )
    assert still == [
        "inbox/contacts/01-contacts.csv",
        "inbox/contacts/02-ragged.csv",
        "inbox/events/01-events.csv",
        "inbox/events/01-sendgrid.json",
    ]
    # the inbox is the user's: untouched
    assert ADDRESS in (workspace.inbox / "01-contacts.csv").read_text()


def test_person_command_shows_everything_then_only_the_erasure(seeded, monkeypatch, capsys):
    workspace = seeded
    # the CLI's own entry point, in this process (its output is what `contacts person` prints)
    monkeypatch.setenv("CONTACTS_DATA_DIR", str(workspace.paths.data_dir))
    monkeypatch.setenv("CONTACTS_CONFIG", str(workspace.paths.config_path))

    def person() -> dict:
        assert cli.main(["person", ADDRESS]) == 0
        return json.loads(capsys.readouterr().out)

    record = person()
    assert record["contact"]["first_name"] == "Erin"
    assert [h["status"] for h in record["status_history"]] == ["subscribed", "unsubscribed"]
    assert record["status_history"][1]["reason"] == "unsubscribe"
    assert [e["event"] for e in record["events"]] == ["click", "open", "unsubscribe"]
    assert [f["path"] for f in record["import_files"]] == [
        "inbox/contacts/01-contacts.csv",
        "inbox/events/01-events.csv",
        "inbox/events/01-sendgrid.json",
    ]
    assert [entry["list_id"] for entry in record["lists"]] == ["all", "newsletter", "suppressed"]
    assert [(i["field"], i["raw_value"]) for i in record["field_issues"]] == [("birthday", "not-a-date")]
    assert [r["reason"] for r in record["rejected_rows"]] == ["unparseable", "unknown_event"]
    assert record["suppressions"][0]["reason"] == "unsubscribed"

    workspace.drop("request.csv", f"email\n{ADDRESS}\n", folder="erasure")
    workspace.run()
    record = person()
    assert record["erased"] is True and set(record) == {"email", "erased", "erased_at", "note"}


@pytest.mark.parametrize("crash_at", ["before_erasure_rewrite", "after_erasure_rewrite"])
def test_erasure_killed_mid_way_is_finished_by_the_next_run(seeded, tmp_path, crash_at):
    workspace = seeded
    workspace.drop("request.csv", f"email\n{ADDRESS}\n", folder="erasure")
    env = {
        **os.environ,
        "CONTACTS_DATA_DIR": str(workspace.paths.data_dir),
        "CONTACTS_CONFIG": str(workspace.paths.config_path),
        "CONTACTS_SEGMENTS_DIR": str(workspace.paths.segments_dir),
        "DAGSTER_HOME": str(tmp_path / "home"),
    }
    command = [str(Path(sys.executable).parent / "contacts"), "run", "--as-of", "2026-06-30"]
    killed = subprocess.run(command, env={**env, CRASH_AT: crash_at}, capture_output=True)
    assert killed.returncode == 137
    workspace.run()  # the next run
    assert traces(workspace) == []
    assert workspace.one("select count(*) from staging.maintenance where pending") == (0,)
