"""One statement of the schema: the frames that feed a table take its columns, types and nullability from
sql/models/schema.sql, and the history tables take theirs from the working tables."""

from __future__ import annotations

from assets.validation.frame_schemas import contact_row_schema, event_row_schema, issue_schema, reject_schema
from pipelines.config import ContactsConfig
from pipelines.warehouse.catalog import column_types
from pipelines.warehouse.connection import connect
from pipelines.warehouse.schema import declared_columns, ensure_schema
from pipelines.warehouse.versioning import VERSIONED

CONFIG = ContactsConfig.model_validate({"fields": {"plan": {"type": "text"}, "score": {"type": "integer"}}})


def test_frames_have_the_columns_of_the_tables_they_feed(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    ensure_schema(con, CONFIG)
    try:
        real = {t: list(column_types(con, t)) for t in ("staging.contact_rows", "staging.event_rows")}
        assert list(contact_row_schema(CONFIG).columns) == real["staging.contact_rows"]
        assert list(event_row_schema().columns) == real["staging.event_rows"]
        assert list(reject_schema()) == list(column_types(con, "rejected_rows"))
        assert list(issue_schema()) == list(column_types(con, "field_issues"))
        # nullability as declared: the DDL's NOT NULL is the frame's nullable=False
        declared = {c.name: c.nullable for c in declared_columns("staging.event_rows")}
        assert {name: col.nullable for name, col in event_row_schema().columns.items()} == declared
        # every versioned relation's history holds its working table's columns, then the interval
        for relation in VERSIONED.values():
            working = column_types(con, relation.working)
            history = column_types(con, f"{relation.name}_history")
            assert {k: history[k] for k in working} == working, relation.name
    finally:
        con.close()


def test_a_warehouse_of_an_earlier_release_gains_the_new_columns(tmp_path):
    """`create table if not exists` leaves an old table as it is; the columns the schema gained since are
    added (nullable), so an upgrade needs no migration step."""
    con = connect(tmp_path / "w.duckdb")
    try:
        ensure_schema(con, CONFIG)
        con.execute(
            "insert into import_files (file_id, path, kind, sha256, status) values (1, 'a', 'events', 'x', 'loaded')"
        )
        con.execute("drop view if exists events")  # the view reads the columns dropped below
        for column in ("message_id", "tags", "machine_open", "service_event"):
            con.execute(f"alter table staging.event_rows drop column {column}")
        con.execute("alter table import_files drop column format")
        con.execute(
            "create view events as select email, event from staging.event_rows"
        )  # as an old release had it
        ensure_schema(con, CONFIG)
        assert {"message_id", "tags", "machine_open", "service_event"} <= set(
            column_types(con, "staging.event_rows")
        )
        assert con.execute("select path, format from import_files").fetchall() == [("a", None)]
        assert "machine_open" in {row[0] for row in con.execute("describe events").fetchall()}
    finally:
        con.close()
