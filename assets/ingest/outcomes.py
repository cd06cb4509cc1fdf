"""What became of the files of a run, for the asset checks that warn about the ones not applied."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from assets.ingest.context import FileOutcome
from assets.ingest.inbox import discover_files
from pipelines.warehouse.ledger import unapplied_entries


def outcome_table(outcomes: list[FileOutcome]) -> str:
    if not outcomes:
        return "every file of this run loaded"
    rows = ["| file | status | reason |", "| --- | --- | --- |"]
    rows += [f"| {o.path} | {o.status} | {(o.reason or '').replace('|', '/')} |" for o in outcomes]
    return "\n".join(rows)


def unapplied_files_check(
    check_name: str, asset_key: str, outcomes: list[FileOutcome]
) -> dg.AssetCheckResult:
    """A warning (the run goes on) naming each file of this run that failed or was held, and why."""
    unloaded = [o for o in outcomes if o.status in ("failed", "held")]
    return dg.AssetCheckResult(
        check_name=check_name,
        asset_key=asset_key,
        passed=not unloaded,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "files_failed": sum(o.status == "failed" for o in unloaded),
            "files_held": sum(o.status == "held" for o in unloaded),
            "files": dg.MetadataValue.md(outcome_table(unloaded)),
        },
        description=None if not unloaded else "; ".join(f"{o.path}: {o.status}" for o in unloaded[:5]),
    )


def unapplied_in_inbox(con, data_dir: Path, inbox: Path, kind: str) -> list[FileOutcome]:
    """The held and failed files of an inbox folder, from the ledger: what ingesting the folder again reports
    when none of its files, the config or the ledger changed (a skipped step's warning check says the same)."""
    paths = [path.relative_to(data_dir).as_posix() for path in discover_files(inbox)]
    return [
        FileOutcome(file_id, path, kind, status, reason)
        for file_id, path, status, reason in unapplied_entries(con, kind, paths)
    ]
