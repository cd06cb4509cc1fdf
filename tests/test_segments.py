"""Segments: the sandbox, lineage, failures that stay alone, and the segment lifecycle (DESIGN 7)."""

from __future__ import annotations

import datetime as dt

import pytest

from assets.audience.segments import SegmentError, SegmentFile, run_sandboxed
from tests.conftest import step_failures

GOOD = "-- Everyone subscribed.\nselect contact_id from contacts where status = 'subscribed'\n"


def step_key(segment_id: str) -> str:
    return "segments__" + segment_id.replace("-", "_").replace(" ", "_")


def payloads(tmp_path):
    target = tmp_path / "pwned"
    return {
        "read-csv": ("select * from read_csv('/etc/passwd')", "may not call the table function read_csv()"),
        "file-as-table": (
            "select * from '/etc/passwd'",
            "reads '/etc/passwd', which is not a known relation",
        ),
        "glob": ("select * from glob('/tmp/*')", "may not call the table function glob()"),
        "copy-to": (
            f"copy (select contact_id, email from contacts) to '{target}.csv'",
            "must be a SELECT query, not COPY",
        ),
        "attach": (f"attach '{target}.duckdb' as pwned", "must be a SELECT query, not ATTACH"),
        "install": ("install httpfs", "must be a SELECT query, not LOAD"),
        "load": ("load httpfs", "must be a SELECT query, not LOAD"),
        "delete": ("delete from contacts", "must be a SELECT query, not DELETE"),
        "drop": ("drop table contacts", "must be a SELECT query, not DROP"),
        "insert": (
            "insert into staging.contacts select * from staging.contacts",
            "must be a SELECT query, not INSERT",
        ),
        "set": ("set enable_external_access = true", "must be a SELECT query, not SET"),
        "two-statements": (
            "select contact_id from contacts; select 1 as contact_id",
            "must be exactly one statement, found 2",
        ),
        "pragma": ("pragma database_list", "must be a SELECT query, not PRAGMA"),
        "call": ("call pragma_version()", "must be a SELECT query, not CALL"),
        "staging": ("select contact_id from staging.contacts", "may not name a schema or database"),
        "query-table": (
            "select * from query_table('contacts')",
            "may not call the table function query_table()",
        ),
        "cte-read-csv": (
            "with x as (select * from read_csv_auto('/etc/hosts')) select 1 as contact_id from x",
            "read_csv_auto()",
        ),
        "subquery-file": (
            "select contact_id from contacts where email in (select * from '/etc/hosts')",
            "not a known relation",
        ),
    }


def test_every_payload_is_refused_and_nothing_is_written(workspace, tmp_path):
    workspace.drop("a.csv", "email\nx@example.com\n")
    workspace.write_segment("good", GOOD)
    cases = payloads(tmp_path)
    for segment_id, (sql, _) in cases.items():
        workspace.write_segment(segment_id, sql)
    files_before = {p for p in tmp_path.rglob("*") if "data" not in p.relative_to(tmp_path).parts}

    result = workspace.run(expect_success=False)
    failures = step_failures(result)
    for segment_id, (_, reason) in cases.items():
        message = failures.get(step_key(segment_id))
        assert message is not None, (segment_id, sorted(failures))
        assert message.startswith(f"{segment_id}.sql: ") and reason in message, (segment_id, message)
    assert len(failures) == len(cases)  # everything else succeeded, the good segment included
    assert workspace.query("select segment_id, member_count from segments") == [("good", 1)]
    # nothing was written: no new file anywhere outside the data directory, no table dropped or emptied
    assert {p for p in tmp_path.rglob("*") if "data" not in p.relative_to(tmp_path).parts} == files_before
    assert workspace.one("select count(*) from contacts") == (1,)


