"""One `contacts run` at a time per Dagster instance, and no slot left behind by a killed one.

Dagster frees the pool slots of a dead run only through the daemon's run monitoring. A `contacts run`
killed with SIGKILL (no daemon running) would keep its `duckdb` slot, and every later run would wait for
it forever. So the CLI holds an OS file lock for the length of its run: whoever gets the lock knows that
no other CLI run is alive, and marks any CLI run still "started" as failed, freeing its slots.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

LAUNCHED_BY_TAG = "contacts/launched_by"
UNFINISHED = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED]


@contextmanager
def cli_run_lock(home: Path) -> Iterator[None]:
    path = home / "contacts-run.lock"
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(
                "another `contacts run` is in progress; waiting for it to finish ...",
                file=sys.stderr,
                flush=True,
            )
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def reap_dead_cli_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark CLI runs that are still 'started' as failed and free their pool slots. Call holding the lock."""
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED, tags={LAUNCHED_BY_TAG: "cli"}))
    for run in runs:
        instance.report_run_failed(
            run, message="The `contacts run` process that ran this died; marked failed by the next run."
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    return [run.run_id for run in runs]
