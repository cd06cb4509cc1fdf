"""Versions, time travel and diffs (DESIGN 6.1-6.3) over three runs that add, change and remove members."""

from __future__ import annotations

SEGMENT = "-- Subscribed VIPs.\nselect contact_id from contacts where status = 'subscribed' and list_contains(tags, 'vip')\n"


def ids(workspace) -> dict[str, int]:
    return dict(workspace.query("select email, contact_id from contacts_history group by all"))


def rows(workspace, sql, *parameters):
    return sorted(workspace.query(sql, list(parameters)))


def test_time_travel_and_diffs_over_three_runs(workspace):
    workspace.write_segment("vips", SEGMENT)
    # run 1: a, b, c subscribed; a and b are VIPs
    workspace.drop("1.csv", "email,tags,created_at\na@example.com,vip,2026-01-01\nb@example.com,vip,2026-01-01\nc@example.com,,2026-01-01\n")
    workspace.run()
    # run 2: b unsubscribes, d (VIP) arrives, c gets a name
    workspace.drop("2.csv", "email\nb@example.com\n", manifest="mode: unsubscribe\n")
    workspace.drop("3.csv", "email,tags,first_name,created_at\nd@example.com,vip,,2026-01-01\nc@example.com,,Cee,\n")
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
    assert rows(workspace, changes, 1, 3) == [(a, "a@example.com", "removed"), (b, "b@example.com", "removed"), (d, "d@example.com", "added")]
    assert rows(workspace, changes, 3, 1) == [(a, "a@example.com", "added"), (b, "b@example.com", "added"), (d, "d@example.com", "removed")]
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
    assert rows(workspace, contacts_at, 1) == [("a@example.com", "subscribed", None), ("b@example.com", "subscribed", None), ("c@example.com", "subscribed", None)]
    assert rows(workspace, contacts_at, 2) == [
        ("a@example.com", "subscribed", None), ("b@example.com", "unsubscribed", None), ("c@example.com", "subscribed", "Cee"), ("d@example.com", "subscribed", None),
    ]
    assert rows(workspace, contacts_at, 3) == rows(workspace, "select email, status, first_name from contacts")
    assert workspace.one("select tables_changed from versions where version = 1")[0] == ["contacts", "contact_engagement", "list_members", "list_health", "segment_members"]


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
