"""What became of the files of a run, for the asset checks that warn about the ones not applied."""

from __future__ import annotations

import dagster as dg

from assets.ingest.context import FileOutcome


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
