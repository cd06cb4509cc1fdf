"""A run replays the status of only the addresses its new files mention, and ends where a full replay of
every fact would: same status history, statuses, consent, suppressions and blocked-resubscribe counts."""

from __future__ import annotations

import datetime as dt
import logging

import duckdb

from assets.contacts.merge import drop_temp_tables, replay_status
from pipelines.config import load_config
from pipelines.warehouse.connection import transaction
from tests.conftest import THROUGH_METRICS

STATUS_TABLES = {
    "status_history": "select * from status_history",
    "contacts": "select * exclude (updated_at) from staging.contacts",
    "suppressions": "select * from suppressions",
    "blocked": "select path, resubscribe_blocked from import_files",
}

LATE_CONTACTS = """email,first_name,signup date,status
alice@example.com,Alice,2026-01-01,
bob@example.org,Bobby,2026-05-20,subscribed
new.one@example.com,New,2026-06-10,
new.two@example.com,Two,2026-06-11,unsubscribed
"""

LATE_EVENTS = """email,event,occurred_at
alice@example.com,unsubscribe,2026-06-15T08:00:00
new.one@example.com,soft_bounce,2026-06-12T08:00:00
new.one@example.com,soft_bounce,2026-06-13T08:00:00
new.one@example.com,soft_bounce,2026-06-14T08:00:00
oscar@example.com,confirm,2026-06-20T08:00:00
stranger@example.net,complaint,2026-06-21T08:00:00
"""


def snapshot(con) -> dict[str, list]:
    return {name: sorted(con.execute(sql).fetchall(), key=repr) for name, sql in STATUS_TABLES.items()}


def test_partial_replay_equals_full_replay(workspace):
    workspace.copy_samples()
    workspace.run(only=THROUGH_METRICS)
    workspace.drop("2026-06-late.csv", LATE_CONTACTS)
    workspace.drop("2026-06-late-events.csv", LATE_EVENTS, folder="events")
    result = workspace.run(only=THROUGH_METRICS)
    replayed = result.asset_materializations_for_node("contacts_statuses_and_events")
    replayed = next(
        m.metadata["addresses_replayed"].value for m in replayed if m.asset_key.path == ["status_history"]
    )
    assert replayed == 6  # the addresses the two new files mention
    assert workspace.one("select count(distinct email) from status_history")[0] > replayed

    con = duckdb.connect(str(workspace.paths.warehouse))
    try:
        partial = snapshot(con)
        with transaction(con):
            assert (
                replay_status(con, load_config(workspace.paths.config_path), dt.datetime.now(dt.UTC)) is None
            )
        drop_temp_tables(con)
        full = snapshot(con)
    finally:
        con.close()
    for name in STATUS_TABLES:
        assert partial[name] == full[name], name
    # the new facts took effect
    assert ("new.one@example.com", "bounced") in {(row[0], row[1]) for row in full["status_history"]}


def test_incremental_list_health_equals_full_recompute(workspace):
    """list_health after a run that recomputed only touched days and the engagement islands of the
    contacts the new files mention equals list_health recomputed from nothing."""
    from assets.metrics.health import compute_list_health

    workspace.copy_samples()
    workspace.run(only=THROUGH_METRICS)
    workspace.drop("2026-06-late.csv", LATE_CONTACTS)
    late_opens = "new.one@example.com,open,2026-06-16T08:00:00\nivan@example.de,open,2026-06-17T08:00:00\n"
    workspace.drop("2026-06-late-events.csv", LATE_EVENTS + late_opens, folder="events")
    workspace.run(only=THROUGH_METRICS)
    con = duckdb.connect(str(workspace.paths.warehouse))
    try:
        incremental = con.execute("select * from staging.list_health order by all").fetchall()
        islands = con.execute("select * from staging.engagement_islands order by all").fetchall()
        with transaction(con):
            con.execute("delete from staging.metrics_state")  # forget what was computed: a full recompute
            compute_list_health(con, load_config(workspace.paths.config_path), dt.date(2026, 6, 30))
        assert con.execute("select * from staging.list_health order by all").fetchall() == incremental
        assert con.execute("select * from staging.engagement_islands order by all").fetchall() == islands
    finally:
        con.close()
    assert incremental and islands


def test_a_file_that_failed_and_then_loads_counts_as_new(workspace):
    """A file that failed (its manifest names a list the config lacks) and loads unchanged once the list
    exists gets a new ledger id, so the steps that look for files loaded since their last run see it."""
    manifest = "consent: confirmed\nmode: subscribe\nlists: [vip-list]\n"
    workspace.drop("a.csv", "email,signup date\nann@example.com,2026-01-01\n")
    workspace.run(only=THROUGH_METRICS)
    workspace.drop("b.csv", "email,signup date\nvip.one@example.com,2026-01-02\n", manifest=manifest)
    workspace.run(only=THROUGH_METRICS)
    failed_id, status = workspace.one("select file_id, status from import_files where path like '%b.csv'")
    assert status == "failed"
    config = workspace.paths.config_path
    config.write_text(
        config.read_text().replace(
            "  customers: {name: Customers}\n", "  customers: {name: Customers}\n  vip-list: {name: VIP}\n"
        )
    )
    workspace.run(only=THROUGH_METRICS)
    rows = workspace.query("select file_id, status from import_files where path like '%b.csv'")
    assert len(rows) == 1 and rows[0][1] == "loaded" and rows[0][0] > failed_id
    assert workspace.one("select max(file_id) from import_files")[0] == rows[0][0]
    # its contact reached the daily figures, though list_health had been computed after the failed attempt
    assert (
        workspace.one("select members from list_health where list_id = 'all' and day = date '2026-06-30'")[0]
        == 2
    )


