"""The Definitions object, the code location as Dagster's own tools load it, and the `contacts` CLI."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines.definitions import REFRESH_JOB, build_definitions
from pipelines.resources import DUCKDB_POOL
from pipelines.settings import PROJECT_ROOT, Paths
from tests.conftest import SAMPLES, TEST_CONFIG

BIN = Path(sys.executable).parent


def test_definitions_shape(tmp_path):
    defs = build_definitions(Paths(tmp_path, PROJECT_ROOT / "contacts.yaml"))
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == {
        "import_files": "ingest",
        "rejected_rows": "ingest",
        "field_issues": "ingest",
        "erasure_log": "ingest",
        "contacts": "contacts",
        "status_history": "contacts",
        "suppressions": "contacts",
        "events": "contacts",
        "contact_engagement": "contacts",
        "duplicate_candidates": "contacts",
        "list_members": "audience",
        "lists": "audience",
        "segment_catalog": "audience",
        "list_health": "metrics",
        "list_health_by_day": "metrics",
        "segment_health": "metrics",
        "list_health_report": "metrics",
        "contact_predictions": "predictions",
        "prediction_backtest": "predictions",
        **{f"segments/{path.stem}": "audience" for path in (PROJECT_ROOT / "sql" / "segments").glob("*.sql")},
        **{
            f"exports/segments/{path.stem}": "exports"
            for path in (PROJECT_ROOT / "sql" / "segments").glob("*.sql")
        },
        # every static list of contacts.yaml is exported; test lists are not
        "exports/lists/newsletter": "exports",
        "exports/lists/webinar-2026": "exports",
        "exports/lists/customers": "exports",
    }
    checks = {
        (key.asset_key.to_user_string(), key.name)
        for key in graph.asset_check_keys
        if key.asset_key.path[0] != "exports"
    }
    export_checks = {
        (key.asset_key.to_user_string(), key.name)
        for key in graph.asset_check_keys
        if key.asset_key.path[0] == "exports"
    }
    assert export_checks == {
        (export, check)
        for export in groups
        if export.startswith("exports/")
        for check in ("no_suppressed_or_erased_contact", "manifest_matches_files")
    }
    assert checks == {
        ("import_files", "nothing_lost_per_file"),
        ("contacts", "one_contact_per_email"),
        ("duplicate_candidates", "pairs_are_two_current_contacts"),
        ("contacts", "no_erased_address_anywhere"),
        ("suppressions", "status_matches_suppression"),
        ("import_files", "every_file_of_this_run_loaded"),
        ("erasure_log", "every_erasure_request_applied"),
    }
    # the data checks block the run; the run-outcome warning does not
    assert {
        key.name
        for key in graph.asset_check_keys
        if key.asset_key.path[0] != "exports" and not graph.get_check_spec(key).blocking
    } == {"every_file_of_this_run_loaded", "every_erasure_request_applied"}
    job = defs.resolve_job_def(REFRESH_JOB)
    assert job.executor_def.name == "in_process"
    assert {node.definition.pools.pop() for node in job.graph.nodes} == {DUCKDB_POOL}
    assert graph.get(dg.AssetKey("contacts")).parent_keys == {dg.AssetKey("import_files")}
    # erasure requests are applied before any file loads, in their own step
    assert graph.get(dg.AssetKey("import_files")).parent_keys == {dg.AssetKey("erasure_log")}
    # segment lineage comes from the SQL: relations read, and other segments through segment('<id>')
    assert graph.get(dg.AssetKey(["segments", "engaged-newsletter"])).parent_keys == {
        dg.AssetKey("segment_catalog"),
        dg.AssetKey("list_members"),
        dg.AssetKey(["segments", "engaged-users"]),
    }
    engaged = defs.resolve_assets_def(dg.AssetKey(["segments", "engaged-users"]))
    assert (
        engaged.code_versions_by_key[dg.AssetKey(["segments", "engaged-users"])]
        == hashlib.sha256((PROJECT_ROOT / "sql" / "segments" / "engaged-users.sql").read_bytes()).hexdigest()
    )
    assert engaged.descriptions_by_key[dg.AssetKey(["segments", "engaged-users"])].startswith(
        "Engaged users: opened in the last 30 days"
    )


def cli_env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "contacts.yaml"
    config.write_text(TEST_CONFIG)
    return {
        **os.environ,
        "CONTACTS_DATA_DIR": str(tmp_path / "data"),
        "CONTACTS_CONFIG": str(config),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }


def test_code_location_loads_without_warnings(tmp_path):
    done = subprocess.run(
        [str(BIN / "dg"), "check", "defs"],
        cwd=PROJECT_ROOT,
        env={**cli_env(tmp_path), "PYTHONWARNINGS": "always"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "All definitions loaded successfully" in done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr


def test_contacts_run_on_samples_records_the_run_and_prints_a_summary(tmp_path):
    env = cli_env(tmp_path)
    done = subprocess.run(
        [str(BIN / "contacts"), "run", "--samples-if-empty", "--as-of", "2026-06-30"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # 3: the run went through, and a file of it failed (the samples' legacy-export.csv, on purpose)
    assert done.returncode == 3, done.stderr
    assert f"copied {sum(1 for p in SAMPLES.rglob('*') if p.is_file())} sample files" in done.stdout
    assert "files:     7 loaded, 1 held, 1 failed, 0 skipped" in done.stdout
    assert "rows:      19 accepted, 5 rejected, 7 merged into existing contacts" in done.stdout
    assert "events:    33 accepted, 2 rejected" in done.stdout
    assert "contacts:  13 (8 subscribed, 2 bounced, 2 unsubscribed, 1 complained)" in done.stdout
    assert "erasures:  1 address erased so far" in done.stdout
    assert f"warehouse: {tmp_path / 'data' / 'warehouse.duckdb'}" in done.stdout
    # the run is in the persistent instance, so it shows in the UI
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        assert len(instance.get_runs()) == 1
    # no address appears in what the run printed
    assert "@example" not in done.stdout + done.stderr

    query = subprocess.run(
        [str(BIN / "contacts"), "sql", "select count(*) as n from contacts"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert query.returncode == 0 and "13" in query.stdout


def test_dg_launch_materializes_every_asset(tmp_path):
    env = cli_env(tmp_path)
    inbox = tmp_path / "data" / "inbox" / "contacts"
    inbox.mkdir(parents=True)
    (inbox / "a.csv").write_text("email\nlaunch@example.com\n")
    (inbox / "a.yaml").write_text("consent: confirmed\n")
    done = subprocess.run(
        [str(BIN / "dg"), "launch", "--assets", "*"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    import duckdb

    con = duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True)
    assert con.execute("select email, status from contacts").fetchall() == [
        ("launch@example.com", "subscribed")
    ]
    con.close()
