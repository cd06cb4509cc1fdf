"""The exact words people read: held files, the run summary, counts, `contacts person`, `contacts sql`,
manifest typos and the sensor's skip reasons (issue 15, point 6)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from pipelines.as_of import AS_OF_TAG
from pipelines.automation import build_inbox_sensor
from pipelines.cli import main as cli_main
from pipelines.definitions import REFRESH_JOB, build_definitions
from pipelines.run_summary import summarise
from pipelines.wording import counted

CONTACTS = Path(sys.executable).parent / "contacts"


@dataclass
class Said:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(monkeypatch, capsys):
    """The CLI's entry point in this process, over a workspace's paths: what `contacts <args>` prints and returns."""

    def call(workspace, *args: str) -> Said:
        monkeypatch.setenv("CONTACTS_DATA_DIR", str(workspace.paths.data_dir))
        monkeypatch.setenv("CONTACTS_CONFIG", str(workspace.paths.config_path))
        capsys.readouterr()
        returncode = cli_main(list(args))
        out, err = capsys.readouterr()
        return Said(returncode, out, err)

    return call


@pytest.mark.parametrize(
    "number, word, expected",
    [
        (0, "row", "0 rows"),
        (1, "row", "1 row"),
        (2, "row", "2 rows"),
        (1, "address", "1 address"),
        (3, "address", "3 addresses"),
    ],
)
def test_counts_agree_with_their_number(number, word, expected):
    assert counted(number, word) == expected


def test_a_held_file_names_the_manifest_it_needs(workspace):
    workspace.drop("partner-leads.csv", "email\nlead@example.org\n", manifest=None)
    workspace.drop("one.csv", "email\nsolo@example.org\n")
    with dg.DagsterInstance.ephemeral() as instance:
        result = (
            build_definitions(workspace.paths)
            .resolve_job_def(REFRESH_JOB)
            .execute_in_process(instance=instance, tags={AS_OF_TAG: "2026-06-30"})
        )
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert workspace.one("select reason from import_files where path like '%partner-leads.csv'") == (
        "no manifest: add partner-leads.yaml beside the file (see README, 'Sidecar manifest')",
    )
    assert "[1/2] inbox/contacts/one.csv: loaded 1 row (1 accepted, 0 rejected)" in messages
    assert (
        "[2/2] inbox/contacts/partner-leads.csv: held, no manifest: add partner-leads.yaml beside the file (see README, 'Sidecar manifest')"
        in messages
    )


def test_the_summary_says_what_this_run_did_then_the_totals(workspace):
    workspace.drop("one.csv", "email\nsolo@example.org\n")
    workspace.drop("request.csv", "email\ngone@example.org\n", folder="erasure")
    workspace.run()
    first = summarise(workspace.paths, since_file_id=0).text
    assert first.splitlines()[:3] == [
        "this run:  2 files loaded, 0 held, 0 failed, 0 skipped",
        "           1 row accepted, 0 rejected; 0 events accepted, 0 rejected; 1 address erased",
        "totals:",
    ]
    assert "erasures:  1 address erased so far" in first
    (newest,) = workspace.one("select max(file_id) from import_files")
    again = summarise(workspace.paths, since_file_id=newest).text
    assert again.splitlines()[0] == "this run:  no new or changed files in the inbox"
    assert "files:     2 loaded, 0 held, 0 failed, 0 skipped" in again


def test_person_without_any_record_says_so_and_fails(workspace, cli):
    workspace.drop("one.csv", "email\nsolo@example.org\n")
    workspace.run()
    done = cli(workspace, "person", "nobody@example.com")
    assert done.returncode == 1 and done.stdout == ""
    assert "the warehouse holds nothing about nobody@example.com" in done.stderr
    assert cli(workspace, "person", "solo@example.org").returncode == 0


def test_sql_that_writes_is_told_the_connection_is_read_only(workspace, cli):
    workspace.drop("one.csv", "email\nsolo@example.org\n")
    workspace.run()
    done = cli(workspace, "sql", "delete from contacts")
    assert done.returncode == 1
    assert "`contacts sql` opens the warehouse read-only, so it cannot run DELETE" in done.stderr
    assert "Can only delete from base table" not in done.stderr
    assert workspace.one("select count(*) from contacts") == (1,)


def test_manifest_typos_get_every_problem_and_a_suggestion(workspace):
    workspace.drop(
        "typo.csv",
        "email\nsolo@example.org\n",
        manifest="mdoe: subscribe\nconsnt: confirmed\nlists: [newsletter]\n",
    )
    workspace.run()
    (reason,) = workspace.one("select reason from import_files where path like '%typo.csv'")
    assert "typo.yaml: key 'mdoe': unknown key; did you mean 'mode'?" in reason
    assert "typo.yaml: key 'consnt': unknown key; did you mean 'consent'?" in reason


def test_the_sensor_counts_the_files_it_waits_for(workspace):
    sensor = build_inbox_sensor(workspace.paths, REFRESH_JOB)
    first = sensor.evaluate_tick(dg.build_sensor_context(cursor=None))
    assert first.skip_message == "the inbox is empty"
    workspace.copy_samples()
    waiting = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor))
    files = sum(1 for p in workspace.paths.inbox.rglob("*") if p.is_file() and p.suffix != ".yaml")
    assert (
        waiting.skip_message
        == f"{files} files in the inbox, still settling: a run starts once they are unchanged at the next tick"
    )


def test_failed_and_held_files_warn_in_the_ui_and_rejects_show_by_file(workspace):
    workspace.drop("broken.csv", "Name,Phone\nAda,123\n")
    workspace.drop("partner-leads.csv", "email\nlead@example.org\n", manifest=None)
    workspace.drop("ragged.csv", "email,first_name\nok@example.org,Ok\nnot-an-address,X\n")
    result = workspace.run()  # the run itself succeeds: a warning is not a failure
    [check] = [
        c for c in result.get_asset_check_evaluations() if c.check_name == "every_file_of_this_run_loaded"
    ]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["files_failed"].value == 1 and check.metadata["files_held"].value == 1
    table = check.metadata["files"].value
    assert "| inbox/contacts/broken.csv | failed | no email column: headers are 'Name', 'Phone';" in table
    assert (
        "| inbox/contacts/partner-leads.csv | held | no manifest: add partner-leads.yaml beside the file"
        in table
    )
    [rejects] = [
        m
        for m in result.asset_materializations_for_node("ledger_and_rejects")
        if m.asset_key.to_user_string() == "rejected_rows"
    ]
    by_file = rejects.metadata["by_file"].value
    assert "inbox/contacts/ragged.csv" in by_file and "invalid_email" in by_file and "[2]" in by_file
    assert "not-an-address" not in by_file  # the raw text stays in the warehouse
    # the next run tries both again and warns again while they wait for their owner
    [again] = [
        c
        for c in workspace.run().get_asset_check_evaluations()
        if c.check_name == "every_file_of_this_run_loaded"
    ]
    assert (again.passed, again.metadata["files_failed"].value, again.metadata["files_held"].value) == (
        False,
        1,
        1,
    )


def test_contacts_run_exits_zero_when_a_file_is_only_held(workspace, tmp_path):
    workspace.drop("one.csv", "email\nsolo@example.org\n")
    workspace.drop("partner-leads.csv", "email\nlead@example.org\n", manifest=None)
    env = {
        **os.environ,
        "CONTACTS_DATA_DIR": str(workspace.paths.data_dir),
        "CONTACTS_CONFIG": str(workspace.paths.config_path),
        "CONTACTS_SEGMENTS_DIR": str(workspace.paths.segments_dir),
        "DAGSTER_HOME": str(tmp_path / "home"),
    }
    done = subprocess.run([str(CONTACTS), "run"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (
        "held: inbox/contacts/partner-leads.csv: no manifest: add partner-leads.yaml beside the file"
        in done.stdout
    )