def test_runtime_layer_refuses_file_access_even_when_parsing_is_bypassed(workspace, tmp_path):
    workspace.drop("a.csv", "email\nx@example.com\n")
    workspace.run()
    smuggled = SegmentFile(
        "smuggled",
        tmp_path / "smuggled.sql",
        "select 1 as contact_id from read_csv('/etc/passwd')",
        "0" * 64,
        "",
    )
    with pytest.raises(SegmentError, match="smuggled.sql: .*(Permission|disabled)"):
        run_sandboxed(workspace.paths.warehouse, smuggled, dt.date(2026, 6, 30))
    slow = SegmentFile(
        "slow",
        tmp_path / "slow.sql",
        "select count(*) as contact_id from range(10000000000) t(i) where hash(i) = 7",
        "0" * 64,
        "",
    )
    with pytest.raises(SegmentError, match="slow.sql: took longer than 0.5 s and was stopped"):
        run_sandboxed(workspace.paths.warehouse, slow, dt.date(2026, 6, 30), time_limit=0.5)


def test_broken_segments_fail_alone_with_file_and_reason(workspace):
    workspace.drop("a.csv", "email\nx@example.com\n")
    workspace.write_segment("good", GOOD)
    workspace.write_segment("loop-a", "select contact_id from segment('loop-b')")
    workspace.write_segment("loop-b", "select contact_id from segment('loop-a')")
    workspace.write_segment("typo", "select contact_id from contacts where statuss = 'subscribed'")
    workspace.write_segment("no-id", "select email from contacts")
    workspace.write_segment("missing-ref", "select contact_id from segment('nowhere')")
    workspace.write_segment("Bad Name", GOOD)
    failures = step_failures(workspace.run(expect_success=False))
    assert (
        failures[step_key("loop-a")]
        == "loop-a.sql: segments depend on each other in a cycle: loop-a -> loop-b -> loop-a"
    )
    assert (
        failures[step_key("loop-b")]
        == "loop-b.sql: segments depend on each other in a cycle: loop-a -> loop-b -> loop-a"
    )
    assert failures[step_key("typo")].startswith("typo.sql: ") and "statuss" in failures[step_key("typo")]
    assert (
        failures[step_key("no-id")]
        == "no-id.sql: the query must return a contact_id column (it returns email)"
    )
    assert (
        failures[step_key("missing-ref")]
        == "missing-ref.sql: segment('nowhere') names no file sql/segments/nowhere.sql"
    )
    assert "must match [a-z0-9][a-z0-9_-]*" in failures[step_key("Bad Name")]
    assert workspace.query("select segment_id, member_count from segments") == [("good", 1)]


def test_segments_build_on_segments_and_use_the_as_of_date(workspace):
    workspace.drop("a.csv", "email,created_at\nold@example.com,2026-01-01\nnew@example.com,2026-06-20\n")
    workspace.write_segment(
        "recent",
        "-- Created in the last 30 days.\nselect contact_id from contacts where created_at >= as_of_date() - interval 30 day",
    )
    workspace.write_segment(
        "recent-old",
        "select contact_id from contacts where contact_id not in (select contact_id from segment('recent'))",
    )
    workspace.run(as_of="2026-06-30")

    def members():
        return dict(
            workspace.query("select segment_id, list(email order by email) from segment_members group by all")
        )

    assert members() == {"recent": ["new@example.com"], "recent-old": ["old@example.com"]}
    workspace.run(as_of="2026-08-30")
    assert members() == {"recent-old": ["new@example.com", "old@example.com"]}


def test_segment_lifecycle_edit_and_retire(workspace):
    workspace.drop("a.csv", "email\nx@example.com\ny@example.com\n")
    path = workspace.write_segment("everyone", GOOD)
    workspace.run()
    # editing the file makes a new version of its membership, even when the members are the same
    path.write_text(GOOD.replace("Everyone subscribed.", "All subscribed contacts."))
    workspace.run()
    assert workspace.query("select version, tables_changed from versions order by version")[-1][1] == [
        "segment_members"
    ]
    assert workspace.one("select description, version from segments") == ("All subscribed contacts.", 2)
    # deleting it retires it: not current any more, still in history
    path.unlink()
    workspace.run()
    assert workspace.query("select * from segments") == []
    assert workspace.query("select count(*) from segment_members") == [(0,)]
    assert workspace.one("select count(*) from segment_members_at('everyone', 2)") == (2,)
    assert workspace.one("select retired_version from staging.segment_catalog") == (3,)
    assert sorted(c for _, _, c in workspace.query("select * from segment_changes('everyone', 2, 3)")) == [
        "removed",
        "removed",
    ]
