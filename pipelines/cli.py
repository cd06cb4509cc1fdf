"""`contacts` command line: run the pipeline in process against the persistent Dagster instance."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from pipelines.as_of import AS_OF_TAG, parse_as_of
from pipelines.config import ConfigError, load_config
from pipelines.run_summary import (
    WarehouseUnavailable,
    failed_steps,
    last_file_id,
    read_only_warehouse,
    summarise,
)
from pipelines.settings import PROJECT_ROOT, Paths, paths_from_env


def dagster_home() -> Path:
    """DAGSTER_HOME, by default `.dagster_home` in the project, holding the shipped dagster.yaml."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    shipped = PROJECT_ROOT / "dagster.yaml"
    target = home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != shipped.read_bytes():
        shutil.copyfile(shipped, target)
    return home


def inbox_is_empty(paths: Paths) -> bool:
    return not any(path.is_file() for path in paths.inbox.rglob("*")) if paths.inbox.exists() else True


def copy_samples(paths: Paths, only_if_empty: bool) -> int:
    """Copy the bundled sample files into the inbox; never overwrites a file already there."""
    if only_if_empty and not inbox_is_empty(paths):
        return 0
    copied = 0
    for source in sorted(paths.samples.rglob("*")):
        if not source.is_file():
            continue
        target = paths.inbox / source.relative_to(paths.samples)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        copied += 1
    return copied


# Exit status of `contacts run` when the run went through but a file of it failed (a held file alone is
# 0: it waits for its owner). Schedulers and scripts can tell it from a failed run (1) and a bad config (2).
FILE_FAILED = 3


