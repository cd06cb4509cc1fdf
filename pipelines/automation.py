"""The inbox sensor and the daily schedule (DESIGN 10).

The sensor starts a run when the inbox holds content it has not seen: its run_key is the hash of every
settled file's content, so the same files (or a copy of one under another name) never start a second run.
A file whose size changed since the last tick is still being written and waits for the next tick.
"""

from __future__ import annotations

import hashlib
import json
import zoneinfo
from pathlib import Path

import dagster as dg
import duckdb

from assets.ingest.inbox import content_hash, discover_files
from assets.ingest.manifest import manifest_path_for
from pipelines.as_of import AS_OF_TAG
from pipelines.settings import Paths
from pipelines.wording import counted

INBOX_FOLDERS = ("contacts", "events", "erasure", "merges")


def inbox_state(paths: Paths, previous: dict) -> tuple[dict, list[str]]:
    """Per file: [size, mtime_ns, content hash or None while it is still changing]; and the settled hashes."""
    state, settled = {}, []
    for folder in INBOX_FOLDERS:
        for path in discover_files(paths.inbox / folder):
            manifest = manifest_path_for(path) if folder == "contacts" else None
            stat = path.stat()
            size = stat.st_size + (manifest.stat().st_size if manifest and manifest.exists() else 0)
            mtime = max(
                stat.st_mtime_ns, manifest.stat().st_mtime_ns if manifest and manifest.exists() else 0
            )
            key = str(path.relative_to(paths.inbox))
            before = previous.get(key)
            if before and before[0] == size and before[1] == mtime:
                digest = before[2] or _hash(path, manifest)
            elif before and before[0] != size:
                digest = None  # still growing: wait for a tick at which its size holds
            else:
                digest = None if before is None else _hash(path, manifest)
            state[key] = [size, mtime, digest]
            if digest:
                settled.append(f"{folder}:{digest}")
    return state, sorted(set(settled))


def ledger_hashes(paths: Paths) -> set[str] | None:
    """The content hashes the ledger holds, or None while a run holds the warehouse (DuckDB then refuses
    even a read-only connection from another process)."""
    if not paths.warehouse.exists():
        return set()
    try:
        con = duckdb.connect(str(paths.warehouse), read_only=True)
    except duckdb.IOException:
        return None
    try:
        return {row[0] for row in con.execute("select distinct sha256 from import_files").fetchall()}
    except duckdb.CatalogException:
        return set()
    finally:
        con.close()


def _hash(path: Path, manifest: Path | None) -> str:
    return content_hash(path.read_bytes(), manifest.read_bytes() if manifest and manifest.exists() else None)


def build_inbox_sensor(paths: Paths, job_name: str) -> dg.SensorDefinition:
    @dg.sensor(
        name="inbox_sensor",
        job_name=job_name,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts a run when new or changed files have settled in the inbox.",
    )
    def inbox_sensor(context: dg.SensorEvaluationContext):
        cursor = json.loads(context.cursor) if context.cursor else {"files": {}, "last": None}
        state, settled = inbox_state(paths, cursor["files"])
        known = ledger_hashes(paths) if settled else set()
        if known is None:
            context.update_cursor(json.dumps({"files": state, "last": cursor["last"]}, separators=(",", ":")))
            return dg.SkipReason(
                "a run is using the warehouse; the inbox is looked at again at the next tick"
            )
        # Files the ledger already has (loaded, held, failed or skipped with this content) need no run: after
        # `make run`, the first tick of `make ui` must not start a run that loads nothing.
        new = [entry for entry in settled if entry.split(":", 1)[1] not in known]
        run_key = hashlib.sha256("\n".join(settled).encode()).hexdigest() if new else None
        context.update_cursor(
            json.dumps({"files": state, "last": run_key or cursor["last"]}, separators=(",", ":"))
        )
        if settled and not new:
            return dg.SkipReason(
                f"{counted(len(settled), 'file')} in the inbox, all already in the ledger: nothing new to load"
            )
        if not settled:
            if not state:
                return dg.SkipReason("the inbox is empty")
            # A file is taken only once it is unchanged between two ticks, so a half-written file never loads.
            return dg.SkipReason(
                f"{counted(len(state), 'file')} in the inbox, still settling: a run starts once they are "
                "unchanged at the next tick"
            )
        if run_key == cursor["last"]:
            return dg.SkipReason("no new or changed content in the inbox")
        return dg.RunRequest(run_key=run_key, tags={"contacts/trigger": "inbox"})

    return inbox_sensor


def build_daily_schedule(job_name: str, daily_at: str, timezone: str) -> dg.ScheduleDefinition:
    hour, minute = (int(part) for part in daily_at.split(":"))

    def run_config_tags(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        day = context.scheduled_execution_time.astimezone(zoneinfo.ZoneInfo(timezone)).date()
        return dg.RunRequest(tags={AS_OF_TAG: day.isoformat(), "contacts/trigger": "schedule"})

    return dg.ScheduleDefinition(
        name="daily_refresh",
        job_name=job_name,
        cron_schedule=f"{minute} {hour} * * *",
        execution_timezone=timezone,
        execution_fn=run_config_tags,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Refreshes engagement, segments, metrics and exports with that day's as-of date.",
    )
