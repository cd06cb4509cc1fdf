"""Backfills in the warehouse (issue 15, point 1): a run as of an earlier day adds versions that time travel
reads as of that day, and never moves the public views of the as-of relations back."""

from __future__ import annotations

OPEN_IN_JUNE = "email,event,occurred_at\na@example.com,open,2026-06-20T10:00:00Z\n"


AS_OF_RELATIONS = ("contact_engagement", "segment_members", "list_health")


def rows(workspace, relation: str) -> list[tuple]:
    return sorted(workspace.query(f"select * from {relation}"), key=repr)


def members(workspace, relation_sql: str) -> list[str]:
    return [row[0] for row in workspace.query(f"select email from ({relation_sql}) order by email")]


def test_a_backfill_is_read_as_of_its_day_and_leaves_the_current_views(workspace):
    workspace.write_segment("openers", "select contact_id from contact_engagement where opens_30d > 0\n")
    workspace.drop(
        "1.csv", "email,created_at\na@example.com,2026-05-01T08:00:00Z\nb@example.com,2026-05-01T08:00:00Z\n"
    )
    workspace.drop("e.csv", OPEN_IN_JUNE, folder="events")
    workspace.run(as_of="2026-07-15")
    current = {name: rows(workspace, name) for name in AS_OF_RELATIONS}
    assert members(workspace, "select email from segment_members") == ["a@example.com"]

    workspace.drop(
        "2.csv", "email,created_at\nc@example.com,2026-05-02T08:00:00Z\n"
    )  # a file that arrives with the backfill run
    workspace.run(as_of="2026-06-10")  # before the open: nobody had opened in the 30 days up to it
    (backfill_version,) = workspace.one("select max(version) from versions")
    assert workspace.one(
        "select as_of_date::varchar from versions where version = ?", [backfill_version]
    ) == ("2026-06-10",)
    for name, held in current.items():
        assert rows(workspace, name) == held, f"{name} moved back"
    # contacts do not depend on the as-of day: the file loaded by the backfill run is current at once
    assert members(workspace, "select email from contacts") == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    # ...and the backfill is read as of its day
    june = "version_as_of('segment_members', date '2026-06-10')"
    assert workspace.one(f"select {june}") == (backfill_version,)
    assert members(workspace, f"select email from segment_members_at('openers', {june})") == []
    assert workspace.one(
        "select max(as_of_date)::varchar from contact_engagement_at(version_as_of('contact_engagement', date '2026-06-30'))"
    ) == ("2026-06-10",)
    assert workspace.one(
        "select max(day)::varchar from list_health_at(version_as_of('list_health', date '2026-06-10'))"
    ) == ("2026-06-10",)
    assert workspace.one("select max(day)::varchar from list_health") == ("2026-07-15",)

    workspace.run(as_of="2026-07-15")  # the next daily run brings in what the backfill run loaded
    assert members(workspace, "select email from contact_engagement") == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    # segment_health orders changes by as-of day: the backfill's day sits before July's, and the July run
    # after it is no exit-and-re-entry of the same member
    health = workspace.query(
        "select v.as_of_date::varchar, size, entered, exited from segment_health join versions v using (version) "
        "where segment_id = 'openers' order by v.as_of_date, version"
    )
    assert health[0] == ("2026-06-10", 0, 0, 0)
    assert all(row[3] == 0 for row in health[1:]) and sum(row[2] for row in health) == 1


def test_a_run_that_finds_the_backfills_rows_right_makes_them_current(workspace):
    # The backfill run loads c; the next run as of the newest day computes the same segment rows as the
    # backfill did, so nothing changes, yet the public view must show them (not the state before the backfill).
    workspace.write_segment("everyone", "select contact_id from contacts\n")
    workspace.drop("1.csv", "email\na@example.com\nb@example.com\n")
    workspace.run(as_of="2026-07-15")
    workspace.drop("2.csv", "email\nc@example.com\n")
    workspace.run(as_of="2026-06-10")
    assert members(workspace, "select email from segment_members") == ["a@example.com", "b@example.com"]
    workspace.run(as_of="2026-07-15")
    assert members(workspace, "select email from segment_members") == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    assert workspace.one(
        "select as_of_date::varchar from versions where version = current_version('segment_members')"
    ) == ("2026-07-15",)
