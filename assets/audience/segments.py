"""SQL-defined segments (DESIGN 7): discovery, the sandbox, and membership.

A segment is `sql/segments/<segment_id>.sql`: one SELECT returning `contact_id`, reading the public
relations and other segments through `segment('<id>')`, with `as_of_date()` for the run's as-of date.

The sandbox has two layers. Before anything runs, DuckDB's own parser (json_serialize_sql) must see exactly
one SELECT whose tables are all known relations or its own CTEs, and whose only table functions are
`segment`, `unnest`, `range` and `generate_series`. Then the query runs on a read-only connection with
external access off, no allowed directories, configuration locked, and a time limit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipelines.vocabulary import SEGMENT_RELATIONS
from pipelines.warehouse.connection import memory_limit, registered, release
from pipelines.warehouse.versioning import VERSIONED

SEGMENT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
ALLOWED_TABLE_FUNCTIONS = {"segment", "unnest", "range", "generate_series"}
TIME_LIMIT_SECONDS = 60.0


class SegmentError(Exception):
    """A segment that cannot be used; the message names the file and the reason."""


@dataclass
class SegmentFile:
    segment_id: str
    path: Path
    sql: str
    sql_sha256: str
    description: str
    relations: set[str] = field(default_factory=set)
    references: set[str] = field(default_factory=set)  # other segments, through segment('<id>')
    problem: str | None = None


def description_of(sql: str) -> str:
    """The first comment line, without its dashes."""
    for line in sql.splitlines():
        stripped = line.strip()
        if stripped.startswith("--"):
            return stripped.lstrip("-").strip()
        if stripped:
            break
    return ""


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def parse_segment_sql(sql: str) -> tuple[set[str], set[str]]:
    """The relations and the segments a query reads; SegmentError when the sandbox refuses it."""
    con = duckdb.connect()
    try:
        statements = con.extract_statements(sql)
        if len(statements) != 1:
            raise SegmentError(f"must be exactly one statement, found {len(statements)}")
        if statements[0].type != duckdb.StatementType.SELECT:
            raise SegmentError(f"must be a SELECT query, not {statements[0].type.name}")
        tree = json.loads(con.execute("select json_serialize_sql(?)", [sql]).fetchall()[0][0])
    except duckdb.Error as exc:
        raise SegmentError(f"does not parse: {exc}") from None
    finally:
        con.close()
    if tree.get("error"):
        raise SegmentError(f"does not parse: {tree.get('error_message')}")

    cte_names = {
        entry["key"] for node in _walk(tree) if "cte_map" in node for entry in node["cte_map"]["map"]
    }
    relations: set[str] = set()
    references: set[str] = set()
    for node in _walk(tree):
        kind = node.get("type")
        if kind == "BASE_TABLE":
            name = node["table_name"]
            if node.get("catalog_name") or node.get("schema_name"):
                raise SegmentError(
                    f"may not name a schema or database ({node.get('schema_name') or node.get('catalog_name')}.{name})"
                )
            if name in cte_names:
                continue
            if name not in SEGMENT_RELATIONS:
                raise SegmentError(
                    f"reads {name!r}, which is not a known relation (known: {', '.join(sorted(SEGMENT_RELATIONS))})"
                )
            relations.add(name)
        elif kind == "TABLE_FUNCTION":
            function = node["function"]
            name = function.get("function_name", "")
            if name not in ALLOWED_TABLE_FUNCTIONS or function.get("schema"):
                raise SegmentError(
                    f"may not call the table function {name}(); read relations, or other segments with segment('<id>')"
                )
            if name == "segment":
                arguments = [argument.get("expression", {}) for argument in function.get("arguments", [])]
                literal = (
                    arguments[0].get("literal", {})
                    if len(arguments) == 1 and arguments[0].get("class") == "CONSTANT"
                    else {}
                )
                if literal.get("kind") != "STRING":
                    raise SegmentError("segment() takes one quoted segment id, e.g. segment('engaged-users')")
                references.add(literal["text"])
    return relations, references


def uses_as_of_date(sql: str) -> bool:
    """Whether the query calls as_of_date() (then a new as-of date can change its members). Read from DuckDB's
    parse tree; the text is looked at too, so that a query the parser cannot read counts as using it."""
    if re.search(r"as_of_date\W*\(", sql, re.IGNORECASE):
        return True
    con = duckdb.connect()
    try:
        tree = json.loads(con.execute("select json_serialize_sql(?)", [sql]).fetchall()[0][0])
    except duckdb.Error:
        return True
    finally:
        con.close()
    return bool(tree.get("error")) or any(
        node.get("class") == "FUNCTION" and str(node.get("function_name", "")).lower() == "as_of_date"
        for node in _walk(tree)
    )


def discover_segments(folder: Path) -> list[SegmentFile]:
    """Every `*.sql` in the folder, parsed; a file the sandbox refuses keeps its problem for its asset to report."""
    segments = []
    if not folder.is_dir():
        return segments
    for path in sorted(folder.glob("*.sql")):
        segment_id = path.stem
        sql = path.read_text(encoding="utf-8")
        segment = SegmentFile(
            segment_id, path, sql, hashlib.sha256(sql.encode()).hexdigest(), description_of(sql)
        )
        if not SEGMENT_ID.match(segment_id):
            segment.problem = f"{path.name}: the segment id {segment_id!r} must match [a-z0-9][a-z0-9_-]*"
        else:
            try:
                segment.relations, segment.references = parse_segment_sql(sql)
            except SegmentError as exc:
                segment.problem = f"{path.name}: {exc}"
        segments.append(segment)
    by_id = {segment.segment_id: segment for segment in segments}
    for segment in segments:
        missing = sorted(reference for reference in segment.references if reference not in by_id)
        if missing and segment.problem is None:
            segment.problem = (
                f"{segment.path.name}: segment('{missing[0]}') names no file sql/segments/{missing[0]}.sql"
            )
    for cycle in find_cycles({s.segment_id: s.references & set(by_id) for s in segments}):
        for segment_id in cycle:
            by_id[
                segment_id
            ].problem = f"{by_id[segment_id].path.name}: segments depend on each other in a cycle: {' -> '.join(cycle + [cycle[0]])}"
            by_id[
                segment_id
            ].references = set()  # keeps the asset graph acyclic; the asset fails with the reason
    return segments


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each cycle once, as the list of nodes along it."""
    cycles, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target) :])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def run_sandboxed(
    warehouse: Path, segment: SegmentFile, as_of: dt.date, time_limit: float = TIME_LIMIT_SECONDS
) -> list[int]:
    """The segment's distinct contact_ids, computed on a locked-down read-only connection.
    Call with no read-write connection to the warehouse open in this process; the run's held instance closes."""
    release(warehouse)
    con = duckdb.connect(str(warehouse), read_only=True, config={"memory_limit": memory_limit()})
    timer = threading.Timer(time_limit, con.interrupt)
    try:
        con.execute(f"create temp macro as_of_date() as date '{as_of.isoformat()}'")
        for relation in VERSIONED.values():
            # The run's own state (temp names come first): in a backfill the public views go on showing
            # the newest as-of day, but this run's segments are computed as of its own day.
            hidden = f" exclude ({', '.join(relation.hidden)})" if relation.hidden else ""
            con.execute(f"create temp view {relation.name} as select *{hidden} from {relation.working}")
        con.execute(
            "create temp macro segment(id) as table select contact_id from segment_members where segment_id = id"
        )
        con.execute("set allowed_directories = []")
        con.execute("set enable_external_access = false")
        con.execute("set lock_configuration = true")
        timer.start()
        query = f"({segment.sql.rstrip().rstrip(';')}\n) as segment_query"
        try:
            columns = [column[0] for column in con.execute(f"select * from {query} limit 0").description]
            if "contact_id" not in columns:
                raise SegmentError(
                    f"{segment.path.name}: the query must return a contact_id column (it returns {', '.join(columns)})"
                )
            rows = con.execute(f"select distinct contact_id from {query}").fetchall()
        except duckdb.InterruptException:
            raise SegmentError(
                f"{segment.path.name}: took longer than {time_limit:g} s and was stopped"
            ) from None
        except duckdb.Error as exc:
            raise SegmentError(f"{segment.path.name}: {exc}") from None
    finally:
        timer.cancel()
        con.close()
    return [row[0] for row in rows if row[0] is not None]


