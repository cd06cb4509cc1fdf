"""Proof that a change leaves behaviour alone: run the whole job at two revisions on the same inbox and
compare every public relation row for row, and every export file byte for byte.

    .venv/bin/python -m bench.compare_outputs --base main~3                  # the bundled samples
    .venv/bin/python -m bench.compare_outputs --base main~3 --contacts 100000 --events 200000

The base revision is checked out in a temporary git worktree; each side runs `pipelines.cli run --as-of`
from its own tree (the current interpreter and its packages) with its own data directory and Dagster
home, and the same erasure salt (so that tombstone hashes compare). Columns that hold a run id are left
out, and a timestamp from the run's own wall clock (a load time, and what defaults to it) reads `now`:
they differ between any two runs, whatever the code. Exit status 0 when both sides match, 1 with the
differences listed otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

from bench.events import generate_events
from bench.generate import generate

PROJECT = Path(__file__).resolve().parent.parent
AS_OF = "2026-06-30"
# Wall-clock and per-run columns: different on every run, whatever the code.
VOLATILE = {"run_id"}
SALT = "compare-outputs-fixed-salt"


def public_relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        """select table_name from duckdb_tables() where schema_name = 'main' and not internal
           union select view_name from duckdb_views() where schema_name = 'main' and not internal
           order by 1"""
    ).fetchall()
    return [name for (name,) in rows]


def relation_digest(con: duckdb.DuckDBPyConnection, relation: str, started: dt.datetime) -> tuple[int, str]:
    """Row count and a digest of the sorted rows, run ids left out, the run's own times as `now`."""
    columns = []
    for name, kind in con.execute(f'select column_name, column_type from (describe "{relation}")').fetchall():
        if name in VOLATILE:
            continue
        if kind.startswith("TIMESTAMP"):
            columns.append(
                f"""case when "{name}" >= '{started.isoformat()}'::timestamptz then 'now' else "{name}"::varchar end"""
            )
        else:
            columns.append(f'"{name}"')
    listed = ", ".join(columns)
    rows = con.execute(f'select {listed} from "{relation}"').fetchall()
    lines = sorted(repr(row) for row in rows)
    return len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest()


def outputs(data: Path, started: dt.datetime) -> dict[str, object]:
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    try:
        found: dict[str, object] = {
            f"relation {r}": relation_digest(con, r, started) for r in public_relations(con)
        }
    finally:
        con.close()
    exports = data / "exports"
    for path in sorted(exports.rglob("*")) if exports.is_dir() else []:
        if path.is_file() and not path.name.endswith(".manifest.json"):
            found[f"file {path.relative_to(exports)}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def run_side(tree: Path, inbox: Path, work: Path) -> dict[str, object]:
    data, home = work / "data", work / "home"
    shutil.copytree(inbox, data / "inbox")
    home.mkdir(parents=True)
    seeded = duckdb.connect(str(data / "warehouse.duckdb"))
    seeded.execute("create schema staging")
    seeded.execute("create table staging.secrets (name varchar primary key, value varchar not null)")
    seeded.execute("insert into staging.secrets values ('erasure_salt', ?)", [SALT])
    seeded.close()
    started = dt.datetime.now(dt.UTC)
    env = {
        "PATH": "/usr/bin:/bin",
        "CONTACTS_DATA_DIR": str(data),
        "CONTACTS_CONFIG": str(tree / "contacts.yaml"),
        "CONTACTS_SEGMENTS_DIR": str(tree / "sql" / "segments"),
        "DAGSTER_HOME": str(home),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--as-of", AS_OF],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode not in (0, 3):
        raise SystemExit(f"the run in {tree} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return outputs(data, started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the revision to compare the work tree with")
    parser.add_argument(
        "--contacts", type=int, default=0, help="generated contacts (default: the bundled samples)"
    )
    parser.add_argument("--events", type=int, default=0, help="generated events, with --contacts")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="compare-") as scratch:
        root = Path(scratch)
        inbox = root / "inbox"
        if arguments.contacts:
            generated = generate(inbox / "contacts", arguments.contacts, 5)
            if arguments.events:
                generate_events(inbox / "events", generated.addresses, arguments.events, 5, seed=1)
        else:
            shutil.copytree(PROJECT / "data" / "samples", inbox)
        base = root / "base"
        subprocess.run(
            ["git", "-C", str(PROJECT), "worktree", "add", "--detach", str(base), arguments.base],
            check=True,
            capture_output=True,
        )
        try:
            before = run_side(base, inbox, root / "before")
            after = run_side(PROJECT, inbox, root / "after")
        finally:
            subprocess.run(
                ["git", "-C", str(PROJECT), "worktree", "remove", "--force", str(base)], capture_output=True
            )
    differences = sorted(
        f"{key}: {before.get(key, 'absent')} -> {after.get(key, 'absent')}"
        for key in set(before) | set(after)
        if before.get(key) != after.get(key)
    )
    print(f"compared {len(set(before) | set(after))} relations and export files")
    for line in differences:
        print("  differs:", line)
    print("identical" if not differences else f"{len(differences)} difference(s)")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
