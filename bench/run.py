"""Benchmark: the pipeline's ingest + validate + merge against DuckDB's own CSV load, the whole job, an incremental run, the email fast path, and the whole job against its floor and a pandas peer.

    .venv/bin/python -m bench.run [--mode contacts|pipeline|incremental|daily|emails|compare] [--contacts N]
                                  [--events M] [--files K] [--international SHARE] [--quick] [--keep]

`contacts` (the default): both measurements run in one process on one set of generated files, so the
ratio between them is meaningful on any machine even when the absolute times are not. `pipeline`: the
whole refresh job on generated contacts and events, per step. `incremental`: a run after one more
contact file and event file, and its warehouse compared with one rebuilt from scratch. `daily`: reruns with no
new file, the same day and the next, against the full run and the job's fixed cost. `emails`: the email
fast path against email-validator alone on adversarial addresses. `compare`: the whole job against DuckDB
loading the same files and against the pandas script a user would write (bench/peer.py). See
bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fractions
import json
import logging
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb

import assets.ingest.inbox
import assets.ingest.read_ahead
import assets.ingest.store_file
from assets.contacts.merge import drop_temp_tables, merge_pending_files, replay_status
from assets.ingest.context import KIND_CONTACTS, IngestContext
from assets.ingest.inbox import ingest_folder
from assets.validation.emails import EmailValidatorCache
from bench.floor import read_csv_sql
from bench.generate import DEFAULT_INTERNATIONAL, INTERNATIONAL_MIX, SEED, generate
from bench.pipeline import check
from pipelines.config import load_config
from pipelines.warehouse.connection import connect, transaction
from pipelines.warehouse.schema import ensure_schema
from pipelines.warehouse.versioning import publish

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
QUICK_CONTACTS = 20_000
QUICK_EVENTS = 200_000
DEFAULT_CONTACTS = 1_000_000
DEFAULT_EVENTS = 10_000_000
DEFAULT_COMPARE_EVENTS = 2_000_000
MODES = ("contacts", "pipeline", "incremental", "daily", "emails", "compare")
MIXES = {"ascii": DEFAULT_INTERNATIONAL, "international": INTERNATIONAL_MIX}  # `make bench BENCH_MIX=...`
log = logging.getLogger("bench")


def peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB. It is the process-wide peak so far, never a per-stage figure.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def stage_timers(cache: EmailValidatorCache, timings: dict[str, float]):
    """Split ingest time into parse / email validation / other staging without editing the pipeline.

    ingest.py calls `read_and_parse` and `stage_file` (via `_stage_contacts`) through its own module globals, and staging calls
    `cache.verdicts_for`, so wrapping those names (and the read-ahead's) is enough; they are restored afterwards. Files after the
    first are read ahead in a worker thread (assets/ingest/read_ahead.py): that parse time is kept apart (`read_ahead`,
    overlapped with storing the previous file) from the time ingest waits for it (`read_wait`).
    """

    def timed(name, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - started

        return wrapper

    originals = (
        assets.ingest.inbox.read_and_parse,
        assets.ingest.store_file.stage_file,
        assets.ingest.read_ahead.read_and_parse,
        assets.ingest.read_ahead.ReadAhead.take,
    )
    assets.ingest.inbox.read_and_parse = timed("read_file", originals[0])
    assets.ingest.store_file.stage_file = timed("stage_file", originals[1])
    assets.ingest.read_ahead.read_and_parse = timed("read_ahead", originals[2])
    assets.ingest.read_ahead.ReadAhead.take = timed("read_wait", originals[3])
    cache.verdicts_for = timed("validate_emails", cache.verdicts_for)
    try:
        yield
    finally:
        (
            assets.ingest.inbox.read_and_parse,
            assets.ingest.store_file.stage_file,
            assets.ingest.read_ahead.read_and_parse,
            assets.ingest.read_ahead.ReadAhead.take,
        ) = originals
        del cache.verdicts_for


def run_pipeline(data_dir: Path, database: Path) -> dict:
    """The real ingest and merge functions, called as the Dagster assets call them, on a fresh warehouse."""
    config = load_config(ROOT / "contacts.yaml")
    cache = EmailValidatorCache(config.rules.fold_provider_aliases)
    now = dt.datetime.now(dt.UTC)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    con = connect(database)
    try:
        ensure_schema(con, config)
        with stage_timers(cache, timings):
            t0 = time.perf_counter()
            ctx = IngestContext(con, data_dir, config, cache, now, log)
            outcomes = ingest_folder(ctx, data_dir / "inbox" / "contacts", KIND_CONTACTS)
            timings["ingest"] = time.perf_counter() - t0
        rss_ingest = peak_rss_mb()
        t0 = time.perf_counter()
        with transaction(con):
            merged = merge_pending_files(con, config, log)
            timings["merge"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            replay_status(con, config, now)
            publish(con, "contacts", "bench", now.date())  # the public `contacts` is the published version
        drop_temp_tables(con)
        timings["status_replay"] = time.perf_counter() - t0
        contacts = con.execute("select count(*) from contacts").fetchone()[0]
        distinct_emails = con.execute("select count(distinct email) from contacts").fetchone()[0]
        rejects = dict(con.execute("select reason, count(*) from rejected_rows group by reason").fetchall())
        field_issues = con.execute("select count(*) from field_issues").fetchone()[0]
    finally:
        con.close()  # included in the time: closing checkpoints the WAL into the file, as the floor's does
    seconds = time.perf_counter() - started
    # Parsing, validation and the rest of staging are parts of ingest; what remains of ingest is hashing,
    # the ledger and DuckDB inserts of the staged frames.
    timings["validate_emails"] = timings.get("validate_emails", 0.0)
    timings["stage_other"] = timings.get("stage_file", 0.0) - timings["validate_emails"]
    timings["ingest_other"] = (
        timings["ingest"]
        - timings.get("read_file", 0.0)
        - timings.get("read_wait", 0.0)
        - timings.get("stage_file", 0.0)
    )
    timings["setup_and_close"] = seconds - timings["ingest"] - timings["merge"] - timings["status_replay"]
    return {
        "seconds": seconds,
        "stages": {key: round(value, 3) for key, value in timings.items()},
        "file_statuses": sorted({o.status for o in outcomes}),
        "rows_total": sum(o.rows_total for o in outcomes),
        "rows_accepted": sum(o.rows_accepted for o in outcomes),
        "rows_rejected": sum(o.rows_rejected for o in outcomes),
        "rejects_by_reason": rejects,
        "field_issues": field_issues,
        "email_validator_calls": cache.calls,  # distinct addresses email-validator judged
        "fast_path_rows": cache.fast,  # rows whose address the fast path vouched for
        "contacts": contacts,
        "contacts_distinct_emails": distinct_emails,
        "contacts_created": sum(m.contacts_created for m in merged),
        "rows_merged": sum(m.rows_merged or 0 for m in merged),
        "database_mb": database.stat().st_size / 2**20,
        "peak_rss_after_ingest_mb": rss_ingest,
    }


def run_floor(files: list[Path], database: Path) -> dict:
    """What DuckDB alone needs to land the same bytes in a persistent table: the lower bound for any load."""
    started = time.perf_counter()
    con = duckdb.connect(str(database))
    try:
        con.execute(f"create table t as select * from {read_csv_sql(files)}")
        rows = con.execute("select count(*) from t").fetchone()[0]
    finally:
        con.close()
    return {
        "seconds": time.perf_counter() - started,
        "rows": rows,
        "database_mb": database.stat().st_size / 2**20,
    }


def run_sql_merge(files: list[Path], database: Path) -> dict:
    """A second yardstick, not the floor: DuckDB alone storing what the pipeline stores for these files (every
    row, one deduplicated contact per lower-cased address with later non-empty values winning, and a
    version of the contacts) with no validation, no rejects, no ledger and no status replay. The pipeline's
    ratio to it says how much the exact rules cost beyond the stores themselves."""
    started = time.perf_counter()
    con = duckdb.connect(str(database))
    try:
        con.execute(
            f"create table contact_rows as select *, row_number() over () as position from {read_csv_sql(files)}"
        )
        con.execute("""create table contacts as
                       select row_number() over (order by min(position)) as contact_id, lower(trim(email)) as email,
                              arg_max(first_name, position) filter (where first_name is not null) as first_name,
                              arg_max(last_name, position) filter (where last_name is not null) as last_name,
                              list_sort(list_distinct(flatten(list(string_split(tags, ','))))) as tags,
                              arg_max(company, position) filter (where company is not null) as company,
                              min("signup date") as created_at
                       from contact_rows where email like '%@%' group by lower(trim(email))""")
        con.execute(
            "create table contacts_history as select *, 1 as valid_from_version, null::bigint as valid_to_version from contacts"
        )
        contacts = con.execute("select count(*) from contacts").fetchone()[0]
    finally:
        con.close()
    return {"seconds": time.perf_counter() - started, "contacts": contacts}


def international_share(text: str) -> float:
    """`--international`: a mix's name, a number or a fraction ("1/3"), between 0 and 1."""
    if text in MIXES:
        return MIXES[text]
    try:
        share = float(fractions.Fraction(text))
    except (ValueError, ZeroDivisionError) as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not {' or '.join(MIXES)}, a number or a fraction"
        ) from exc
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share between 0 and 1")
    return share