def recomputed(result) -> dict[str, int]:
    """The addresses_recomputed metadata of list_members and contact_engagement in a run."""
    found = {}
    for node in ("lists_and_members", "contact_engagement"):
        for materialization in result.asset_materializations_for_node(node):
            if "addresses_recomputed" in materialization.metadata:
                found[materialization.asset_key.path[-1]] = materialization.metadata[
                    "addresses_recomputed"
                ].value
    return found


def recompute_everything(con, config_path, as_of: dt.date) -> None:
    """Forget what list membership and engagement were computed from, and compute them for every address."""
    from assets.audience.lists import rebuild_list_members
    from assets.contacts.engagement import compute_engagement

    config = load_config(config_path)
    with transaction(con):
        con.execute("delete from staging.derived_state")
        assert rebuild_list_members(con, config) is None
        assert compute_engagement(con, config, as_of) is None


def test_scoped_list_members_and_engagement_equal_a_full_recompute(workspace):
    """A run recomputes membership and engagement of just the addresses its new files mention, and ends
    where recomputing every address would."""
    workspace.copy_samples()
    workspace.run(only=THROUGH_METRICS)
    workspace.drop(
        "2026-06-late.csv",
        LATE_CONTACTS,
        manifest="consent: confirmed\nmode: subscribe\nlists: [customers]\n",
    )
    late = "new.one@example.com,open,2026-06-16T08:00:00\nivan@example.de,click,2026-06-17T08:00:00\n"
    workspace.drop("2026-06-late-events.csv", LATE_EVENTS + late, folder="events")
    result = workspace.run(only=THROUGH_METRICS)
    assert recomputed(result) == {
        "list_members": 7,
        "contact_engagement": 7,
    }  # the addresses the two new files mention

    tables = ("staging.list_members", "staging.contact_engagement")
    con = duckdb.connect(str(workspace.paths.warehouse))
    try:
        scoped = {table: con.execute(f"select * from {table} order by all").fetchall() for table in tables}
        recompute_everything(con, workspace.paths.config_path, dt.date(2026, 6, 30))
        for table in tables:
            assert con.execute(f"select * from {table} order by all").fetchall() == scoped[table], table
    finally:
        con.close()
    # the new facts took effect: alice unsubscribed, new.one joined customers and opened
    members = set(workspace.query("select list_id, email from list_members"))
    assert ("customers", "new.one@example.com") in members and (
        "subscribed",
        "alice@example.com",
    ) not in members
    assert workspace.one("select opens_30d from contact_engagement where email = 'new.one@example.com'") == (
        1,
    )


def test_another_as_of_date_recomputes_every_contact(workspace):
    workspace.copy_samples()
    workspace.run(as_of="2026-06-30", only=THROUGH_METRICS)
    result = workspace.run(as_of="2026-07-31", only=THROUGH_METRICS)
    assert recomputed(result) == {"list_members": 0, "contact_engagement": -1}  # -1: every contact
    assert workspace.query("select distinct as_of_date::varchar from contact_engagement") == [("2026-07-31",)]


def test_files_loaded_but_not_merged_are_seen_by_the_next_scoped_run(workspace):
    """Membership computed while a file waits for its merge (lists materialized on its own) still picks up
    that file's addresses once it is merged."""
    from assets.audience.lists import rebuild_list_members
    from assets.ingest.context import KIND_CONTACTS, IngestContext
    from assets.ingest.inbox import ingest_folder
    from assets.validation.emails import EmailValidatorCache

    workspace.copy_samples()
    workspace.run(only=THROUGH_METRICS)
    workspace.drop("2026-06-late.csv", LATE_CONTACTS)
    config = load_config(workspace.paths.config_path)
    con = duckdb.connect(str(workspace.paths.warehouse))
    try:
        ctx = IngestContext(
            con,
            workspace.paths.data_dir,
            config,
            EmailValidatorCache(False),
            dt.datetime.now(dt.UTC),
            logging.getLogger("test"),
        )
        outcomes = ingest_folder(
            ctx, workspace.inbox, KIND_CONTACTS
        )  # the samples' failed and held files are tried again
        assert [o.status for o in outcomes if o.path.endswith("2026-06-late.csv")] == ["loaded"]
        with transaction(con):
            assert (
                rebuild_list_members(con, config) is None
            )  # a file waits for its merge: everything, recorded before it
    finally:
        con.close()
    workspace.run(only=THROUGH_METRICS)
    assert ("all", "new.two@example.com") in set(workspace.query("select list_id, email from list_members"))
