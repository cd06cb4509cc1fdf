"""Other tools' contact exports loaded with their presets (tests/data/presets/<tool>/, sources in its
README): recognised from the header where the layout is unambiguous, statuses, flags and filled columns
read the tool's way, and a status word nothing maps rejected as `unknown_status`, never mailable. Then the
manifest keys on their own: `status_values:` and `status_flags:`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assets.ingest.presets import PRESET_MODULES
from pipelines.vocabulary import CLOSED_STATUSES
from tests.conftest import INGEST_AND_MERGE, make_workspace

FIXTURES = Path(__file__).parent / "data" / "presets"
TOOLS = sorted(path for path in FIXTURES.iterdir() if (path / "expected.json").is_file())
MANIFEST = "consent: confirmed\nmode: subscribe\n"


def cases():
    for folder in TOOLS:
        for name, wanted in json.loads((folder / "expected.json").read_text()).items():
            yield folder, name, wanted


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Every tool's fixtures in one inbox, loaded in one run (an address in two files of a tool has the same
    status in both, so loading them together gives each file's own outcome)."""
    workspace = make_workspace(tmp_path_factory.mktemp("presets"))
    for folder, name, wanted in cases():
        manifest = MANIFEST + ("" if wanted["recognised"] else f"preset: {folder.name}\n")
        workspace.drop(f"{folder.name}__{name}", (folder / name).read_bytes(), manifest)
    # A tool no preset knows: its status words and a blacklist flag column mapped in the manifest.
    workspace.drop(
        "zz-crm.csv",
        "Mail,State,On Blacklist\n"
        "ok@crm.example.com,Live,no\n"
        "gone@crm.example.com,Unreachable,0\n"
        "blocked@crm.example.com,Live,1\n"
        "odd@crm.example.com,Zombie,\n"
        "flagbad@crm.example.com,Live,perhaps\n",
        MANIFEST
        + "columns: {Mail: email, State: status}\n"
        + "status_values: {live: subscribed, unreachable: bounced}\n"
        + "status_flags: {On Blacklist: unsubscribed}\n",
    )
    # A flag column the file lacks.
    workspace.drop(
        "zz-lacking.csv",
        "email\nlacking@crm.example.com\n",
        MANIFEST + "status_flags: {blacklisted: unsubscribed}\n",
    )
    workspace.run(only=INGEST_AND_MERGE)
    return workspace


def test_every_preset_has_fixtures():
    assert [folder.name for folder in TOOLS] == sorted(PRESET_MODULES)


@pytest.mark.parametrize(
    ("folder", "name", "wanted"), list(cases()), ids=[f"{folder.name}/{name}" for folder, name, _ in cases()]
)
def test_export_loads_with_its_preset(exports, folder, name, wanted):
    path = f"inbox/contacts/{folder.name}__{name}"
    status, reason, total, accepted, rejected, fmt = exports.one(
        "select status, reason, rows_total, rows_accepted, rows_rejected, format from import_files where path = ?",
        [path],
    )
    assert (status, reason) == ("loaded", None)
    assert fmt == f"preset {folder.name}" + (" (recognised from the header)" if wanted["recognised"] else "")
    assert (total, accepted, rejected) == (
        wanted["rows_total"],
        wanted["rows_accepted"],
        wanted["rows_rejected"],
    )
    (unknown,) = exports.one(
        """select count(*) from rejected_rows r join import_files f using (file_id)
           where f.path = ? and r.reason = 'unknown_status'""",
        [path],
    )
    assert unknown == wanted["rejected"].get("unknown_status", 0)
    for email, expected_status in wanted["statuses"].items():
        assert exports.one("select status from contacts where email = ?", [email]) == (expected_status,), (
            email
        )
        if expected_status in CLOSED_STATUSES:  # blacklisted, cleaned, unreachable: suppressed, not mailable
            assert exports.query("select 1 from suppressions where email = ?", [email]), email


def test_an_unknown_status_word_is_rejected_and_never_subscribed(exports):
    rows = exports.query(
        """select r.detail, r.raw from rejected_rows r join import_files f using (file_id)
           where r.reason = 'unknown_status' and f.path not like 'inbox/contacts/zz-%'"""
    )
    assert rows, "the fixtures hold a status word nothing maps"
    for detail, raw in rows:
        assert "is not understood" in detail and "status_values" in detail
        word = detail.split("'")[1]
        assert word.lower() in raw.lower()
        email = (
            raw.split(",")[0]
            if "@" in raw.split(",")[0]
            else next(cell for cell in raw.split(",") if "@" in cell)
        )
        assert not exports.query("select 1 from contacts where email = lower(?)", [email.strip().strip('"')])


def test_status_values_and_flags_from_the_manifest(exports):
    """A tool no preset knows: its status words and a blacklist flag column mapped in the manifest."""
    workspace = exports
    assert dict(
        workspace.query("select email, status from contacts where email like '%@crm.example.com'")
    ) == {
        "ok@crm.example.com": "subscribed",
        "gone@crm.example.com": "bounced",
        "blocked@crm.example.com": "unsubscribed",
    }
    rejected = workspace.query(
        """select row_number, r.reason, detail from rejected_rows r join import_files using (file_id)
           where path = 'inbox/contacts/zz-crm.csv' order by row_number"""
    )
    assert [row[:2] for row in rejected] == [(4, "unknown_status"), (5, "unknown_status")]
    assert "'Zombie'" in rejected[0][2] and "status_values" in rejected[0][2]
    assert (
        "'On Blacklist'" in rejected[1][2]
        and "'perhaps'" in rejected[1][2]
        and "status_flags" in rejected[1][2]
    )
    # the flag column is read, so it is not listed as ignored
    (ignored,) = workspace.one(
        "select ignored_columns from import_files where path = 'inbox/contacts/zz-crm.csv'"
    )
    assert "On Blacklist" not in (ignored or [])


def test_a_flag_column_the_file_lacks_fails_the_file(exports):
    status, reason = exports.one(
        "select status, reason from import_files where path = 'inbox/contacts/zz-lacking.csv'"
    )
    assert status == "failed" and "'blacklisted'" in reason and "status_flags" in reason
