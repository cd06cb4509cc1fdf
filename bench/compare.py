"""`compare` mode: the whole refresh job against its floor and against a hand-written peer, in one run.

On the same generated contact and event files: the floor (bench/floor.py: DuckDB alone loading both into
two tables, best of three), the pipeline (the refresh job in process, every asset and check, per step, as
`pipeline` mode runs it) and the peer (bench/peer.py: the pandas script a user would write, in a child
process). The ratios are the issue's targets: the whole job at most 10 times the floor, and at least 3
times faster than the peer.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import duckdb

from bench.floor import best_floor
from bench.generate import DEFAULT_INTERNATIONAL
from bench.pipeline import (
    AS_OF,
    check,
    generate_in_child,
    ledger_checks,
    peak_rss,
    print_generated,
    print_steps,
    run_job,
    warehouse_figures,
    workspace_paths,
)

ROOT = Path(__file__).resolve().parent.parent
# The whole job at most this many times the floor (issue 18): 10x at 2M events, 8x from 10M events on, where
# the job's fixed costs weigh less.
FLOOR_TARGET = 10.0
FLOOR_TARGET_LARGE = 8.0
LARGE_EVENTS = 10_000_000


def floor_target(events: int) -> float:
    return FLOOR_TARGET_LARGE if events >= LARGE_EVENTS else FLOOR_TARGET


PEER_PYTHON = ROOT / ".venv-peer" / "bin" / "python"  # bench/requirements-peer.lock, made by `make bench`
PEER_TARGET = 3.0  # the peer at least this many times slower than the whole job (issue 18)
SHIPPED_ENGAGED_SEGMENT = "engaged-users"  # sql/segments/: opened in 30 days, clicked in 60, subscribed
PEER_STAGES = ("read", "validate", "dedupe", "events", "duckdb", "segment")
log = logging.getLogger("bench")


def run_peer_in_child(contact_dir: Path, event_dir: Path, database: Path) -> dict:
    """bench/peer.py in a fresh interpreter, so that its peak memory (which it reports itself) is its own
    and not this process's, which holds the pipeline's."""
    if not PEER_PYTHON.exists():
        raise SystemExit(
            f"{PEER_PYTHON} is missing: `make bench` creates it from bench/requirements-peer.lock"
        )
    finished = subprocess.run(
        [str(PEER_PYTHON), str(ROOT / "bench" / "peer.py"), str(contact_dir), str(event_dir), str(database)],
        cwd=ROOT,
        stdout=subprocess.PIPE,  # its figures; its warnings and errors go to this process's stderr
        text=True,
        check=True,
    )
    return json.loads(finished.stdout.strip().splitlines()[-1])


def pipeline_segments(warehouse: Path, engaged_days: int) -> dict:
    """The pipeline's segments comparable with the peer's: the shipped engaged segment, and the peer's own
    definition computed on the pipeline's warehouse (subscribed, an open or click in the 90 days to the end
    of the as-of date)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        shipped = con.execute(
            "select count(*) from segment_members where segment_id = ?", [SHIPPED_ENGAGED_SEGMENT]
        ).fetchone()[0]
        same_definition = con.execute(
            f"""select count(*) from contacts join contact_engagement using (contact_id)
                where status = 'subscribed' and greatest(last_open_at, last_click_at)
                      >= (date '{AS_OF}' + interval 1 day)::timestamptz - interval {engaged_days} day"""
        ).fetchone()[0]
    finally:
        con.close()
    return {SHIPPED_ENGAGED_SEGMENT: shipped, "peer_definition": same_definition}


def targets(pipeline_seconds: float, floor_seconds: float, peer_seconds: float, events: int) -> dict:
    to_floor = pipeline_seconds / floor_seconds
    to_peer = peer_seconds / pipeline_seconds
    return {
        "pipeline_to_floor": {
            "ratio": to_floor,
            "target_at_most": floor_target(events),
            "met": to_floor <= floor_target(events),
        },
        "peer_to_pipeline": {"ratio": to_peer, "target_at_least": PEER_TARGET, "met": to_peer >= PEER_TARGET},
    }


