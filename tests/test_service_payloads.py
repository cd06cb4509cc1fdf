"""Sending services' payloads dropped in the inbox as delivered (tests/data/services/<service>/, each with the
source of its files in a README): every file loads with every record accounted for, the rows are the ones
the fixture's expected.json states, and the addresses end in the status the events give them."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from assets.ingest.json_records import unwrap
from assets.ingest.services import SERVICE_MODULES, services
from tests.conftest import INGEST_AND_MERGE, make_workspace

FIXTURES = Path(__file__).parent / "data" / "services"
SERVICE_FOLDERS = sorted(path for path in FIXTURES.iterdir() if (path / "expected.json").is_file())
# Dropped gzipped, to load the way a logger's rotated files arrive; and one with its service forced.
GZIPPED = {("mailgun", "events_api.json")}
FORCED = {("postmark", "webhooks.jsonl")}


def expected(folder: Path) -> dict:
    return json.loads((folder / "expected.json").read_text())


def inbox_name(folder: Path, name: str) -> str:
    return f"{folder.name}__{name}" + (".gz" if (folder.name, name) in GZIPPED else "")


@pytest.fixture(scope="module")
def delivered(tmp_path_factory):
    """Every service's fixtures in one inbox (their addresses are distinct), loaded in one run."""
    workspace = make_workspace(tmp_path_factory.mktemp("services"))
    inbox = workspace.paths.inbox / "events"
    inbox.mkdir(parents=True, exist_ok=True)
    for folder in SERVICE_FOLDERS:
        for name in expected(folder)["files"]:
            content = (folder / name).read_bytes()
            target = inbox / inbox_name(folder, name)
            target.write_bytes(gzip.compress(content) if target.name.endswith(".gz") else content)
            if (folder.name, name) in FORCED:
                target.with_name(target.name.rsplit(".", 1)[0] + ".yaml").write_text(
                    f"format: {folder.name}\n"
                )
    workspace.run(only=INGEST_AND_MERGE)
    return workspace


def test_every_service_has_its_fixtures():
    assert [folder.name for folder in SERVICE_FOLDERS] == sorted(SERVICE_MODULES)


@pytest.mark.parametrize("folder", SERVICE_FOLDERS, ids=lambda folder: folder.name)
def test_payloads_load_as_delivered(delivered, folder):
    wanted = expected(folder)
    service = services()[folder.name]
    for name, counts in wanted["files"].items():
        path = f"inbox/events/{inbox_name(folder, name)}"
        status, reason, total, accepted, rejected, fmt = delivered.one(
            """select status, reason, rows_total, rows_accepted, rows_rejected, format
               from import_files where path = ?""",
            [path],
        )
        assert (status, reason, fmt) == ("loaded", None, service.name), path
        assert (total, accepted, rejected) == (
            counts["rows_total"],
            counts["rows_accepted"],
            counts["rows_rejected"],
        )
        assert total == accepted + rejected
        reasons = dict(
            delivered.query(
                """select r.reason, count(*) from rejected_rows r join import_files using (file_id)
                   where path = ? group by r.reason""",
                [path],
            )
        )
        assert reasons == counts.get("rejected", {}), path
    paths = [f"inbox/events/{inbox_name(folder, name)}" for name in wanted["files"]]
    events = dict(
        delivered.query(
            """select event, count(*) from staging.event_rows join import_files using (file_id)
               where list_contains(?, path) group by event""",
            [paths],
        )
    )
    assert events == wanted["events"]
    for email, status in wanted["statuses"].items():
        current = delivered.query(
            "select status from status_history where email = ? and valid_to is null", [email]
        )
        assert current == [(status,)], email


def test_rejected_records_keep_their_json_and_name_no_address(delivered):
    rows = delivered.query(
        """select r.reason, r.detail, r.raw from rejected_rows r join import_files f using (file_id)
           where f.kind = 'events' and r.reason in ('unrecognised_record', 'unknown_event', 'not_an_event')"""
    )
    assert rows
    for _, detail, raw in rows:
        assert "@" not in detail
        assert raw.startswith(("{", "["))


def fixture_records():
    for folder in SERVICE_FOLDERS:
        for name in expected(folder)["files"]:
            text = (folder / name).read_text()
            documents = (
                [json.loads(line) for line in text.splitlines() if line.strip()]
                if name.endswith(("jsonl", "ndjson"))
                else [json.loads(text)]
            )
            for document in documents:
                for record in unwrap(document):
                    yield folder.name, name, record


def test_each_record_is_claimed_by_its_own_service_only():
    """Recognition is by content: no service's recogniser claims another's record."""
    claims = Counter()
    for owner, name, record in fixture_records():
        if not isinstance(record, dict):
            continue
        claimed = {service.name for service in services().values() if service.recognises(record)}
        assert claimed <= {owner}, (owner, name, sorted(record)[:8], claimed)
        claims[owner] += bool(claimed)
    assert all(claims[folder.name] for folder in SERVICE_FOLDERS)
