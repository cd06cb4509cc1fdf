"""Daily runs: a run with no new input skips the steps whose inputs did not change (pipelines/warehouse/
fingerprints.py), and every run still ends where a run from scratch over the same files, as of the same day,
ends: the same day again changes nothing at all, the next day changes only what the day moves, and a new file,
an edited segment, a changed setting or an erasure after skipped runs is still taken up."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from bench.pipeline import compare_warehouses, latest_exports_compared
from pipelines.config import load_config
from pipelines.settings import PROJECT_ROOT
from pipelines.warehouse.connection import transaction
from tests.conftest import Workspace, make_workspace

DAY = "2026-06-30"
NEXT_DAY = "2026-07-01"

# Every row dated, so that two warehouses loaded at other wall-clock times hold the same relations. The dates
# sit on the edges the next day moves: an open leaves the 30-day window, a subscription leaves the 30 days of
# new-subscribers, an account passes 90 days (sunset-candidates) and 6 months (high-value-customers).
CONTACTS = """email,first_name,tags,signup date
ann@example.com,Ann,vip,2026-03-31T09:00:00Z
bob@example.com,Bob,,2026-05-31T09:00:00Z
cat@example.com,Cat,vip,2025-12-31T09:00:00Z
dan@example.com,Dan,,2026-01-15T09:00:00Z
eve@example.com,Eve,vip,2026-06-20T09:00:00Z
fay@example.com,Fay,,2025-06-01T09:00:00Z
"""
EVENTS = """email,event,occurred_at,campaign_id,list,value,url
ann@example.com,open,2026-06-01T10:00:00Z,c1,newsletter,,
ann@example.com,click,2026-06-01T10:05:00Z,c1,newsletter,,https://shop.example/a
cat@example.com,open,2026-06-29T10:00:00Z,c2,newsletter,,
cat@example.com,click,2026-06-29T10:05:00Z,c2,newsletter,,https://shop.example/b
cat@example.com,purchase,2026-01-02T10:00:00Z,,,60,
cat@example.com,purchase,2026-02-02T10:00:00Z,,,60,
cat@example.com,purchase,2026-03-02T10:00:00Z,,,60,
cat@example.com,purchase,2026-04-02T10:00:00Z,,,60,
dan@example.com,delivered,2026-06-15T10:00:00Z,c1,newsletter,,
dan@example.com,unsubscribe,2026-06-16T10:00:00Z,c1,newsletter,,
fay@example.com,open,2026-03-01T10:00:00Z,c0,newsletter,,
"""
NEW_CONTACTS = "email,first_name,tags,signup date\ngus@example.com,Gus,vip,2026-06-30T08:00:00Z\n"
NEW_EVENTS = "email,event,occurred_at\nbob@example.com,open,2026-06-30T11:00:00Z\n"
VIPS = "-- Subscribed VIPs: no as-of date, so a new day leaves it as it is.\nselect contact_id from contacts where status = 'subscribed' and list_contains(tags, 'vip')\n"
STEPS_WITHOUT_AS_OF = ("ledger_and_rejects", "contacts_statuses_and_events", "lists_and_members")


def daily_workspace(root: Path) -> Workspace:
    """The shipped segments (which use the as-of date), one that does not, a contact file and an event file."""
    root.mkdir()
    workspace = make_workspace(root)
    shutil.copytree(PROJECT_ROOT / "sql" / "segments", workspace.paths.segments_dir, dirs_exist_ok=True)
    workspace.write_segment("vips", VIPS)
    workspace.drop("2026-06-contacts.csv", CONTACTS)
    workspace.drop("2026-06-events.csv", EVENTS, folder="events")
    return workspace


def from_scratch(root: Path, like: Workspace, as_of: str) -> Workspace:
    """A fresh data directory with the same config, segments and inbox files, run once as of `as_of`."""
    root.mkdir()
    workspace = make_workspace(root)
    shutil.copyfile(like.paths.config_path, workspace.paths.config_path)
    shutil.copytree(like.paths.segments_dir, workspace.paths.segments_dir, dirs_exist_ok=True)
    shutil.copytree(like.paths.inbox, workspace.paths.inbox, dirs_exist_ok=True)
    workspace.run(as_of=as_of)
    return workspace


@pytest.fixture
def daily(tmp_path) -> Workspace:
    """The first day's run, and the same day again (which skips every step), for a test that goes on from it.
    (Not a copy of one module-wide warehouse: a copied inbox has new inodes, which the listing would see.)"""
    workspace = daily_workspace(tmp_path / "daily")
    workspace.run(as_of=DAY)
    return workspace


def everything(workspace: Workspace) -> dict[str, list]:
    """Every table of the warehouse (main and staging, internal state included), sorted."""
    con = duckdb.connect(str(workspace.paths.warehouse), read_only=True)
    try:
        tables = con.execute(
            """select table_schema || '.' || table_name from information_schema.tables
               where table_type = 'BASE TABLE' and table_catalog = current_database() order by 1"""
        ).fetchall()
        return {name: sorted(con.execute(f"select * from {name}").fetchall(), key=repr) for (name,) in tables}
    finally:
        con.close()


def export_files(workspace: Workspace) -> dict[str, tuple]:
    """Every export file: its content hash and modification time."""
    root = workspace.paths.data_dir / "exports"
    return {
        path.relative_to(root).as_posix(): (
            hashlib.sha256(path.read_bytes()).hexdigest(),
            path.stat().st_mtime_ns,
        )
        for path in root.rglob("*")
        if path.is_file()
    }


def materializations(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    """Asset key -> the metadata values of its materialization in this run."""
    found = {}
    for event in result.all_events:
        if event.is_step_materialization:
            materialization = event.step_materialization_data.materialization
            found["/".join(materialization.asset_key.path)] = {
                key: value.value for key, value in materialization.metadata.items()
            }
    return found


def unchanged_steps(result: dg.ExecuteInProcessResult) -> set[str]:
    return {key for key, metadata in materializations(result).items() if metadata.get("unchanged")}


def check_outcomes(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        f"{'/'.join(evaluation.asset_key.path)}:{evaluation.check_name}": evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
    }


def assert_equal_to(workspace: Workspace, scratch: Workspace) -> None:
    comparison = compare_warehouses(workspace.paths.warehouse, scratch.paths.warehouse)
    differing = {relation: entry for relation, entry in comparison.items() if not entry["match"]}
    assert not differing, differing
    assert comparison["_contact_ids_differing"]["count"] == 0
    exports = latest_exports_compared(workspace.paths.data_dir, scratch.paths.data_dir)
    assert exports and all(exports.values()), exports


def test_the_same_day_again_changes_nothing(daily):
    """No new version, no export file written, not a byte of the warehouse changed; every step says it was
    unchanged and why, and every check ran with the outcome it had."""
    before, files = everything(daily), export_files(daily)
    first = daily.run(as_of=DAY)
    assert everything(daily) == before
    assert export_files(daily) == files
    again = daily.run(as_of=DAY)
    metadata = materializations(again)
    skipped = unchanged_steps(again)
    # every asset a step writes, and the exports: all unchanged (segment_catalog never has work to skip)
    assert set(metadata) - skipped == {"segment_catalog"}, set(metadata) - skipped
    assert all("inputs unchanged since" in metadata[key]["unchanged_because"] for key in skipped)
    assert metadata["contacts"]["version"] is None
    assert check_outcomes(again) == check_outcomes(first) and check_outcomes(again)
    assert all(passed for name, passed in check_outcomes(again).items() if "every_" not in name)


def test_the_next_day_and_a_backfill_between_daily_runs_equal_a_run_from_scratch(daily, tmp_path):
    """The next day redoes only what the day moves and ends as a run from scratch as of it; a run as of the
    earlier day then recomputes that day (and writes backfill files), and the next run as of the newest day
    makes the newest day current again, as the same run from scratch shows."""
    result = daily.run(as_of=NEXT_DAY)
    skipped = unchanged_steps(result)
    # nothing of ingest, merge, status replay, membership or a segment without the as-of date was redone
    assert {"import_files", "contacts", "status_history", "list_members", "segments/vips"} <= skipped
    assert {"contact_engagement", "list_health", "segments/new-subscribers"}.isdisjoint(skipped)
    assert materializations(result)["list_health"]["days_recomputed"] == 1
    scratch = from_scratch(tmp_path / "scratch", daily, NEXT_DAY)
    assert_equal_to(daily, scratch)
    # the day moved something: a run as of the first day would not have given these relations
    assert daily.query("select segment_id from segments where member_count > 0 order by 1") != []
    assert daily.query(
        "select count(*) from segment_members where segment_id = 'new-subscribers'"
    ) != daily.query(
        "select count(*) from segment_members_at('new-subscribers', version_as_of('segment_members', date '2026-06-30'))"
    )
    assert_incremental_metrics_equal_full(daily, dt.date(2026, 7, 1))

    backfill = daily.run(as_of=DAY)
    assert "contact_engagement" not in unchanged_steps(backfill)
    assert any((daily.paths.data_dir / "exports").rglob("backfill/2026-06-30/*.manifest.json"))
    daily.run(as_of=NEXT_DAY)
    assert daily.query("select distinct as_of_date::varchar from contact_engagement") == [(NEXT_DAY,)]
    assert_equal_to(daily, scratch)
    assert_incremental_metrics_equal_full(daily, dt.date(2026, 7, 1))


def assert_incremental_metrics_equal_full(workspace: Workspace, as_of: dt.date) -> None:
    """The day taken from the days computed ahead, and segment_health's rows of the new versions alone, are
    what computing everything again gives."""
    from assets.metrics.health import compute_list_health, compute_segment_health

    config = load_config(workspace.paths.config_path)
    con = duckdb.connect(str(workspace.paths.warehouse))
    try:
        # the days ahead after a day was taken from them reach one day less far than a new computation's
        (until,) = con.execute("select ahead_until from staging.metrics_state").fetchone()
        tables = {
            "staging.list_health": "true",
            "staging.list_health_ahead": f"day <= date '{until}'",
            "segment_health": "true",
        }

        def rows() -> dict:
            return {
                table: con.execute(f"select * from {table} where {where} order by all").fetchall()
                for table, where in tables.items()
            }

        before = rows()
        with transaction(con):
            con.execute("delete from staging.metrics_state")
            con.execute("delete from staging.segment_health_state")
            compute_list_health(con, config, as_of)
            assert compute_segment_health(con, config) == 0  # every version
        assert rows() == before
    finally:
        con.close()
    assert before["segment_health"] and before["staging.list_health_ahead"]


def test_a_new_file_an_edited_segment_a_changed_setting_and_an_erasure_after_skipped_runs_are_taken_up(
    daily, tmp_path
):
    """Each after a run that skipped: every change is seen, and the warehouse ends as a run from scratch."""
    assert "contacts" in unchanged_steps(daily.run(as_of=DAY))
    daily.drop("2026-07-contacts.csv", NEW_CONTACTS)
    daily.drop("2026-07-events.csv", NEW_EVENTS, folder="events")
    result = daily.run(as_of=DAY)
    assert not {"import_files", "contacts", "list_members", "segments/vips"} & unchanged_steps(result)
    assert daily.one("select count(*) from contacts where email = 'gus@example.com'") == (1,)
    assert_equal_to(daily, from_scratch(tmp_path / "scratch", daily, DAY))
    assert "contacts" in unchanged_steps(daily.run(as_of=DAY))
    daily.write_segment(
        "vips",
        "-- VIPs and Bob.\nselect contact_id from contacts where status = 'subscribed' and (list_contains(tags, 'vip') or first_name = 'Bob')\n",
    )
    result = daily.run(as_of=DAY)
    assert {"segments/vips", "exports/segments/vips"}.isdisjoint(unchanged_steps(result))
    assert "segments/engaged-users" in unchanged_steps(result)
    assert ("bob@example.com",) in daily.query("select email from segment_members where segment_id = 'vips'")
    config = daily.paths.config_path
    config.write_text(config.read_text() + "rules:\n  engaged_window_days: 60\n", encoding="utf-8")
    result = daily.run(as_of=DAY)
    assert {"contact_engagement", "list_health", "list_members"}.isdisjoint(unchanged_steps(result))
    assert_equal_to(daily, from_scratch(tmp_path / "scratch-settings", daily, DAY))
    assert "contacts" in unchanged_steps(daily.run(as_of=DAY))
    daily.drop("erase.csv", "email\nann@example.com\n", manifest=None, folder="erasure")
    result = daily.run(as_of=DAY)
    assert not {"import_files", "contacts", "list_members", "contact_engagement"} & unchanged_steps(result)
    assert check_outcomes(result)["contacts:no_erased_address_anywhere"]
    assert daily.one("select count(*) from erasure_log") == (1,)
    for relation in ("contacts", "list_members", "segment_members", "contact_engagement", "events"):
        assert daily.query(f"select count(*) from {relation} where email = 'ann@example.com'") == [(0,)]
    assert not any(
        b"ann@example.com" in path.read_bytes()
        for path in (daily.paths.data_dir / "exports").rglob("*")
        if path.is_file()
    )
    # the run after it skips again, and its checks still pass
    again = daily.run(as_of=DAY)
    assert {"contacts", "erasure_log", "import_files"} <= unchanged_steps(again)
    assert check_outcomes(again)["contacts:no_erased_address_anywhere"]
