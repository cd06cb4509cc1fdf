"""Exports (DESIGN 9): round trips, diffs, CSV injection, retention, audits and crash safety."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl

from assets.exports.files import CRASH_HOOK, neutralise
from tests.conftest import TEST_CONFIG, run_in_process

VIPS = "-- Subscribed VIPs.\nselect contact_id from contacts where status = 'subscribed' and list_contains(tags, 'vip')\n"


def folder(workspace, kind="segments", export_id="vips") -> Path:
    return workspace.paths.data_dir / "exports" / kind / export_id


def three_versions(workspace):
    workspace.write_segment("vips", VIPS)
    workspace.drop(
        "1.csv", "email,first_name,tags\na@example.com,Ann,vip\nb@example.com,Bob,vip\nc@example.com,Cy,\n"
    )
    workspace.run()
    workspace.drop("2.csv", "email\nb@example.com\n", manifest="mode: unsubscribe\n")
    workspace.drop("3.csv", "email,first_name,tags\nd@example.com,Dee,vip\n")
    workspace.run()
    workspace.drop("4.csv", "email,tags\nc@example.com,vip\n")
    workspace.run()


def test_round_trip_and_changes_equal_segment_members_of_each_version(workspace):
    """Over three versions: every file of each version holds the segment's members at it, and the added and
    removed files hold the changes between versions (one set of runs for both)."""
    three_versions(workspace)
    versions = [int(p.name[1:].split(".")[0]) for p in folder(workspace).glob("v*.manifest.json")]
    assert sorted(versions) == [1, 2, 3]
    for version in versions:
        expected = workspace.query(
            """select m.contact_id, m.email from segment_members_at('vips', ?) m
               join contacts_at(?) c using (contact_id) where c.status = 'subscribed' order by 1""",
            [version, version],
        )
        from_parquet = (
            pl.read_parquet(folder(workspace) / f"v{version}.parquet").select("contact_id", "email").rows()
        )
        from_jsonl = (
            pl.read_ndjson(folder(workspace) / f"v{version}.jsonl").select("contact_id", "email").rows()
        )
        from_csv = duckdb.sql(
            f"select contact_id, email from read_csv('{folder(workspace) / f'v{version}.csv'}') order by 1"
        ).fetchall()
        assert from_parquet == from_jsonl == from_csv == expected, version
        manifest = json.loads((folder(workspace) / f"v{version}.manifest.json").read_text())
        assert (
            manifest["row_count"] == len(expected)
            and manifest["version"] == version
            and manifest["as_of_date"] == "2026-06-30"
        )
        for name, digest in manifest["files"].items():
            assert hashlib.sha256((folder(workspace) / name).read_bytes()).hexdigest() == digest
    latest = json.loads((folder(workspace) / "latest.manifest.json").read_text())
    assert latest["version"] == 3
    assert (folder(workspace) / "latest.csv").read_bytes() == (folder(workspace) / "v3.csv").read_bytes()
    # the list of columns, lists as arrays in Parquet and JSON
    assert pl.read_parquet(folder(workspace) / "v3.parquet").columns == [
        "contact_id",
        "email",
        "first_name",
        "last_name",
        "tags",
        "company",
        "birthday",
        "purchase_total",
        "vip",
        "employees",
        "renewal",
        "lists",
    ]
    for previous, version in ((1, 2), (2, 3)):
        changes = workspace.query(
            "select email, change from segment_changes('vips', ?, ?)", [previous, version]
        )
        for label in ("added", "removed"):
            rows = list(
                csv.DictReader(io.StringIO((folder(workspace) / f"v{version}.{label}.csv").read_text()))
            )
            assert sorted(row["email"] for row in rows) == sorted(
                email for email, change in changes if change == label
            ), (version, label)


def test_formula_payloads_are_neutralised_in_csv_and_raw_elsewhere(workspace):
    workspace.write_segment("everyone", "select contact_id from contacts")
    payloads = ["=SUM(A1)", "+cmd|' /C calc'!A0", "@x", "-2+3", "safe"]
    rows = "".join(f'p{n}@example.com,"{payload}",{payload.strip()}x\n' for n, payload in enumerate(payloads))
    workspace.drop("f.csv", "email,first_name,company\n" + rows)
    workspace.run()
    target = folder(workspace, export_id="everyone")
    from_csv = {
        row["email"]: row["first_name"]
        for row in csv.DictReader(io.StringIO((target / "latest.csv").read_text(encoding="utf-8")))
    }
    assert [from_csv[f"p{n}@example.com"] for n in range(len(payloads))] == [
        "'=SUM(A1)",
        "'+cmd|' /C calc'!A0",
        "'@x",
        "'-2+3",
        "safe",
    ]
    parquet = dict(pl.read_parquet(target / "latest.parquet").select("email", "first_name").rows())
    jsonl = dict(pl.read_ndjson(target / "latest.jsonl").select("email", "first_name").rows())
    assert (
        [parquet[f"p{n}@example.com"] for n in range(len(payloads))]
        == payloads
        == [jsonl[f"p{n}@example.com"] for n in range(len(payloads))]
    )


def test_tab_and_carriage_return_cells_are_neutralised_too():
    # Ingest trims cells, so these reach an export only through a list value; the rule covers them anyway.
    frame = pl.DataFrame(
        {
            "first_name": ["\tTab", "\rReturn", "plain", None],
            "tags": [["=x", "a"], [], ["b"], ["c"]],
            "n": [-1.5, 2.0, 3.0, None],
        }
    )
    assert neutralise(frame.lazy()).collect().rows() == [
        ("'\tTab", "'=x,a", -1.5),
        ("'\rReturn", "", 2.0),
        ("plain", "b", 3.0),
        (None, "c", None),
    ]


def test_unchanged_rows_make_no_new_export_and_retention_keeps_the_newest(workspace):
    workspace.paths.config_path.write_text(
        workspace.paths.config_path.read_text() + "exports:\n  keep_versions: 2\n"
    )
    three_versions(workspace)
    assert sorted(p.name for p in folder(workspace).glob("v*.manifest.json")) == [
        "v2.manifest.json",
        "v3.manifest.json",
    ]
    assert not list(folder(workspace).glob("v1.*"))
    workspace.run()  # nothing new
    assert json.loads((folder(workspace) / "latest.manifest.json").read_text())["version"] == 3


def test_audit_exports_include_non_mailable_members_with_status(workspace):
    workspace.paths.config_path.write_text(
        workspace.paths.config_path.read_text() + "exports:\n  audit: [newsletter]\n"
    )
    workspace.drop("1.csv", "email\nin@example.com\nout@example.com\n")
    workspace.drop("2.csv", "email\nout@example.com\n", manifest="mode: unsubscribe\n")
    workspace.run()
    rows = (
        pl.read_parquet(folder(workspace, "lists", "newsletter") / "latest.parquet")
        .select("email", "status")
        .rows()
    )
    assert rows == [("in@example.com", "subscribed"), ("out@example.com", "unsubscribed")]
    assert (
        json.loads((folder(workspace, "lists", "newsletter") / "latest.manifest.json").read_text())[
            "mailable_only"
        ]
        is False
    )


def test_a_run_killed_while_exporting_leaves_the_previous_export_intact(tmp_path):
    data = tmp_path / "data"
    segments = tmp_path / "segments"
    segments.mkdir()
    (segments / "vips.sql").write_text(VIPS)
    config = tmp_path / "contacts.yaml"
    config.write_text(TEST_CONFIG)
    inbox = data / "inbox" / "contacts"
    inbox.mkdir(parents=True)
    env = {
        **os.environ,
        "CONTACTS_DATA_DIR": str(data),
        "CONTACTS_CONFIG": str(config),
        "CONTACTS_SEGMENTS_DIR": str(segments),
        "DAGSTER_HOME": str(tmp_path / "home"),
    }
    command = [str(Path(sys.executable).parent / "contacts"), "run", "--as-of", "2026-06-30"]

    (inbox / "1.csv").write_text("email,tags\na@example.com,vip\n")
    (inbox / "1.yaml").write_text("consent: confirmed\nlists: [newsletter]\n")
    run_in_process(env)
    target = data / "exports" / "segments" / "vips"
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    (inbox / "2.csv").write_text("email,tags\nb@example.com,vip\n")
    (inbox / "2.yaml").write_text("consent: confirmed\n")
    killed = subprocess.run(command, env={**env, CRASH_HOOK: "3"}, capture_output=True)
    assert killed.returncode in (137, -signal.SIGKILL)
    after = {p.name: p.read_bytes() for p in target.iterdir() if not p.name.startswith(".")}
    # the previous version and latest.* are untouched; the new version has no manifest, so it does not exist yet
    assert {name: after[name] for name in before} == before
    assert "v2.manifest.json" not in after
    assert json.loads(after["latest.manifest.json"])["version"] == 1

    run_in_process(env)  # the next run
    assert json.loads((target / "latest.manifest.json").read_text())["version"] == 2
    assert sorted(pl.read_parquet(target / "latest.parquet").get_column("email")) == [
        "a@example.com",
        "b@example.com",
    ]
    assert not list(target.glob(".*.tmp"))


def test_a_backfill_never_moves_latest_and_writes_its_day_apart(workspace):
    workspace.write_segment("openers", "select contact_id from contact_engagement where opens_30d > 0\n")
    workspace.write_segment("everyone", "select contact_id from contacts\n")
    workspace.drop("1.csv", "email,first_name\na@example.com,Ann\nb@example.com,Bob\n")
    workspace.drop(
        "e.csv", "email,event,occurred_at\na@example.com,open,2026-06-20T10:00:00Z\n", folder="events"
    )
    workspace.run(as_of="2026-07-15")
    openers = folder(workspace, export_id="openers")
    today = json.loads((openers / "latest.manifest.json").read_text())
    assert (today["version"], today["row_count"], today["backfill"]) == (1, 1, False)
    latest_bytes = (openers / "latest.csv").read_bytes()

    workspace.run(as_of="2026-06-10")  # a backfill: the open had not happened yet
    assert (openers / "latest.csv").read_bytes() == latest_bytes
    assert json.loads((openers / "latest.manifest.json").read_text())["version"] == 1
    day = openers / "backfill" / "2026-06-10"
    [manifest_path] = list(day.glob("v*.manifest.json"))
    backfill = json.loads(manifest_path.read_text())
    assert (backfill["as_of_date"], backfill["row_count"], backfill["backfill"]) == ("2026-06-10", 0, True)
    assert {p.name for p in openers.glob("v*.manifest.json")} == {"v1.manifest.json"}

    workspace.run(
        as_of="2026-07-15"
    )  # the next daily run: the same audience as before, so nothing new to export
    assert {p.name for p in openers.glob("v*.manifest.json")} == {"v1.manifest.json"}
    assert (openers / "latest.csv").read_bytes() == latest_bytes

    # an erasure reaches the backfill's files too
    everyone_day = folder(workspace, export_id="everyone") / "backfill" / "2026-06-10"
    assert any(b"a@example.com" in p.read_bytes() for p in everyone_day.iterdir())
    workspace.drop("request.csv", "email\na@example.com\n", folder="erasure")
    workspace.run(as_of="2026-07-15")
    exports = workspace.paths.data_dir / "exports"
    assert [p for p in exports.rglob("*") if p.is_file() and b"a@example.com" in p.read_bytes()] == []
