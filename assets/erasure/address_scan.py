"""Where addresses can be in the warehouse, found from the catalog rather than from a list of tables.

Every column of every base table (main, history, staging, caches) whose type can carry text (VARCHAR,
lists of it, JSON, STRUCT, MAP, UNION, BLOB) is a place an address can be. Values are lower-cased and
`%40` is read as `@` (an address inside a URL), then broken into address tokens in three ways: the
whole trimmed value (a column that holds exactly one address, whatever characters its local part
uses), maximal runs of the characters a local part may hold (`o'brien@...` in free text), and runs
without the characters that separate URL parameters and quote values (`?email=erin@...`,
`{'e': 'erin@...'}`). A row holds an address when one of its tokens equals it; containment alone
would let `ann@example.org` match `joann@example.org`.

Erasure deletes the rows that hold an erased address; the `no_erased_address_anywhere` check hashes
every token against the tombstones. A table added tomorrow is covered by both without a change here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import idna

# Column types that can hold an address somewhere in their value.
TEXT_TYPE = re.compile(r"VARCHAR|JSON|STRUCT|MAP|UNION|BLOB")
LOCAL_PART = r"[\pL\pN\pM.!#$%&'*+/=?^_`{|}~-]+"
LOCAL_PART_NO_URL = r"[\pL\pN\pM.!#$%*+^_`{|}~-]+"
DOMAIN = r"[\pL\pN\pM-]+(?:\.[\pL\pN\pM-]+)*"
# Tables that record the pipeline's own work (the ledger, versions, state, catalogs): they keep their
# rows, must hold no address, and have any found redacted in place instead.
LEDGER_TABLES = frozenset(
    {
        "main.import_files",
        "main.versions",
        "main.erasure_log",
        "main.list_health_history",
        "main.segment_health",
        "staging.secrets",
        "staging.maintenance",
        "staging.derived_state",
        "staging.metrics_state",
        "staging.replay_state",
        "staging.list_catalog",
        "staging.segment_catalog",
        "staging.list_health",
    }
)
REDACTED = "[erased]"


@dataclass(frozen=True)
class TextTable:
    name: str  # schema-qualified
    columns: tuple[tuple[str, str], ...]  # (column, DuckDB type)
    has_row_key: bool  # file_id and row_number: the rows describe input rows

    @property
    def is_ledger(self) -> bool:
        return self.name in LEDGER_TABLES


def text_tables(con: duckdb.DuckDBPyConnection) -> list[TextTable]:
    """Every base table of the warehouse with a column that can carry text."""
    rows = con.execute(
        """select t.schema_name || '.' || t.table_name, list((c.column_name, c.data_type) order by c.column_index),
                  bool_or(c.column_name = 'file_id') and bool_or(c.column_name = 'row_number')
           from duckdb_tables() t
           join duckdb_columns() c using (database_name, schema_name, table_name)
           where t.database_name = current_database() and not t.temporary and not t.internal
           group by all order by 1"""
    ).fetchall()
    tables = []
    for name, columns, has_row_key in rows:
        text = tuple((column, kind) for column, kind in columns if TEXT_TYPE.search(kind))
        if text:
            tables.append(TextTable(name, text, bool(has_row_key)))
    return tables


def quoted(name: str) -> str:
    return ".".join(f'"{part}"' for part in name.split("."))


def tokens_of_text_sql(text: str) -> str:
    """The address tokens of a lower-cased text expression with `%40` read as `@`."""
    # Most values are one plain address, whose three tokens are the value itself: no extraction needed.
    return (
        f"case when regexp_full_match({text}, {sql_string(LOCAL_PART_NO_URL + '@' + DOMAIN)}) then [{text}] "
        f"else list_distinct(list_concat([trim({text})], regexp_extract_all({text}, {sql_string(LOCAL_PART + '@' + DOMAIN)}), "
        f"regexp_extract_all({text}, {sql_string(LOCAL_PART_NO_URL + '@' + DOMAIN)}))) end"
    )


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def may_hold_address_sql(column: str) -> str:
    """A cheap filter before the token work: most text (names, tags, codes) has no `@` at all."""
    text = f'cast("{column}" as varchar)'
    return f"(contains({text}, '@') or contains(lower({text}), '%40'))"


def values_sql(relation: str, columns: list[str], row_id: str = "rowid", tag: int = 0) -> str:
    """(t, rid, text) for every value of the columns that may hold an address, lower-cased, `%40` as `@`."""
    return " union all ".join(
        f"select {tag} as t, {row_id} as rid, replace(lower(cast(\"{column}\" as varchar)), '%40', '@') as text "
        f"from {relation} where {may_hold_address_sql(column)}"
        for column in columns
    )


@contextmanager
def address_tokens(con: duckdb.DuckDBPyConnection, values: str) -> Iterator[None]:
    """The temp table `_address_tokens (t, rid, token)` of a `(t, rid, text)` query (values_sql), for the
    duration of the block. The values are materialized first and the token expression applied once, over
    all of them: over a union, DuckDB pushes the expression into every branch and compiles its regular
    expressions once per column (which cost more than the scan itself on a warehouse of ordinary size)."""
    con.execute(f"create or replace temp table _address_values as {values}")
    try:
        con.execute(
            f"""create or replace temp table _address_tokens as
                select t, rid, unnest({tokens_of_text_sql("text")}) as token from _address_values"""
        )
        yield
    finally:
        con.execute("drop table if exists _address_tokens")
        con.execute("drop table if exists _address_values")


def table_values_sql(table: TextTable, tag: int) -> str:
    return values_sql(quoted(table.name), [column for column, _ in table.columns], tag=tag)


def rows_holding(
    con: duckdb.DuckDBPyConnection, tables: list[TextTable], forms_relation: str
) -> dict[str, list[int]]:
    """Per table, the rowids of the rows with a token in `forms_relation` (one column `form`, lower case)."""
    if not tables:
        return {}
    with address_tokens(
        con, " union all ".join(table_values_sql(table, i) for i, table in enumerate(tables))
    ):
        rows = con.execute(
            f"""select t, list(distinct rid) from _address_tokens
                where token in (select form from {forms_relation}) group by t"""
        ).fetchall()
    return {tables[index].name: rids for index, rids in rows}


def unicode_form(token: str) -> str | None:
    """`erin@xn--bcher-kva.example` -> `erin@bücher.example`, the form tombstones are hashed from."""
    local, _, domain = token.rpartition("@")
    try:
        return f"{local}@{idna.decode(domain)}"
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def tombstone_hashes(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        row[0]
        for row in con.execute("select email_sha256 from suppressions where reason = 'erased'").fetchall()
    }


def erased_address_traces(con: duckdb.DuckDBPyConnection, salt: str) -> dict[str, int]:
    """Rows per table holding an address whose salted hash is a tombstone, IDNA forms included, from one
    pass over the candidate values of every table."""
    tombstones = tombstone_hashes(con)
    tables = text_tables(con)
    if not tombstones or not tables:
        return {}
    values = " union all ".join(table_values_sql(table, index) for index, table in enumerate(tables))
    return {
        tables[index].name: found
        for index, found in _erased_rows_by_tag(con, values, salt, tombstones).items()
    }


def erased_rows(con: duckdb.DuckDBPyConnection, values: str, salt: str, tombstones: set[str]) -> int:
    """How many distinct rids of a `(t, rid, text)` query (values_sql) hold an erased address
    (`tombstones`: from tombstone_hashes)."""
    if not tombstones:
        return 0
    return sum(_erased_rows_by_tag(con, values, salt, tombstones).values())


def _erased_rows_by_tag(con, values: str, salt: str, tombstones: set[str]) -> dict[int, int]:
    """Distinct rids per tag holding an erased address. Each distinct token is hashed once; IDNA tokens
    are decoded first, as tombstones are hashed from the Unicode form."""
    with address_tokens(con, values):
        hits = con.execute(
            """select distinct t, token from _address_tokens
               where sha256($salt || token) in (select email_sha256 from suppressions where reason = 'erased')""",
            {"salt": salt},
        ).fetchall()
        for index, token in con.execute(
            "select distinct t, token from _address_tokens where contains(token, 'xn--')"
        ).fetchall():
            form = unicode_form(token)
            if form and hashlib.sha256((salt + form).encode()).hexdigest() in tombstones:
                hits.append((index, token))
        if not hits:
            return {}
        return dict(
            con.execute(
                """select t, count(distinct rid) from _address_tokens
                   where (t, token) in (select unnest($tags), unnest($tokens)) group by t""",
                {"tags": [t for t, _ in hits], "tokens": [token for _, token in hits]},
            ).fetchall()
        )


def redact_sql(table: TextTable, column: str, kind: str) -> str:
    """Replace an address in a ledger table's value, keeping the row; a type regexp_replace cannot
    reach (JSON, STRUCT, ...) is cleared instead."""
    if kind == "VARCHAR":
        new = f"regexp_replace(\"{column}\", $pattern, '{REDACTED}', 'gi')"
    elif kind == "VARCHAR[]":
        new = f"list_transform(\"{column}\", lambda x: regexp_replace(x, $pattern, '{REDACTED}', 'gi'))"
    else:
        return (
            f'update {quoted(table.name)} set "{column}" = null where rowid in (select rid from _redact)'
            f" and regexp_matches(cast(\"{column}\" as varchar), $pattern, 'i')"
        )
    return f'update {quoted(table.name)} set "{column}" = {new} where rowid in (select rid from _redact) and "{column}" is not null'


def forms_pattern(forms: list[str]) -> str:
    """A regular expression matching any of the forms, `@` also written `%40`."""
    return "|".join(
        re.escape(form).replace("@", "(?:@|%40)") for form in sorted(forms, key=len, reverse=True)
    )
