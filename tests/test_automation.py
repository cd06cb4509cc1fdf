"""The inbox sensor and the daily schedule, evaluated with Dagster's own test contexts on a tmp_path inbox."""

from __future__ import annotations

import datetime as dt
import shutil
import zoneinfo

import dagster as dg

from pipelines.as_of import AS_OF_TAG
from pipelines.automation import build_daily_schedule, build_inbox_sensor
from pipelines.definitions import REFRESH_JOB


class Ticker:
    """Evaluates the sensor tick after tick, carrying the cursor as the daemon does."""

    def __init__(self, paths):
        self.sensor = build_inbox_sensor(paths, REFRESH_JOB)
        self.cursor = None

    def tick(self) -> list[dg.RunRequest]:
        context = dg.build_sensor_context(cursor=self.cursor)
        result = self.sensor.evaluate_tick(context)
        self.cursor = result.cursor
        return result.run_requests or []


def test_new_file_starts_one_run_and_the_same_content_none(workspace):
    ticker = Ticker(workspace.paths)
    assert ticker.tick() == []  # empty inbox
    workspace.drop("a.csv", "email\na@example.com\n")
    assert ticker.tick() == []  # first sighting: wait one tick to see the size hold
    requests = ticker.tick()
    assert len(requests) == 1 and requests[0].run_key
    assert ticker.tick() == []  # nothing new
    shutil.copyfile(workspace.inbox / "a.csv", workspace.inbox / "copy.csv")
    shutil.copyfile(workspace.inbox / "a.yaml", workspace.inbox / "copy.yaml")
    assert ticker.tick() == [] and ticker.tick() == []  # the same content under another name
    (workspace.inbox / "a.yaml").write_text(
        "consent: confirmed\nsource: fixed\n"
    )  # a changed manifest is new content
    assert ticker.tick() == []
    assert len(ticker.tick()) == 1


def test_growing_file_waits_until_it_settles(workspace):
    ticker = Ticker(workspace.paths)
    events = workspace.paths.event_inbox
    events.mkdir(parents=True)
    path = events / "big.csv"
    path.write_text("email,event,occurred_at\n")
    assert ticker.tick() == []
    with open(path, "a") as handle:
        handle.write("a@example.com,open,2026-06-01T10:00:00Z\n")
    assert ticker.tick() == []  # size changed since the last tick: still being written
    with open(path, "a") as handle:
        handle.write("b@example.com,open,2026-06-01T10:00:00Z\n")
    assert ticker.tick() == []
    assert len(ticker.tick()) == 1  # same size as the tick before: settled


def test_daily_schedule_runs_with_that_days_as_of_date():
    schedule = build_daily_schedule(REFRESH_JOB, "06:30", "Europe/Berlin")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 6 * * *", "Europe/Berlin")
    moment = dt.datetime(2026, 3, 29, 6, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))
    context = dg.build_schedule_context(scheduled_execution_time=moment)
    requests = schedule.evaluate_tick(context).run_requests
    assert [request.tags[AS_OF_TAG] for request in requests] == ["2026-03-29"]


def test_files_already_in_the_ledger_start_no_run(workspace):
    # `make run`, then `make ui`: the sensor's first ticks find only files the ledger has
    workspace.copy_samples()
    workspace.run()
    sensor = build_inbox_sensor(workspace.paths, REFRESH_JOB)
    first = sensor.evaluate_tick(dg.build_sensor_context(cursor=None))
    second = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor))
    assert not first.run_requests and not second.run_requests
    files = sum(1 for p in workspace.paths.inbox.rglob("*") if p.is_file() and p.suffix != ".yaml")
    assert (
        second.skip_message == f"{files} files in the inbox, all already in the ledger: nothing new to load"
    )
    # a new file still starts a run once it has settled
    workspace.drop("later.csv", "email\nlater@example.org\n")
    third = sensor.evaluate_tick(dg.build_sensor_context(cursor=second.cursor))
    fourth = sensor.evaluate_tick(dg.build_sensor_context(cursor=third.cursor))
    assert not third.run_requests and len(fourth.run_requests) == 1