def store_membership(
    con: duckdb.DuckDBPyConnection, segment: SegmentFile, contact_ids: list[int]
) -> tuple[int, int]:
    """Replace the segment's working rows and catalog entry; returns how many members entered and exited.
    Call inside a transaction. The ids go over as one Arrow column (a list parameter of a million ids costs
    a second)."""
    ids = pl.DataFrame({"contact_id": contact_ids}, schema={"contact_id": pl.Int64})
    with registered(con, "_segment_ids", ids):
        entered, exited = con.execute(
            """with before as (select contact_id from staging.segment_members where segment_id = $id)
               select (select count(*) from _segment_ids anti join before using (contact_id)),
                      (select count(*) from before anti join _segment_ids using (contact_id))""",
            {"id": segment.segment_id},
        ).fetchall()[0]
        # Rows of members who stay are kept when the SQL is the same (a daily run moves a few hundred of a
        # million): a contact's email never changes (it is the identity key), so they are what a rewrite
        # would write again.
        con.execute(
            "delete from staging.segment_members where segment_id = $id and sql_sha256 <> $sha",
            {"id": segment.segment_id, "sha": segment.sql_sha256},
        )
        con.execute(
            """delete from staging.segment_members
               where segment_id = $id and contact_id not in (select contact_id from _segment_ids)""",
            {"id": segment.segment_id},
        )
        con.execute(
            """insert into staging.segment_members
               select $id, c.contact_id, c.email, $sha from staging.contacts c
               where c.contact_id in (
                   select contact_id from _segment_ids
                   anti join (select contact_id from staging.segment_members where segment_id = $id) using (contact_id)
               )""",
            {"id": segment.segment_id, "sha": segment.sql_sha256},
        )
    con.execute(
        """insert or replace into staging.segment_catalog (segment_id, description, sql_sha256, path, retired_version)
           values (?, ?, ?, ?, null)""",
        [segment.segment_id, segment.description, segment.sql_sha256, segment.path.name],
    )
    return entered, exited