def compare_mode(
    work: Path,
    contacts: int,
    events: int,
    files: int,
    seed: int,
    international: float = DEFAULT_INTERNATIONAL,
) -> dict:
    paths = workspace_paths(work / "compare")
    generated, generated_events = generate_in_child(paths, contacts, events, files, seed, international)
    rss_generated = peak_rss()
    # The pipeline first, so that this process's peak memory is the pipeline's: the floor's DuckDB load,
    # run in this process afterwards, cannot raise the figure read at the end of the run.
    log.info("pipeline: the refresh job")
    run = run_job(paths)
    warehouse = warehouse_figures(paths.warehouse)
    log.info("floor: DuckDB read_csv into two tables, best of 3")
    floor = best_floor(generated.files, generated_events.files, work / "floor")
    log.info("peer: pandas + email-validator + DuckDB in a child process")
    peer = run_peer_in_child(paths.contact_inbox, paths.event_inbox, work / "peer.duckdb")
    # the peer's definition, on the pipeline's warehouse; a failed run's segments are not results
    segments = pipeline_segments(paths.warehouse, peer["engaged_days"]) if run.success else {}
    rows = generated.rows + generated_events.rows
    ratios = targets(run.seconds, floor["seconds"], peer["seconds"], events)

    print()
    print(
        f"Compare benchmark: the whole job against DuckDB's bare load and a pandas script, as of {AS_OF}, "
        f"seed {seed}, {international:.1%} of new addresses international"
    )
    print_generated(generated, generated_events)
    print()
    print_totals(floor, run.seconds, peer, rows, ratios)
    print()
    print_steps("pipeline (the refresh job)", run, rows)
    print()
    print_peer(peer)
    print()
    print_memory(run, peer)
    print_segments(peer, segments)
    print()
    print("  sanity checks:")
    checks = [check("run succeeded", run.success, True)]
    checks += ledger_checks(
        warehouse,
        generated.rows,
        generated.invalid_rows,
        generated_events.rows,
        generated_events.invalid_rows,
        generated.valid_distinct,
    )
    checks += [
        check("floor contact rows = generated", floor["contact_rows"], generated.rows),
        check("floor event rows = generated", floor["event_rows"], generated_events.rows),
        check("peer read every contact row", peer["rows"], generated.rows),
        # Both key on email-validator's normalised form lower-cased, so they must agree exactly.
        check("peer contacts = pipeline contacts", peer["contacts"], warehouse["contacts"]),
    ]
    return {
        "generated": {
            "contacts": generated.figures(),
            "events": vars(generated_events) | {"files": len(generated_events.files)},
        },
        "floor": floor | {"rows_per_second": rows / floor["seconds"]},
        "pipeline": run.figures() | {"rows_per_second": rows / run.seconds},
        "peer": peer | {"rows_per_second": rows / peer["seconds"]},
        "ratios": ratios,
        "warehouse": warehouse,
        "segments": {"peer": peer["segment"], "pipeline": segments},
        "peak_rss_mb": {
            "after_generation": rss_generated,
            "pipeline": run.peak_rss["self_mb"],
            "pipeline_steps_max": max(run.step_peak_rss_mb.values(), default=0.0),
            "peer": peer["peak_rss_mb"],
        },
        "checks": checks,
        "ok": all(c["ok"] for c in checks),
    }


def print_totals(floor: dict, pipeline_seconds: float, peer: dict, rows: int, ratios: dict) -> None:
    for label, seconds in (
        ("floor    (DuckDB read_csv -> 2 tables, best of 3)", floor["seconds"]),
        ("pipeline (the whole refresh job)", pipeline_seconds),
        ("peer     (pandas + email-validator + DuckDB)", peer["seconds"]),
    ):
        print(f"  {label:<50} {seconds:8.2f} s  {rows / seconds:>12,.0f} input rows/s")
    print(f"    (floor tries: {', '.join(f'{seconds:.2f}' for seconds in floor['tries_seconds'])} s)")
    to_floor, to_peer = ratios["pipeline_to_floor"], ratios["peer_to_pipeline"]
    print(
        f"  ratio pipeline / floor {to_floor['ratio']:6.1f} x  (target at most {to_floor['target_at_most']:.0f}x: "
        f"{'met' if to_floor['met'] else 'MISSED'})"
    )
    print(
        f"  ratio peer / pipeline  {to_peer['ratio']:6.1f} x  (target at least {PEER_TARGET:.0f}x: "
        f"{'met' if to_peer['met'] else 'MISSED'})"
    )


def print_peer(peer: dict) -> None:
    print(f"  peer: {peer['seconds']:.2f} s, per stage:")
    for stage in PEER_STAGES:
        seconds = peer["stages"][stage]
        print(f"    {stage:<44} {seconds:9.2f} {100 * seconds / peer['seconds']:6.1f}%")
    print(
        f"    rows {peer['rows']:,}, valid {peer['valid']:,}, contacts {peer['contacts']:,}; "
        f"event rows {peer['event_rows']:,}, kept {peer['events']:,} (unparseable times dropped)"
    )


def print_memory(run, peer: dict) -> None:
    print(
        f"  peak RSS: pipeline {run.peak_rss['self_mb']:,.0f} MB (this process, ru_maxrss; the largest step "
        f"{max(run.step_peak_rss_mb.values(), default=0.0):,.0f} MB), peer {peer['peak_rss_mb']:,.0f} MB "
        "(its own process, VmHWM)"
    )


def print_segments(peer: dict, segments: dict) -> None:
    print(
        f"  segment (informational): peer, subscribed with an open or click in the {peer['engaged_days']} days to {AS_OF}: "
        f"{peer['segment']:,}"
    )
    if segments:
        print(
            f"    pipeline, the same definition on its warehouse: {segments['peer_definition']:,}; "
            f"shipped segment {SHIPPED_ENGAGED_SEGMENT} (opened in 30 days, clicked in 60): "
            f"{segments[SHIPPED_ENGAGED_SEGMENT]:,}"
        )
