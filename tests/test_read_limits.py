"""Bounded memory on hostile files (issue 22): every file beyond a read limit fails with the limit named,
nothing of it is applied, an ordinary file beside it loads, and the run's peak memory stays under the
bound the README states; a run killed while reading a big file leaves the warehouse as it was.

Every hostile file is generated in tmp_path, never committed."""

from __future__ import annotations

import gzip
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
from pydantic import ByteSize

from assets.ingest.read_ahead import read_and_parse
from assets.ingest.read_limits import LimitExceeded, read_bounded
from pipelines.config import ContactsConfig
from tests.conftest import TEST_CONFIG

CONTACTS = Path(sys.executable).parent / "contacts"
MANIFEST = "consent: confirmed\nlists: [newsletter]\n"
MiB = 1 << 20
# README, "Bounded memory": peak RSS of a run <= DuckDB's memory limit + 400 MiB + 4.5 x (the largest file
# loaded + 128 MiB read ahead). The hostile files are refused before they are parsed, so the largest file
# loaded here is the ordinary one, a few bytes.


def python_allowance(largest_loaded: int) -> float:
    return 400 * MiB + 4.5 * (largest_loaded + 128 * MiB)


DUCKDB_LIMIT = "512MB"


def write_gzip_bomb(path: Path, size: int) -> None:
    """A header, then `size` bytes of `a` with no line end: about 1 MB compressed for 1 GiB."""
    block = b"a" * (16 * MiB)
    with gzip.open(path, "wb", compresslevel=9) as stream:
        stream.write(b"email\n")
        for _ in range(size // len(block)):
            stream.write(block)


def write_ratio_file(path: Path) -> float:
    """Short, valid lines, all alike: a .csv.gz whose content is over 500 times its size."""
    line, count = b"a@example.com\n", 3_000_000
    with gzip.open(path, "wb", compresslevel=9) as stream:
        stream.write(b"email\n")
        stream.write(line * count)
    return len(line) * count / path.stat().st_size


def setup(root: Path, config: str = TEST_CONFIG) -> dict[str, str]:
    data = root / "data"
    (data / "inbox" / "contacts").mkdir(parents=True)
    (root / "segments").mkdir()
    (root / "contacts.yaml").write_text(config)
    (root / "home").mkdir()
    return {
        **os.environ,
        "CONTACTS_DATA_DIR": str(data),
        "CONTACTS_CONFIG": str(root / "contacts.yaml"),
        "CONTACTS_SEGMENTS_DIR": str(root / "segments"),
        "DAGSTER_HOME": str(root / "home"),
        "CONTACTS_DUCKDB_MEMORY_LIMIT": DUCKDB_LIMIT,
    }


def drop(env: dict, name: str, content: bytes | None = None) -> Path:
    inbox = Path(env["CONTACTS_DATA_DIR"]) / "inbox" / "contacts"
    path = inbox / name
    if content is not None:
        path.write_bytes(content)
    stem = name.split(".")[0]
    (inbox / f"{stem}.yaml").write_text(MANIFEST)
    return path


MEASURED_RUN = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(done.stdout)
sys.stderr.write(done.stderr)
print("MAXRSS_KIB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(done.returncode)
"""


def measured_run(env: dict) -> tuple[subprocess.CompletedProcess, int]:
    """`contacts run` in a process of its own, with the peak RSS of that run (bytes)."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURED_RUN, str(CONTACTS), "run", "--as-of", "2026-06-30"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    peak = int(done.stdout.rsplit("MAXRSS_KIB", 1)[1].split()[0]) * 1024
    return done, peak


def ledger(env: dict) -> dict[str, tuple[str, str | None, int | None]]:
    con = duckdb.connect(str(Path(env["CONTACTS_DATA_DIR"]) / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select path, status, reason, rows_accepted from import_files where kind = 'contacts'"
        ).fetchall()
    finally:
        con.close()
    return {Path(path).name: (status, reason, accepted) for path, status, reason, accepted in rows}


def test_hostile_files_fail_with_the_limit_named_and_memory_stays_bounded(tmp_path):
    env = setup(tmp_path)
    inbox = Path(env["CONTACTS_DATA_DIR"]) / "inbox" / "contacts"
    drop(env, "ordinary.csv", b"email,first_name\nann@example.com,Ann\nbob@example.com,Bob\n")
    write_gzip_bomb(drop(env, "bomb.csv.gz"), 1 << 30)
    assert (inbox / "bomb.csv.gz").stat().st_size < 2 * MiB
    with drop(env, "oneline.csv").open("wb") as stream:  # 200 MB, one line
        stream.write(b"email,notes\nlong@example.com,")
        for _ in range(200):
            stream.write(b"x" * MiB)
    field = "".join(f"{'y' * 99}\n" for _ in range(100_000))  # a 10 MB cell of short lines
    drop(env, "bigfield.csv", f'email,notes\nfield@example.com,"{field}"\nother@example.com,fine\n'.encode())
    assert write_ratio_file(drop(env, "ratio.csv.gz")) >= 500

    done, peak = measured_run(env)
    assert done.returncode == 3, done.stderr[-3000:]  # files of this run failed; the run went through
    files = ledger(env)
    assert files["ordinary.csv"] == ("loaded", None, 2)
    expected = {
        "bomb.csv.gz": "line 2 has ",
        "oneline.csv": "line 2 has ",
        "bigfield.csv": "the value of 'notes' in row 1 is ",
        "ratio.csv.gz": "the compression ratio is ",
    }
    settings = {
        "bomb.csv.gz": "max_line_length",
        "oneline.csv": "max_line_length",
        "bigfield.csv": "max_field_size",
        "ratio.csv.gz": "max_compression_ratio",
    }
    for name, start in expected.items():
        status, reason, accepted = files[name]
        assert status == "failed" and not accepted, (name, reason)
        assert (
            reason.startswith(start)
            and f"(raise limits.{settings[name]} in contacts.yaml to load it)" in reason
        ), reason
    con = duckdb.connect(str(Path(env["CONTACTS_DATA_DIR"]) / "warehouse.duckdb"), read_only=True)
    try:
        assert sorted(row[0] for row in con.execute("select email from contacts").fetchall()) == [
            "ann@example.com",
            "bob@example.com",
        ]
        assert con.execute("select count(*) from rejected_rows").fetchone() == (
            0,
        )  # failed files apply nothing
    finally:
        con.close()
    assert peak < 512 * 1000 * 1000 + python_allowance((inbox / "ordinary.csv").stat().st_size), (
        f"peak RSS {peak / MiB:.0f} MiB, over {DUCKDB_LIMIT} + the allowance"
    )


def test_each_size_limit_is_a_setting_and_a_bigger_one_loads_the_file(workspace):
    limits = {"max_file_size": "1KiB", "max_decompressed_size": "2KiB", "max_line_length": "64"}
    workspace.paths.config_path.write_text(
        TEST_CONFIG + "limits:\n" + "".join(f"  {k}: {v}\n" for k, v in limits.items())
    )
    rows = "".join(f"person{n}@example.com,Name {n}\n" for n in range(60))  # ~1.6 KB
    big = workspace.drop("big.csv", "email,first_name\n" + rows, manifest=MANIFEST)
    workspace.drop(
        "packed.csv.gz", gzip.compress(("email,first_name\n" + rows * 2).encode()), manifest=MANIFEST
    )
    workspace.drop("wide.csv", "email,first_name\nw@example.com," + "z" * 100 + "\n", manifest=MANIFEST)
    workspace.run()
    files = {
        Path(path).name: reason for path, reason in workspace.query("select path, reason from import_files")
    }
    size = ByteSize(big.stat().st_size).human_readable()
    assert files["big.csv"].startswith(
        f"the file is {size}, over the limit of 1.0KiB (raise limits.max_file_size"
    )
    assert files["packed.csv.gz"].startswith("the decompressed content is over 2.0KiB")
    assert files["wide.csv"].startswith("line 2 has ")
    assert (
        "B or more without a line end, over the limit of 64B (raise limits.max_line_length in contacts.yaml"
        in files["wide.csv"]
    )
    assert workspace.query("select count(*) from contacts") == [(0,)]
    # raised, the same files load on the next run
    workspace.paths.config_path.write_text(TEST_CONFIG)
    workspace.run()
    assert dict(workspace.query("select path, status from import_files")) == {
        "inbox/contacts/big.csv": "loaded",
        "inbox/contacts/packed.csv.gz": "loaded",
        "inbox/contacts/wide.csv": "loaded",
    }


def test_truncated_and_concatenated_gzip(tmp_path):
    limits = ContactsConfig().limits
    whole = gzip.compress(b"email\na@example.com\n") + gzip.compress(b"b@example.com\n")
    (tmp_path / "two.csv.gz").write_bytes(whole)
    assert (
        read_bounded(tmp_path / "two.csv.gz", limits, text=True).content
        == b"email\na@example.com\nb@example.com\n"
    )
    (tmp_path / "cut.csv.gz").write_bytes(whole[:-12])
    with pytest.raises(Exception, match="Compressed file ended before the end-of-stream marker"):
        read_bounded(tmp_path / "cut.csv.gz", limits, text=True)
    (tmp_path / "long.csv").write_bytes(b"email\n" + b"a" * (5 * MiB))
    with pytest.raises(
        LimitExceeded, match="line 2 has 5.0MiB or more without a line end, over the limit of 4.0MiB"
    ):
        read_bounded(tmp_path / "long.csv", limits, text=True)


EVENTS = 500_000


def event_lines(count: int, seed: int):
    rng = random.Random(seed)
    kinds = ("open", "click", "delivered")
    for n in range(count):
        yield f"p{rng.randrange(1000)}@example.com,{kinds[n % 3]},2026-06-{1 + n % 28:02d}T10:{n % 60:02d}:00Z\n"


def test_a_run_killed_while_reading_a_big_file_leaves_the_warehouse_as_it_was(workspace, tmp_path):
    workspace.drop("first.csv", "email,first_name\nann@example.com,Ann\n", manifest=MANIFEST)
    workspace.run()

    def snapshot():
        return {
            "import_files": sorted(
                workspace.query("select file_id, path, kind, status, sha256, rows_total from import_files")
            ),
            "contacts": sorted(workspace.query("select * from contacts"), key=repr),
            "versions": workspace.query(
                "select version, run_id, tables_changed from versions order by version"
            ),
            "events": workspace.query("select count(*) from staging.event_rows"),
        }

    before = snapshot()
    events = workspace.paths.inbox / "events"
    events.mkdir()
    big = events / "big.csv.gz"
    with gzip.open(big, "wt", compresslevel=1) as stream:
        stream.write("email,event,occurred_at\n")
        stream.writelines(event_lines(EVENTS, seed=7))
    (tmp_path / "home").mkdir()
    env = {
        **os.environ,
        "CONTACTS_DATA_DIR": str(workspace.paths.data_dir),
        "CONTACTS_CONFIG": str(workspace.paths.config_path),
        "CONTACTS_SEGMENTS_DIR": str(workspace.paths.segments_dir),
        "DAGSTER_HOME": str(tmp_path / "home"),
    }
    run = subprocess.Popen(
        [str(CONTACTS), "run", "--as-of", "2026-06-30"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    killed_mid_read = False
    deadline = time.monotonic() + 300
    while run.poll() is None and time.monotonic() < deadline:
        try:
            open_files = {os.readlink(f"/proc/{run.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{run.pid}/fd")}
        except OSError:
            open_files = set()
        if str(big) in open_files:
            os.kill(run.pid, signal.SIGKILL)  # as the kernel's OOM killer would
            killed_mid_read = True
            break
        time.sleep(0.002)
    run.wait(timeout=60)
    assert killed_mid_read, "the run finished before it was seen reading the file"
    assert run.returncode == -signal.SIGKILL
    assert snapshot() == before
    workspace.run()  # the next run completes and loads the file
    after = snapshot()
    assert after["events"] == [(EVENTS,)] and after["contacts"] == before["contacts"]
    assert [row[3] for row in after["import_files"] if row[1].endswith("big.csv.gz")] == ["loaded"]


def test_parquet_and_jsonl_have_the_same_limits(tmp_path):
    limits = ContactsConfig.model_validate(
        {"limits": {"max_decompressed_size": "16MiB", "max_compression_ratio": 100}}
    ).limits
    big_cell = tmp_path / "cell.parquet"
    pl.DataFrame({"email": ["a@example.com"], "notes": ["n" * (2 * MiB)]}).write_parquet(
        big_cell, compression="zstd"
    )
    assert (
        read_and_parse(big_cell, limits)
        .failure.args[0]
        .startswith("the value of 'notes' in row 1 is 2.0MiB, over the limit of 1.0MiB")
    )
    # a Parquet file that declares more decompressed bytes than the limit is refused from its metadata alone
    packed = tmp_path / "packed.parquet"
    emails = [f"p{n}@example.com" for n in range(1_000_000)]
    pl.DataFrame({"email": emails}).write_parquet(packed, compression="zstd", statistics=False)
    failure = read_and_parse(packed, limits).failure
    assert failure is not None and "(raise limits.max_decompressed_size in contacts.yaml" in failure.args[0]
    lines = tmp_path / "long.jsonl"
    lines.write_bytes(
        b'{"email": "a@example.com"}\n{"email": "b@example.com", "notes": "' + b"j" * (5 * MiB) + b'"}\n'
    )
    assert read_and_parse(lines, limits).failure.args[0].startswith("line 2 has ")
    ok = tmp_path / "ok.jsonl"
    ok.write_bytes(b'{"email": "a@example.com", "notes": "fine"}\n')
    assert read_and_parse(ok, limits).parsed_or_raise().rows_total == 1
