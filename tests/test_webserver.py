"""The Dagster webserver, started on 127.0.0.1 in a subprocess, loads the code location: GraphQL lists every
asset (one per segment included) and every asset check."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from pipelines.as_of import AS_OF_TAG
from pipelines.definitions import REFRESH_JOB, build_definitions
from pipelines.settings import PROJECT_ROOT

QUERY = (
    "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } "
    "assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name } } } } }"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


@contextmanager
def webserver(env: dict, query: str):
    """Start dagster-webserver on a free port, wait until it answers `query`, yield (server, data)."""
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-webserver"),
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                data = graphql(port, query)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the webserver did not come up"
                time.sleep(1)
        yield server, data, port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_clean_data_runs_the_guard_before_it_removes_anything():
    plan = subprocess.run(
        ["make", "-n", "--no-print-directory", "clean-data"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    guard = next(i for i, line in enumerate(plan) if "pipelines/instance_guard.py" in line)
    remove = next(i for i, line in enumerate(plan) if line.startswith("rm -rf"))
    assert guard < remove


LOAD_ERROR = (
    "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
    "locationOrLoadError { __typename ... on PythonError { message causes { message } } } } } } }"
)


def test_a_bad_config_fails_the_code_location_with_its_reason(tmp_path):
    bad = tmp_path / "contacts.yaml"
    bad.write_text("fields:\n  company: {type: txt}\n")
    (tmp_path / "home").mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "CONTACTS_CONFIG": str(bad)}
    with webserver(env, LOAD_ERROR) as (_, data, _port):
        [entry] = data["workspaceOrError"]["locationEntries"]
    assert entry["name"] == "contacts" and entry["locationOrLoadError"]["__typename"] == "PythonError"
    error = entry["locationOrLoadError"]
    message = " <- ".join([error["message"], *(cause["message"] for cause in error["causes"])])
    assert "the contacts code location cannot load, fix contacts.yaml first" in message
    assert f"{bad}: key 'fields.company.type': Input should be" in message


DAYS_QUERY = """{ assetOrError(assetKey: {path: ["list_health_by_day"]}) { ... on Asset {
  definition { isPartitioned partitionKeys }
  assetMaterializations(limit: 1000) { partition metadataEntries { label ... on FloatMetadataEntry { floatValue } } } } } }"""


def test_the_webserver_serves_every_asset_check_and_day_partition(workspace, tmp_path):
    """One webserver over a warehouse the job has run on: GraphQL lists every asset and check, the
    list_health_by_day partitions with their figures (issue 15, point 4: the asset's page plots figures by
    partition, so each day is a point of each line), and `make clean-data` refuses while it runs."""
    workspace.use_shipped_segments()
    workspace.drop(
        "1.csv", "email,created_at\na@example.com,2026-06-01T08:00:00Z\nb@example.com,2026-06-03T08:00:00Z\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    with dg.DagsterInstance.local_temp(tempdir=str(home)) as instance:
        defs = build_definitions(workspace.paths)
        assert (
            defs.resolve_job_def(REFRESH_JOB)
            .execute_in_process(instance=instance, tags={AS_OF_TAG: "2026-06-05"})
            .success
        )
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CONTACTS_DATA_DIR": str(workspace.paths.data_dir),
        "CONTACTS_CONFIG": str(workspace.paths.config_path),
        "CONTACTS_SEGMENTS_DIR": str(workspace.paths.segments_dir),
    }
    with webserver(env, QUERY) as (server, data, port):
        asset = graphql(port, DAYS_QUERY)["assetOrError"]
        # `make clean-data` refuses while the webserver uses this DAGSTER_HOME, and names it
        guard = subprocess.run(
            [sys.executable, "pipelines/instance_guard.py", str(home)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
        )
        assert (
            guard.returncode == 1
            and f"pid {server.pid}:" in guard.stderr
            and "dagster-webserver" in guard.stderr
        )
        assert "stop it first (Ctrl-C in the terminal running `make ui`, or `kill <pid>`)" in guard.stderr
    # once the webserver and its code server have exited, the guard lets clean-data go ahead
    deadline = time.monotonic() + 30
    while subprocess.run(
        [sys.executable, "pipelines/instance_guard.py", str(home)], cwd=PROJECT_ROOT, capture_output=True
    ).returncode:
        assert time.monotonic() < deadline, (
            "a Dagster process still uses the instance 30 s after the webserver stopped"
        )
        time.sleep(0.5)

    assert data["workspaceOrError"]["locationEntries"] == [{"name": "contacts", "loadStatus": "LOADED"}]
    served = {
        "/".join(node["assetKey"]["path"]): sorted(c["name"] for c in node["assetChecksOrError"]["checks"])
        for node in data["assetNodes"]
    }
    graph = build_definitions(workspace.paths).resolve_asset_graph()
    expected = {
        key.to_user_string(): sorted(k.name for k in graph.asset_check_keys if k.asset_key == key)
        for key in graph.get_all_asset_keys()
    }
    assert served == expected
    assert {f"segments/{p.stem}" for p in workspace.paths.segments_dir.glob("*.sql")} <= set(served)
    assert len([key for key in served if key.startswith("segments/")]) >= 3

    days = ["2026-06-01", "2026-06-02", "2026-06-03", "2026-06-04", "2026-06-05"]
    assert asset["definition"]["isPartitioned"] and asset["definition"]["partitionKeys"] == days
    members = {
        m["partition"]: next(e["floatValue"] for e in m["metadataEntries"] if e["label"] == "all_members")
        for m in asset["assetMaterializations"]
    }
    assert members == {
        "2026-06-01": 1.0,
        "2026-06-02": 1.0,
        "2026-06-03": 2.0,
        "2026-06-04": 2.0,
        "2026-06-05": 2.0,
    }