def command_run(args: argparse.Namespace) -> int:
    paths = paths_from_env()
    try:
        load_config(paths.config_path)  # fail before Dagster starts, with file, key and reason
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.samples_if_empty:
        copied = copy_samples(paths, only_if_empty=True)
        if copied:
            print(f"inbox was empty: copied {copied} sample files into {paths.inbox}")
    home = dagster_home()

    import dagster as dg

    from pipelines.definitions import REFRESH_JOB, defs
    from pipelines.run_guard import LAUNCHED_BY_TAG, cli_run_lock, reap_dead_cli_runs

    tags = {LAUNCHED_BY_TAG: "cli", **({AS_OF_TAG: args.as_of.isoformat()} if args.as_of else {})}
    with cli_run_lock(home), dg.DagsterInstance.get() as instance:
        for run_id in reap_dead_cli_runs(instance):
            print(f"run {run_id} had been killed; marked it failed and freed its slot", file=sys.stderr)
        since_file_id = last_file_id(paths)  # under the lock: no other run adds files meanwhile
        result = defs.resolve_job_def(REFRESH_JOB).execute_in_process(
            instance=instance,
            raise_on_error=False,
            tags=tags,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
    print()
    print(f"run {result.run_id} {'succeeded' if result.success else 'FAILED'} (details: `make ui`)")
    for step, reason in failed_steps(result).items():
        print(f"  failed step {step}: {reason}")
    summary = summarise(paths, since_file_id) if paths.warehouse.exists() else None
    if summary:
        print(summary.text)
    if not result.success:
        return 1
    return FILE_FAILED if summary and summary.files_failed else 0


def command_sample(args: argparse.Namespace) -> int:
    paths = paths_from_env()
    copied = copy_samples(paths, only_if_empty=args.if_empty)
    print(f"copied {copied} sample files into {paths.inbox}")
    return 0


# Statement types a read-only connection can run.
READ_STATEMENTS = {"SELECT", "EXPLAIN", "PRAGMA", "SET", "VARIABLE_SET", "RELATION", "CALL", "EXPORT", "COPY"}


def command_sql(args: argparse.Namespace) -> int:
    """Run one query on a read-only connection and print the result as a table."""
    import duckdb

    with read_only_warehouse(paths_from_env()) as con:
        try:
            writes = sorted({s.type.name for s in con.extract_statements(args.query)} - READ_STATEMENTS)
            if writes:
                print(
                    f"error: `contacts sql` opens the warehouse read-only, so it cannot run {', '.join(writes)}; "
                    "the pipeline owns the data: change it through inbox files (contacts, suppressions, erasure requests) "
                    "and `contacts run`",
                    file=sys.stderr,
                )
                return 1
            con.sql(args.query).show(max_rows=args.max_rows, max_width=200)
        except duckdb.Error as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


def command_person(args: argparse.Namespace) -> int:
    """Print everything the warehouse holds about one address (data-subject access request)."""
    from assets.erasure.person import person_record, to_json

    with read_only_warehouse(paths_from_env()) as con:
        record = person_record(con, args.email)
    if not record["erased"] and not any(
        value for key, value in record.items() if key not in ("email", "erased")
    ):
        # The user typed the address; saying it back is what they need to spot a typo.
        print(
            f"the warehouse holds nothing about {record['email']}: not a contact, in no file, event, list or suppression",
            file=sys.stderr,
        )
        return 1
    print(to_json(record))
    return 0


def command_duplicates(args: argparse.Namespace) -> int:
    """Write the candidate pairs for review as CSV (stdout, or --output), in the shape of a merge file."""
    from assets.contacts.duplicate_review import review_rows, write_review, write_review_file

    with read_only_warehouse(paths_from_env()) as con:
        rows = review_rows(con, args.min_probability)
    if args.output:
        write_review_file(rows, args.output)
        print(
            f"{len(rows)} candidate pair(s) at match_probability >= {args.min_probability} in {args.output}: "
            "delete the rows that are not one person, then drop the file in inbox/merges/",
            file=sys.stderr,
        )
    else:
        write_review(rows, sys.stdout)
    return 0


def _probability(value: str) -> float:
    try:
        probability = float(value)
    except ValueError:
        probability = -1.0
    if not 0 <= probability <= 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a probability between 0 and 1")
    return probability


def _as_of(value: str):
    try:
        return parse_as_of(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def command_serve_reports(args: argparse.Namespace) -> int:
    from pipelines.report_server import serve_reports

    paths = paths_from_env()
    try:
        port = args.port or load_config(paths.config_path).reports.serve_port
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        serve_reports(paths.data_dir / "reports", "127.0.0.1", port)
    except OSError as exc:
        print(f"error: cannot serve on 127.0.0.1:{port}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0


def command_receive(args: argparse.Namespace) -> int:
    """Serve the webhook endpoints of the services configured under `receiver:` (pipelines/receiver.py)."""
    import logging

    from pipelines.receiver import ReceiverConfigError, build_verifiers, serve

    paths = paths_from_env()
    try:
        receiver = load_config(paths.config_path).receiver
        verifiers = build_verifiers(receiver, os.environ)
    except (ConfigError, ReceiverConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not verifiers:
        print(
            f"error: {paths.config_path}: no service under `receiver:`, so every path would answer 404 "
            '(README: "Receiving webhooks")',
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)-7s receiver: %(message)s"
    )
    host, port = args.host or receiver.host, args.port or receiver.port
    try:
        serve(receiver, verifiers, paths.data_dir, host, port)
    except OSError as exc:
        print(f"error: cannot serve on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0


def command_prepare_home(args: argparse.Namespace) -> int:
    print(f"DAGSTER_HOME={dagster_home()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="contacts", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="materialize every asset in process, then print a summary")
    run.add_argument(
        "--samples-if-empty", action="store_true", help="copy the bundled samples into an empty inbox first"
    )
    run.add_argument(
        "--as-of",
        type=_as_of,
        metavar="YYYY-MM-DD",
        help="the business date that sets time windows (default: today in the configured timezone)",
    )
    run.set_defaults(handler=command_run)
    sample = commands.add_parser("sample", help="copy the bundled sample files into the inbox")
    sample.add_argument("--if-empty", action="store_true", help="only when the inbox holds no files")
    sample.set_defaults(handler=command_sample)
    sql = commands.add_parser("sql", help="run a read-only SQL query on the warehouse and print the result")
    sql.add_argument("query")
    sql.add_argument("--max-rows", type=int, default=40)
    sql.set_defaults(handler=command_sql)
    person = commands.add_parser(
        "person", help="print, as JSON, everything the warehouse holds about an address"
    )
    person.add_argument("email")
    person.set_defaults(handler=command_person)
    duplicates = commands.add_parser(
        "duplicates", help="write probable duplicate contacts for review, as CSV in the shape of a merge file"
    )
    duplicates.add_argument(
        "--min-probability",
        type=_probability,
        default=0.5,
        help="the lowest match_probability listed (default 0.5)",
    )
    duplicates.add_argument("--output", type=Path, help="write to this file instead of stdout")
    duplicates.set_defaults(handler=command_duplicates)
    serve = commands.add_parser(
        "serve-reports", help="serve data/reports on 127.0.0.1, where the report asset's link points"
    )
    serve.add_argument("--port", type=int, help="default: reports.serve_port in contacts.yaml (3001)")
    serve.set_defaults(handler=command_serve_reports)
    receive = commands.add_parser(
        "receive", help="receive sending services' webhooks into inbox/events (the `receiver:` section)"
    )
    receive.add_argument("--host", help="default: receiver.host in contacts.yaml (127.0.0.1)")
    receive.add_argument("--port", type=int, help="default: receiver.port in contacts.yaml (3002)")
    receive.set_defaults(handler=command_receive)
    home = commands.add_parser("prepare-home", help="create DAGSTER_HOME with the shipped dagster.yaml")
    home.set_defaults(handler=command_prepare_home)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except WarehouseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
