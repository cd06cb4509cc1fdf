"""Versions, time travel and diffs (DESIGN 6.1-6.3) over three runs that add, change and remove members."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from pipelines.warehouse.versioning import VERSIONED, VersionedRelation, publish

SEGMENT = "-- Subscribed VIPs.\nselect contact_id from contacts where status = 'subscribed' and list_contains(tags, 'vip')\n"


def ids(workspace) -> dict[str, int]:
    return dict(workspace.query("select email, contact_id from contacts_history group by all"))


def rows(workspace, sql, *parameters):
    return sorted(workspace.query(sql, list(parameters)))


def test_time_travel_and_diffs_over_three_runs(workspace):
    workspace.write_segment("vips", SEGMENT)
    # run 1: a, b, c subscribed; a and b are VIPs
    workspace.drop(
        "1.csv",
        "email,tags,created_at\na@example.com,vip,2026-01-01\nb@example.com,vip,2026-01-01\nc@example.com,,2026-01-01\n",
    )
    workspace.run()
    # run 2: b unsubscribes, d (VIP) arrives, c gets a name
    workspace.drop("2.csv", "email\nb@example.com\n", manifest="mode: unsubscribe\n")
    workspace.drop(
        "3.csv", "email,tags,first_name,created_at\nd@example.com,vip,,2026-01-01\nc@example.com,,Cee,\n"
    )
    workspace.run()
    # run 3: a unsubscribes
    workspace.drop("4.csv", "email\na@example.com\n", manifest="mode: unsubscribe\n")
    workspace.run()
    # run 4: nothing new, so no new version
    workspace.run()

    assert [v for (v,) in workspace.query("select version from versions order by version")] == [1, 2, 3]
    assert workspace.query("select distinct as_of_date::varchar from versions") == [("2026-06-30",)]
    i = ids(workspace)
    a, b, c, d = (i[f"{name}@example.com"] for name in "abcd")

    members = "select contact_id from segment_members_at('vips', ?)"
    assert rows(workspace, members, 1) == [(a,), (b,)]
    assert rows(workspace, members, 2) == [(a,), (d,)]
    assert rows(workspace, members, 3) == [(d,)]
    changes = "select contact_id, email, change from segment_changes('vips', ?, ?)"
    assert rows(workspace, changes, 1, 2) == [(b, "b@example.com", "removed"), (d, "d@example.com", "added")]
    assert rows(workspace, changes, 2, 3) == [(a, "a@example.com", "removed")]
    assert rows(workspace, changes, 1, 3) == [
        (a, "a@example.com", "removed"),
        (b, "b@example.com", "removed"),
        (d, "d@example.com", "added"),
    ]
    assert rows(workspace, changes, 3, 1) == [
        (a, "a@example.com", "added"),
        (b, "b@example.com", "added"),
        (d, "d@example.com", "removed"),
    ]
    assert rows(workspace, changes, 2, 2) == []

    subscribed = "select contact_id from list_members_at('subscribed', ?)"
    assert rows(workspace, subscribed, 1) == [(a,), (b,), (c,)]
    assert rows(workspace, subscribed, 2) == [(a,), (c,), (d,)]
    assert rows(workspace, subscribed, 3) == [(c,), (d,)]
    list_changes = "select contact_id, change from list_changes('subscribed', ?, ?)"
    assert rows(workspace, list_changes, 1, 2) == [(b, "removed"), (d, "added")]
    assert rows(workspace, list_changes, 2, 3) == [(a, "removed")]
    assert rows(workspace, list_changes, 1, 3) == [(a, "removed"), (b, "removed"), (d, "added")]
    # static-list membership does not depend on status: the newsletter only grows
    assert rows(workspace, list_changes.replace("'subscribed'", "'newsletter'"), 1, 3) == [(d, "added")]

    contacts_at = "select email, status, first_name from contacts_at(?)"
    assert rows(workspace, contacts_at, 1) == [
        ("a@example.com", "subscribed", None),
        ("b@example.com", "subscribed", None),
        ("c@example.com", "subscribed", None),
    ]
    assert rows(workspace, contacts_at, 2) == [
        ("a@example.com", "subscribed", None),
        ("b@example.com", "unsubscribed", None),
        ("c@example.com", "subscribed", "Cee"),
        ("d@example.com", "subscribed", None),
    ]
    assert rows(workspace, contacts_at, 3) == rows(
        workspace, "select email, status, first_name from contacts"
    )
    assert workspace.one("select tables_changed from versions where version = 1")[0] == [
        "contacts",
        "contact_engagement",
        "list_members",
        "contact_predictions",
        "prediction_backtest",
        "list_health",
        "segment_members",
    ]


def test_storage_grows_with_change_not_with_versions(workspace):
    lines = "".join(f"person{n}@example.com,,2026-01-01\n" for n in range(300))
    workspace.drop("1.csv", "email,first_name,created_at\n" + lines)
    workspace.run()

    def history_rows():
        return {
            table: workspace.one(f"select count(*) from {table}_history")[0]
            for table in ("contacts", "list_members", "segment_members", "contact_engagement", "list_health")
        }

    before = history_rows()
    workspace.drop("2.csv", "email,first_name\nperson7@example.com,Seven\n")
    workspace.run()
    after = history_rows()
    # one contact changed: one new contacts row (the old one is closed in place), nothing else moves
    assert after == {**before, "contacts": before["contacts"] + 1}
    assert workspace.one("select count(*) from contacts_history where valid_to_version is not null") == (1,)
    assert workspace.one("select count(*) from versions") == (2,)


def test_publish_diff_by_key_closes_and_adds_exactly_the_changed_rows(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema staging")
    con.execute("create table staging.things (id bigint, name varchar, tags varchar[], score double)")
    con.execute(
        "create table things_history as select *, null::bigint as valid_from_version, null::bigint as valid_to_version from staging.things"
    )
    con.execute(
        "create table versions (version bigint, run_id varchar, as_of_date date, created_at timestamptz, tables_changed varchar[])"
    )
    VERSIONED["things"] = VersionedRelation("things", "staging.things", ("id",))
    try:
        day = dt.date(2026, 6, 30)
        con.execute(
            "insert into staging.things values (1, 'a', ['x'], 1.0), (2, null, [], null), (3, 'c', null, 3.0), (4, 'd', ['y'], 4.0)"
        )
        assert publish(con, "things", "r1", day) == 1
        assert publish(con, "things", "r2", day) is None  # nothing changed, no version
        # 1 unchanged; 2 null -> value; 3 value -> null and a list null -> value; 4 removed; 5 added
        con.execute("update staging.things set name = 'b' where id = 2")
        con.execute("update staging.things set name = null, tags = ['z'] where id = 3")
        con.execute("delete from staging.things where id = 4")
        con.execute("insert into staging.things values (5, 'e', [], 5.0)")
        assert publish(con, "things", "r3", day) == 2
        history = con.execute(
            "select id, name, valid_from_version, valid_to_version from things_history order by id, valid_from_version"
        ).fetchall()
        assert history == [
            (1, "a", 1, None),
            (2, None, 1, 2),
            (2, "b", 2, None),
            (3, "c", 1, 2),
            (3, None, 2, None),
            (4, "d", 1, 2),
            (5, "e", 2, None),
        ]
        current = "select * exclude (valid_from_version, valid_to_version) from things_history where valid_to_version is null"
        assert sorted(con.execute(current).fetchall()) == sorted(
            con.execute("select * from staging.things").fetchall()
        )

        # a key twice in the working table is refused, whether the key is current or new
        con.execute("insert into staging.things values (1, 'again', [], 0.0)")
        with pytest.raises(RuntimeError, match="holds a key"):
            publish(con, "things", "r4", day)
        con.execute("delete from staging.things where name = 'again'")
        con.execute("insert into staging.things values (6, 'f', [], 0.0), (6, 'g', [], 0.0)")
        with pytest.raises(RuntimeError, match="holds a key"):
            publish(con, "things", "r4", day)
    finally:
        del VERSIONED["things"]
        con.close()