def git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "duckdb": duckdb.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="contacts",
        help="contacts: ingest+merge vs the DuckDB floor (default); pipeline: the whole job; "
        "incremental: a run after one more file, compared with a rebuild; "
        "daily: reruns with no new file, the same day and the next, compared with a rebuild; "
        "emails: the email fast path against email-validator on --contacts adversarial addresses; "
        "compare: the whole job vs DuckDB loading the same files and vs a pandas script",
    )
    parser.add_argument(
        "--contacts",
        type=int,
        default=None,
        help=f"contact rows to generate (default 1,000,000; --quick: {QUICK_CONTACTS:,})",
    )
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help=f"event rows to generate, pipeline/incremental/compare modes (default 10,000,000, compare "
        f"{DEFAULT_COMPARE_EVENTS:,}; --quick: {QUICK_EVENTS:,})",
    )
    parser.add_argument(
        "--files",
        type=int,
        default=5,
        help="CSV files to spread the contacts over, and the events (default 5)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run with {QUICK_CONTACTS:,} contacts and {QUICK_EVENTS:,} events (explicit sizes still win)",
    )
    parser.add_argument(
        "--international",
        type=international_share,
        default=DEFAULT_INTERNATIONAL,
        metavar="SHARE",
        help="share of new contact addresses that are not ASCII: ascii (0.01, the default), "
        "international (1/3), or a number",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated files and DuckDB databases")
    parser.add_argument("--seed", type=int, default=SEED, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    contacts = (
        args.contacts if args.contacts is not None else QUICK_CONTACTS if args.quick else DEFAULT_CONTACTS
    )
    events = (
        args.events if args.events is not None else QUICK_EVENTS if args.quick else default_events(args.mode)
    )
    if contacts < 1 or args.files < 1 or events < 0:
        parser.error("--contacts and --files must be positive, --events not negative")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    if args.mode != "contacts":
        return whole_job(args.mode, contacts, events, args)

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    work = OUT / f"run-{stamp}"  # bench/out/ is git-ignored
    data_dir = work / "data"
    try:
        log.info("generating %d contacts in %d files under %s", contacts, args.files, work)
        generated = generate(
            data_dir / "inbox" / "contacts", contacts, args.files, args.seed, args.international
        )
        rss_generate = peak_rss_mb()
        # Pipeline before floor, so that the peak memory read after it is the pipeline's (plus generation's).
        log.info("pipeline: ingest + validate + merge")
        pipeline = run_pipeline(data_dir, work / "pipeline.duckdb")
        rss_pipeline = peak_rss_mb()
        log.info("floor: DuckDB read_csv into a table")
        floor = run_floor(generated.files, work / "floor.duckdb")
        rss_floor = peak_rss_mb()
        log.info("yardstick: DuckDB alone storing rows, deduplicated contacts and a version")
        sql_merge = run_sql_merge(generated.files, work / "sql-merge.duckdb")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    rows = generated.rows
    ratio = pipeline["seconds"] / floor["seconds"]
    stages = pipeline["stages"]
    print()
    print(
        f"Contacts benchmark: {rows:,} rows in {len(generated.files)} CSV files ({generated.bytes / 2**20:.1f} MB), seed {args.seed}"
    )
    print(
        f"  generated in {generated.seconds:.1f} s: {generated.duplicate_rows:,} repeated addresses, "
        f"{generated.invalid_rows:,} invalid ({', '.join(f'{k} {v:,}' for k, v in generated.invalid_kinds.items())})"
    )
    print()
    print(
        f"  floor    (DuckDB read_csv -> table) {floor['seconds']:8.2f} s  {rows / floor['seconds']:>12,.0f} rows/s"
    )
    print(
        f"  pipeline (ingest+validate+merge)    {pipeline['seconds']:8.2f} s  {rows / pipeline['seconds']:>12,.0f} rows/s"
    )
    print(f"  ratio pipeline / floor              {ratio:8.1f} x")
    print(
        f"  (yardstick: DuckDB alone storing the rows, {sql_merge['contacts']:,} deduplicated contacts and a version, no validation:"
        f" {sql_merge['seconds']:.2f} s = {sql_merge['seconds'] / floor['seconds']:.1f}x the floor; pipeline / yardstick"
        f" {pipeline['seconds'] / sql_merge['seconds']:.1f}x)"
    )
    print()
    print("  pipeline stages (s):")
    for label, key in (
        ("ingest total", "ingest"),
        ("  read_file (decode + csv parse), first file", "read_file"),
        ("  waiting for the read-ahead", "read_wait"),
        ("  email validation (verdicts_for)", "validate_emails"),
        ("  other staging (polars, pandera)", "stage_other"),
        ("  hash, ledger, DuckDB inserts", "ingest_other"),
        ("merge", "merge"),
        ("status replay", "status_replay"),
        ("connect, schema, close", "setup_and_close"),
    ):
        share = 100 * stages.get(key, 0.0) / pipeline["seconds"]
        print(f"    {label:<46} {stages.get(key, 0.0):8.2f}  {share:5.1f}%")
    print(
        f"    (files 2.. parsed ahead in a worker thread, overlapped with storing: {stages.get('read_ahead', 0.0):.2f} s)"
    )
    print()
    print(
        f"  email validation: fast path vouched for {pipeline['fast_path_rows']:,} rows; "
        f"email-validator judged {pipeline['email_validator_calls']:,} distinct addresses"
    )
    print(
        f"  rows accepted {pipeline['rows_accepted']:,}, rejected {pipeline['rows_rejected']:,} {pipeline['rejects_by_reason']}, "
        f"field issues {pipeline['field_issues']:,}"
    )
    print(
        f"  contacts {pipeline['contacts']:,}; DuckDB files: pipeline {pipeline['database_mb']:.1f} MB, floor {floor['database_mb']:.1f} MB"
    )
    print(
        f"  peak RSS (whole process, cumulative): after generation {rss_generate:,.0f} MB, "
        f"after ingest {pipeline['peak_rss_after_ingest_mb']:,.0f} MB, after merge {rss_pipeline:,.0f} MB, after floor {rss_floor:,.0f} MB"
    )
    print()
    print("  sanity checks:")
    checks = [
        check(
            "accepted + rejected = rows generated",
            pipeline["rows_accepted"] + pipeline["rows_rejected"],
            rows,
        ),
        check("rejected = invalid rows generated", pipeline["rows_rejected"], generated.invalid_rows),
        check(
            "contacts = distinct valid addresses (normalised, lower-cased)",
            pipeline["contacts"],
            generated.valid_distinct,
        ),
        check("contacts have distinct emails", pipeline["contacts_distinct_emails"], pipeline["contacts"]),
        # The fast path is recomputed per file; email-validator must see each other address exactly once.
        check(
            "email-validator calls = distinct addresses the fast path turns down",
            pipeline["email_validator_calls"],
            generated.slow_distinct,
        ),
        check("floor rows = rows generated", floor["rows"], rows),
        check("every file loaded", pipeline["file_statuses"], ["loaded"]),
    ]
    all_ok = all(c["ok"] for c in checks)

    OUT.mkdir(parents=True, exist_ok=True)
    results = OUT / f"results-contacts-{stamp}.json"
    results.write_text(
        json.dumps(
            {
                "timestamp": stamp,
                "commit": git_commit(),
                "mode": "contacts",
                "machine": machine(),
                "args": {
                    "contacts": contacts,
                    "files": args.files,
                    "seed": args.seed,
                    "international": args.international,
                    "quick": args.quick,
                },
                "generated": generated.figures(),
                "floor": floor | {"rows_per_second": rows / floor["seconds"]},
                "sql_merge_yardstick": sql_merge,
                "pipeline": pipeline | {"rows_per_second": rows / pipeline["seconds"]},
                "ratio": ratio,
                "peak_rss_mb": {
                    "after_generation": rss_generate,
                    "after_ingest": pipeline["peak_rss_after_ingest_mb"],
                    "after_merge": rss_pipeline,
                    "after_floor": rss_floor,
                },
                "checks": checks,
                "ok": all_ok,
            },
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    print(
        f"\n  results: {results.relative_to(ROOT)}"
        + (f"; files kept in {work.relative_to(ROOT)}" if args.keep else "")
    )
    return 0 if all_ok else 1


def default_events(mode: str) -> int:
    # compare runs the pipeline and a row-by-row pandas script on the same files: 2M events keep it minutes.
    return DEFAULT_COMPARE_EVENTS if mode == "compare" else DEFAULT_EVENTS


def whole_job(mode: str, contacts: int, events: int, args: argparse.Namespace) -> int:
    """`--mode pipeline` or `--mode incremental` (bench/pipeline.py), `--mode emails` (bench/emails.py), or
    `--mode compare` (bench/compare.py)."""
    from bench.compare import compare_mode
    from bench.emails import emails_mode
    from bench.pipeline import daily_mode, incremental_mode, pipeline_mode

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    work = OUT / f"run-{mode}-{stamp}"  # bench/out/ is git-ignored
    try:
        if mode == "emails":
            figures = emails_mode(contacts, args.seed, work)
        elif mode == "pipeline":
            figures = pipeline_mode(work, contacts, events, args.files, args.seed, args.international)
        elif mode == "daily":
            figures = daily_mode(work, contacts, events, args.files, args.seed, args.international)
        elif mode == "compare":
            figures = compare_mode(work, contacts, events, args.files, args.seed, args.international)
        else:
            figures = incremental_mode(work, contacts, events, args.files, args.seed, args.international)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    results = OUT / f"results-{mode}-{stamp}.json"
    results.write_text(
        json.dumps(
            {
                "timestamp": stamp,
                "mode": mode,
                "commit": git_commit(),
                "machine": machine(),
                "args": {
                    "contacts": contacts,
                    "events": events,
                    "files": args.files,
                    "seed": args.seed,
                    "international": args.international,
                    "quick": args.quick,
                },
                **figures,
            },
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    print(
        f"\n  results: {results.relative_to(ROOT)}"
        + (f"; files kept in {work.relative_to(ROOT)}" if args.keep else "")
    )
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
