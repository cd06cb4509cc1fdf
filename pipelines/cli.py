"""`contacts` command line: run the pipeline in process against the persistent Dagster instance."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipelines.as_of import AS_OF_TAG, parse_as_of
from pipelines.config import ConfigError, load_config
from pipelines.settings import PROJECT_ROOT, Paths, paths_from_env
from pipelines.wording import counted

EXAMPLE_QUERY = "select status, count(*) from contacts group by status"


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


def last_file_id(paths: Paths) -> int:
    """The newest ledger entry, so that the summary can tell this run's files from earlier ones."""
    import duckdb

    if not paths.warehouse.exists():
        return 0
    with read_only_warehouse(paths) as con:
        try:
            return con.execute("select coalesce(max(file_id), 0) from import_files").fetchone()[0]
        except duckdb.CatalogException:  # a warehouse the pipeline has not created its ledger in yet
            return 0


# Exit status of `contacts run` when the run went through but a file of it failed (a held file alone is
# 0: it waits for its owner). Schedulers and scripts can tell it from a failed run (1) and a bad config (2).
FILE_FAILED = 3


@dataclass(frozen=True)
class RunSummary:
    text: str  # what this run did, then the totals, as printed
    files_failed: int  # files of this run that failed


def summarise(paths: Paths, since_file_id: int = 0) -> RunSummary:
    """What this run did (files after `since_file_id`), then the totals of every run so far."""
    with read_only_warehouse(paths) as con:
        this_run = con.execute(
            """select count(*) filter (where status = 'loaded'), count(*) filter (where status = 'held'),
                      count(*) filter (where status = 'failed'), count(*) filter (where status = 'skipped'),
                      coalesce(sum(rows_accepted) filter (where kind = 'contacts'), 0), coalesce(sum(rows_rejected) filter (where kind = 'contacts'), 0),
                      coalesce(sum(rows_accepted) filter (where kind = 'events'), 0), coalesce(sum(rows_rejected) filter (where kind = 'events'), 0),
                      coalesce(sum(rows_accepted) filter (where kind = 'erasure' and status = 'loaded'), 0)
               from import_files where file_id > ?""",
            [since_file_id],
        ).fetchone()
        # A file fixed and dropped again has a newer ledger row for the same path: count only the latest.
        by_status = dict(
            con.execute(
                """select status, count(*) from (
                       select status from import_files qualify row_number() over (partition by path order by file_id desc) = 1
                   ) group by status"""
            ).fetchall()
        )
        rows_by_kind = {
            kind: (accepted, rejected, merged)
            for kind, accepted, rejected, merged in con.execute(
                """select kind, coalesce(sum(rows_accepted), 0), coalesce(sum(rows_rejected), 0), coalesce(sum(rows_merged), 0)
                   from import_files group by kind"""
            ).fetchall()
        }
        (erased,) = con.execute("select count(*) from erasure_log").fetchone()
        (contacts,) = con.execute("select count(*) from contacts").fetchone()
        by_contact_status = con.execute(
            "select status, count(*) from contacts group by status order by 2 desc, 1"
        ).fetchall()
        attention = con.execute(
            """select path, status, reason from import_files
               qualify row_number() over (partition by path order by file_id desc) = 1 and status in ('held', 'failed')
               order by file_id"""
        ).fetchall()
    loaded, held, failed, skipped, rows_in, rows_out, events_in, events_out, erased_now = this_run
    if loaded + held + failed + skipped == 0:
        lines = ["this run:  no new or changed files in the inbox"]
    else:
        lines = [
            f"this run:  {counted(loaded, 'file')} loaded, {held} held, {failed} failed, {skipped} skipped",
            f"           {counted(rows_in, 'row')} accepted, {rows_out} rejected; {counted(events_in, 'event')} accepted, "
            f"{events_out} rejected; {counted(erased_now, 'address')} erased",
        ]
    files = ", ".join(
        f"{by_status.get(status, 0)} {status}" for status in ("loaded", "held", "failed", "skipped")
    )
    lines += [
        "totals:",
        f"files:     {files}",
        "rows:      {} accepted, {} rejected, {} merged into existing contacts".format(
            *rows_by_kind.get("contacts", (0, 0, 0))
        ),
        "events:    {} accepted, {} rejected".format(*rows_by_kind.get("events", (0, 0, 0))[:2]),
        f"contacts:  {contacts} ({', '.join(f'{n} {status}' for status, n in by_contact_status)})",
        f"erasures:  {counted(erased, 'address')} erased so far",
    ]
    for path, status, reason in attention:
        lines.append(f"  {status}: {path}: {reason}")
    lines += [
        f"warehouse: {paths.warehouse}",
        f'query:     contacts sql "{EXAMPLE_QUERY}"',
    ]
    return RunSummary("\n".join(lines), failed)


# Causes whose fix is not in the message itself.
FIX_HINTS = {
    "No space left on device": "free disk space where the data directory lives and run again; nothing was half-applied",
    "Permission denied": "check that this user can write the data directory and DAGSTER_HOME",
}


def failed_steps(result) -> dict[str, str]:
    """Each failed step with the one-line reason a person can act on."""
    failures = {}
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            error = data.error
            while (
                error is not None
                and error.cause is not None
                and "DagsterExecutionStepExecutionError" in error.cls_name
            ):
                error = error.cause
            reason = (data.user_failure_data.description if data.user_failure_data else None) or (
                error.message.strip() if error else ""
            )
            line = reason.splitlines()[0] if reason else "failed"
            hint = next((fix for cause, fix in FIX_HINTS.items() if cause in line), None)
            failures[event.step_key] = f"{line} ({hint})" if hint else line
    return failures


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


class WarehouseUnavailable(Exception):
    """The warehouse cannot be read now; the message says why and what to do."""


@contextmanager
def read_only_warehouse(paths: Paths) -> Iterator:
    import duckdb

    from pipelines.warehouse.connection import connect

    if not paths.warehouse.exists():
        raise WarehouseUnavailable(f"no warehouse at {paths.warehouse}; run `make run` first")
    try:
        con = connect(paths.warehouse, read_only=True)
    except duckdb.IOException as exc:
        raise WarehouseUnavailable(
            f"{paths.warehouse} is in use by a running pipeline; try again when it finishes ({exc})"
        ) from None
    try:
        yield con
    finally:
        con.close()


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


def _as_of(value: str):
    try:
        return parse_as_of(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
