"""Erasure proved by bytes: one address in every kind of input and output, erased, then no spelling of it
is left in the warehouse, its WAL, the exports, the reports or the Dagster run storage.

The runs go through the `contacts run` command with a DAGSTER_HOME of their own, as a user runs them,
so the run storage scanned is the real one (event logs, run tags, metadata, compute logs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import idna

from assets.validation.emails import EmailValidatorCache

LOCAL = "Erin.Erasable"
DOMAIN = "Bücher.Example.org"
ADDRESS = f"{LOCAL}@{DOMAIN}"
IDNA_FORM = f"{LOCAL}@{idna.encode(DOMAIN.lower()).decode()}"  # Erin.Erasable@xn--bcher-kva.example.org
SPELLINGS = {ADDRESS, ADDRESS.lower(), ADDRESS.upper(), IDNA_FORM, IDNA_FORM.lower(), IDNA_FORM.upper()}
NEIGHBOUR = "keep@example.org"


def spellings_in(roots: list[Path]) -> dict[str, list[str]]:
    """File -> the spellings of the address found in its bytes (UTF-8), for every file under the roots."""
    found = {}
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []:
            data = path.read_bytes()
            hits = sorted(s for s in SPELLINGS if s.encode("utf-8") in data)
            if hits:
                found[str(path.relative_to(root.parent))] = hits
    return found


def test_every_spelling_of_an_erased_address_is_gone_from_every_store(workspace, tmp_path):
    paths = workspace.paths
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        "CONTACTS_DATA_DIR": str(paths.data_dir),
        "CONTACTS_CONFIG": str(paths.config_path),
        "CONTACTS_SEGMENTS_DIR": str(paths.segments_dir),
        "DAGSTER_HOME": str(home),
    }
    command = [str(Path(sys.executable).parent / "contacts"), "run", "--as-of", "2026-06-30"]

    def run():
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    # a segment and an audit export of it, so the address reaches every export format; lists export too
    workspace.write_segment("everyone", "select contact_id from contacts")
    paths.config_path.write_text(paths.config_path.read_text() + "exports:\n  audit: [everyone]\n")
    workspace.drop(
        "01-contacts.csv",
        # the address as a contact (in its IDNA form, which the verdict cache keeps), as a bad date (a
        # field issue's raw value), and inside a ragged row (a rejected row's raw text)
        f"email,first_name,birthday,company\n{IDNA_FORM.upper()},Erin,{ADDRESS},Erasure Ltd\n"
        f"{NEIGHBOUR},Keep,,Neighbours\n{ADDRESS},Erin,,Erasure Ltd,extra-cell\n",
    )
    workspace.drop(
        "01-events.csv",
        f"email,event,occurred_at,url\n{ADDRESS.lower()},open,2026-06-01T10:00:00Z,\n"
        f"{ADDRESS},click,2026-06-02T10:00:00Z,https://shop.example/?u={ADDRESS.lower().replace('@', '%40')}\n"
        f"{NEIGHBOUR},open,2026-06-01T10:00:00Z,\n",
        folder="events",
    )
    stdout = run()
    assert ADDRESS.lower() not in stdout.lower() and IDNA_FORM.lower() not in stdout.lower()

    warehouse = paths.warehouse
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        # the address did reach each kind of store, so the scan below can fail
        assert con.execute("select count(*) from contacts where email = ?", [ADDRESS.lower()]).fetchone() == (
            1,
        )
        assert con.execute("select count(*) from field_issues where raw_value = ?", [ADDRESS]).fetchone() == (
            1,
        )
        assert con.execute(
            "select count(*) from rejected_rows where contains(raw, ?)", [ADDRESS]
        ).fetchone() == (1,)
        assert con.execute(
            "select count(*) from segment_members where email = ?", [ADDRESS.lower()]
        ).fetchone() == (1,)
        assert (
            con.execute("select count(*) from list_members where email = ?", [ADDRESS.lower()]).fetchone()[0]
            >= 1
        )
    finally:
        con.close()
    # The vectorised paths vouch for this address, so no run asks email-validator about it and the verdict
    # cache never holds it; a warehouse from before the international path does. Seed the cache as that run
    # did (the cache's own store), so the erasure below has it to find.
    con = duckdb.connect(str(warehouse))
    try:
        cache = EmailValidatorCache()
        cache.attach(con)
        cache._slow_verdicts([IDNA_FORM.upper()])
        assert con.execute(
            "select count(*) from staging.email_verdicts where email = ?", [ADDRESS.lower()]
        ).fetchone() == (1,)
    finally:
        con.close()
    exports = paths.data_dir / "exports"
    before = spellings_in([exports])
    for name in (
        "v1.csv",
        "v1.jsonl",
        "v1.parquet",
        "v1.added.csv",
        "latest.csv",
        "latest.jsonl",
        "latest.parquet",
    ):
        assert any(path.endswith(f"everyone/{name}") for path in before), name
    assert any("/lists/newsletter/" in path for path in before)
    # the run storage never holds the address, not even before the erasure
    assert list(home.rglob("*.db")), "the runs were recorded in this DAGSTER_HOME"
    assert spellings_in([home]) == {}

    workspace.drop("request.csv", f"Email\n  {ADDRESS.upper()}  \n", folder="erasure")
    # a second import in the same run (erasure requests are applied first), in its IDNA spelling
    workspace.drop("02-again.csv", f"email,first_name\n{IDNA_FORM},Erin again\n")
    stdout = run()
    assert ADDRESS.lower() not in stdout.lower()
    stores = [warehouse, Path(str(warehouse) + ".wal"), exports, paths.data_dir / "reports", home]
    assert (paths.data_dir / "reports").is_dir() and exports.is_dir()
    assert spellings_in([p for p in stores if p.is_dir()]) == {}
    for path in (warehouse, Path(str(warehouse) + ".wal")):
        if path.exists():
            data = path.read_bytes()
            assert not [s for s in SPELLINGS if s.encode() in data], path.name

    # the neighbour is untouched; the ledger counts the erased rows; the second import is rejected as
    # erased, without its text, and brought nothing back (scanned above)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert con.execute(
            "select first_name, company from contacts where email = ?", [NEIGHBOUR]
        ).fetchone() == ("Keep", "Neighbours")
        assert con.execute("select sum(rows_erased) from import_files").fetchone() == (4,)
        assert con.execute(
            "select r.reason, r.raw from rejected_rows r join import_files f using (file_id) where f.path like '%02-again.csv'"
        ).fetchall() == [("erased", None)]
    finally:
        con.close()
