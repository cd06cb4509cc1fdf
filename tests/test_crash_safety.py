"""Crash safety and one writer: real `contacts run` processes, killed at named points or run side by side,
end in the same warehouse and exports as uninterrupted runs one after the other."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.exports.files import CRASH_HOOK
from pipelines.crash_points import CRASH_AT
from tests.conftest import TEST_CONFIG, run_in_process

CONTACTS = Path(sys.executable).parent / "contacts"


def make_setup(root: Path) -> dict[str, str]:
    data, segments = root / "data", root / "segments"
    (data / "inbox" / "contacts").mkdir(parents=True)
    (data / "inbox" / "events").mkdir(parents=True)
    segments.mkdir()
    (segments / "openers.sql").write_text(
        "select contact_id from contacts join contact_engagement using (contact_id) where opens_30d > 0\n"
    )
    (root / "contacts.yaml").write_text(TEST_CONFIG)
    inbox = data / "inbox"
    (inbox / "contacts" / "1.csv").write_text(
        "email,first_name,created_at\na@example.com,Ann,2026-06-01\nb@example.com,Bo,2026-06-02\n"
    )
    (inbox / "contacts" / "1.yaml").write_text("consent: confirmed\nlists: [newsletter]\n")
    (inbox / "contacts" / "2.csv").write_text(
        "email,first_name,created_at\nc@example.com,Cy,2026-06-03\nA@example.com,Anna,\n"
    )
    (inbox / "contacts" / "2.yaml").write_text("consent: confirmed\nlists: [customers]\n")
    (inbox / "events" / "1.csv").write_text(
        "email,event,occurred_at\na@example.com,open,2026-06-10T10:00:00Z\nb@example.com,unsubscribe,2026-06-11T10:00:00Z\n"
    )
    return {
        **os.environ,
        "CONTACTS_DATA_DIR": str(data),
        "CONTACTS_CONFIG": str(root / "contacts.yaml"),
        "CONTACTS_SEGMENTS_DIR": str(segments),
        "DAGSTER_HOME": str(root / "home"),
    }


def run(env, **extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CONTACTS), "run", "--as-of", "2026-06-30"],
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=600,
    )


def state(env) -> dict:
    """The public relations (without wall-clock columns) and the latest export files."""
    data = Path(env["CONTACTS_DATA_DIR"])
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    queries = {
        "contacts": "select contact_id, email, first_name, tags, status, consent_source, consent_method from contacts",
        "import_files": "select path, kind, status, rows_total, rows_accepted, rows_rejected, rows_merged, contacts_created from import_files",
        "list_members": "select list_id, contact_id, email from list_members",
        "segment_members": "select segment_id, contact_id, email from segment_members",
        "engagement": "select contact_id, opens_30d, clicks_30d, engagement_score, lifecycle from contact_engagement",
        "list_health": "select * from list_health",
        "status_history": "select email, status, reason from status_history",
    }
    try:
        result = {name: sorted(con.execute(sql).fetchall(), key=repr) for name, sql in queries.items()}
    finally:
        con.close()
    exports = data / "exports"
    result["exports"] = {
        str(p.relative_to(exports)): p.read_bytes() for p in sorted(exports.rglob("latest.csv"))
    }
    return result


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    env = make_setup(tmp_path_factory.mktemp("baseline"))
    run_in_process(env)  # the uninterrupted run (a `contacts run` process runs the same job)
    return state(env)


@pytest.mark.parametrize(
    "crash",
    [{CRASH_AT: "after_file_loaded"}, {CRASH_AT: "after_contacts_published"}, {CRASH_HOOK: "4"}],
    ids=["during-ingest", "during-versioning", "during-export"],
)
def test_killed_run_then_rerun_equals_an_uninterrupted_run(tmp_path, baseline, crash):
    env = make_setup(tmp_path)
    killed = run(env, **crash)
    assert killed.returncode in (137, -signal.SIGKILL), killed.stderr[-2000:]
    run_in_process(env)  # the next run
    assert state(env) == baseline


def test_two_runs_at_once_wait_for_each_other(tmp_path, baseline):
    env = make_setup(tmp_path)
    command = [str(CONTACTS), "run", "--as-of", "2026-06-30"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [process.communicate(timeout=600) for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], [err[-2000:] for _, err in outputs]
    assert not any("Could not set lock" in out + err for out, err in outputs)
    assert state(env) == baseline
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        records = sorted(instance.get_run_records(), key=lambda r: r.start_time)
        assert len(records) == 2 and all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records)
        assert records[1].start_time >= records[0].end_time  # one after the other, never side by side
