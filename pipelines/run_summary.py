"""What `contacts run` prints when it ends: this run's files and rows from the ledger, the totals, and the
steps that failed; and the read-only connection the CLI's readers use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pipelines.settings import Paths
from pipelines.wording import counted

EXAMPLE_QUERY = "select status, count(*) from contacts group by status"

# Causes whose fix is not in the message itself.
FIX_HINTS = {
    "No space left on device": "free disk space where the data directory lives and run again; nothing was half-applied",
    "Permission denied": "check that this user can write the data directory and DAGSTER_HOME",
}


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
    if "merges" in rows_by_kind:  # once a merge file came: a warehouse without one reads as before
        _, pairs_out, pairs_merged = rows_by_kind["merges"]
        lines.insert(
            -2, f"merges:    {counted(pairs_merged, 'pair')} of contacts merged, {pairs_out} rejected"
        )
    for path, status, reason in attention:
        lines.append(f"  {status}: {path}: {reason}")
    lines += [
        f"warehouse: {paths.warehouse}",
        f'query:     contacts sql "{EXAMPLE_QUERY}"',
    ]
    return RunSummary("\n".join(lines), failed)


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
