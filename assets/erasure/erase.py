"""Erasure (right to be forgotten, DESIGN 3.4 and 6.4).

An erased address leaves every table of the warehouse that can hold text, found from the catalog:
current relations, their history, staged rows, rejects, field issues, events and caches such as the
email verdicts. A salted SHA-256 tombstone in `suppressions` (and the erasure log) is all that stays, so that a
later import of the address is rejected with reason `erased`. A DELETE leaves the old values readable in
the DuckDB file's free blocks, so the file is then rewritten with COPY FROM DATABASE and swapped in.
The inbox belongs to the user and is never touched; the run reports which inbox files still hold an
erased address.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb
import polars as pl

from assets.erasure.address_scan import (
    REDACTED,
    TextTable,
    forms_pattern,
    quoted,
    redact_sql,
    rows_holding,
    text_tables,
)
from assets.ingest.parsed_file import FileFailed
from assets.ingest.read_ahead import read_and_parse
from assets.validation.contact_rows import StagedFile
from pipelines.config import Limits
from pipelines.warehouse.connection import registered, release
from pipelines.warehouse.ledger import record_erased_rows
from pipelines.warehouse.tombstones import erasure_salt

# The stores of input rows, whose erased rows the ledger counts (rows_total = accepted + rejected, of
# which rows_erased are gone from the warehouse).
INPUT_ROW_TABLES = ("staging.contact_rows", "staging.event_rows", "staging.merge_rows", "main.rejected_rows")


def erase_addresses(ctx, staged: StagedFile, file_id: int) -> None:
    """Apply one erasure request file; runs inside that file's transaction."""
    con: duckdb.DuckDBPyConnection = ctx.con
    addresses = staged.rows.select("email", "email_ascii").unique()
    if not addresses.height:
        return
    addresses = _with_aliases(con, addresses)
    with registered(con, "_erase", addresses):
        _erase_registered(con, ctx)
    ctx.erased.update(addresses.get_column("email").to_list())
    ctx.erased_forms.update(
        form.lower() for form in addresses.unpivot().get_column("value").drop_nulls().to_list()
    )


def _with_aliases(con: duckdb.DuckDBPyConnection, addresses: pl.DataFrame) -> pl.DataFrame:
    """The addresses with every other address of the same person (README "Merge files"): an alias stands for
    the contact it was merged into, so erasing either address erases the contact and all its aliases. A
    merge is one person's two addresses; keeping one would keep the person."""
    (aliases,) = con.execute("select count(*) from staging.contact_aliases").fetchone()
    if not aliases:
        return addresses
    with registered(con, "_asked", addresses):
        return con.sql(
            """with kept as (
                   select coalesce(a.kept_email, q.email) as email
                   from _asked q left join staging.contact_aliases a on a.alias_email = q.email
               ),
               person as (
                   select email, email_ascii from _asked
                   union all
                   select c.email, c.email_ascii from staging.contacts c where c.email in (select email from kept)
                   union all
                   select email, null from kept
                   union all
                   select alias_email, alias_email_ascii from staging.contact_aliases
                   where kept_email in (select email from kept)
               )
               select email, max(email_ascii) as email_ascii from person group by email order by email"""
        ).pl()


def _erase_registered(con: duckdb.DuckDBPyConnection, ctx) -> None:
    """Every row of every table that holds one of the addresses (registered as `_erase`) goes, found by
    walking the catalog (assets/erasure/address_scan.py); ledger tables keep their rows with the address redacted."""
    # Every spelling that can stand for the address: its Unicode and IDNA forms, and the raw values the
    # email-verdict cache knows normalise to it (a provider alias, different case, a mailto: prefix).
    con.execute(
        """create or replace temp table erase_forms as
           with known as (select lower(email) as form from _erase
                          union select lower(email_ascii) from _erase where email_ascii is not null)
           select form from known
           union select lower(v.email_ascii) from staging.email_verdicts v where lower(v.email) in (select form from known) and v.email_ascii is not null
           union select lower(trim(v.prepared)) from staging.email_verdicts v
                 where lower(v.email) in (select form from known) or lower(v.email_ascii) in (select form from known)"""
    )
    tables = text_tables(con)
    holding = rows_holding(con, [table for table in tables if not table.is_ledger], "erase_forms")
    con.execute("create or replace temp table erase_rows (file_id bigint, row_number bigint)")
    for table in INPUT_ROW_TABLES:
        if holding.get(table):
            con.execute(
                f"insert into erase_rows select file_id, row_number from {table} where rowid in (select unnest($rids))",
                {"rids": holding[table]},
            )
    record_erased_rows(con, "erase_rows")
    forms = [row[0] for row in con.execute("select form from erase_forms").fetchall()]
    for table in tables:
        if table.is_ledger:
            _redact(con, table, forms)
            continue
        if holding.get(table.name):
            con.execute(
                f"delete from {quoted(table.name)} where rowid in (select unnest($rids))",
                {"rids": holding[table.name]},
            )
        if table.has_row_key:
            # Rows about an erased input row go even when they do not quote the address (a field issue's raw date).
            con.execute(
                f"delete from {quoted(table.name)} where (file_id, row_number) in (select (file_id, row_number) from erase_rows)"
            )
    salt = erasure_salt(con)
    con.execute(
        """insert into suppressions (email, email_sha256, reason, since)
           select null, sha256($salt || email), 'erased', $now from _erase
           where sha256($salt || email) not in (select email_sha256 from suppressions where reason = 'erased')""",
        {"salt": salt, "now": ctx.now},
    )
    con.execute(
        """insert into erasure_log (email_sha256, erased_at)
           select sha256($salt || email), $now from _erase""",
        {"salt": salt, "now": ctx.now},
    )
    con.execute("drop table erase_forms")
    con.execute("drop table erase_rows")
    # In the same transaction as the deletes: the file rewrite (and export regeneration) is owed until done,
    # even if this run is killed before it gets there.
    con.execute("insert or replace into staging.maintenance values ('erasure_rewrite', true)")


def _redact(con: duckdb.DuckDBPyConnection, table: TextTable, forms: list[str]) -> None:
    """A ledger row keeps its place; the address goes from its text. Matched as a substring, not as a
    token: a redacted neighbour's text costs nothing here, a missed file name like
    `from-ann@example.org.csv` would keep the address."""
    pattern = forms_pattern(forms)
    matches = " or ".join(
        f"regexp_matches(cast(\"{column}\" as varchar), $pattern, 'i')" for column, _ in table.columns
    )
    rowids = [
        row[0]
        for row in con.execute(
            f"select rowid from {quoted(table.name)} where {matches}", {"pattern": pattern}
        ).fetchall()
    ]
    if not rowids:
        return
    with registered(con, "_redact", pl.DataFrame({"rid": rowids}, schema={"rid": pl.Int64})):
        for column, kind in table.columns:
            con.execute(redact_sql(table, column, kind), {"pattern": pattern})


def rewrite_pending(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "select count(*) from staging.maintenance where name = 'erasure_rewrite' and pending"
        ).fetchall()[0][0]
    )


def rewrite_done(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("update staging.maintenance set pending = false where name = 'erasure_rewrite'")


def rewrite_database(path: Path) -> None:
    """Copy the warehouse into a fresh file and swap it in, so deleted values leave the bytes on disk.
    Call with no other connection open; the run's held instance closes."""
    release(path)
    fresh = path.with_name(path.name + ".rewrite")
    for leftover in (fresh, Path(str(fresh) + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        con.execute(f"attach '{path}' as old (read_only)")
        con.execute(f"attach '{fresh}' as fresh")
        con.execute("copy from database old to fresh")
        con.execute("detach old")
        con.execute("detach fresh")
    finally:
        con.close()
    os.replace(fresh, path)
    Path(str(path) + ".wal").unlink(missing_ok=True)


def inbox_files_mentioning(inbox_folders: list[Path], addresses: set[str], limits: Limits) -> list[Path]:
    """Inbox files that still contain an erased address (any case, Unicode or IDNA form) in their content
    or their name, for the user to delete or edit."""
    if not addresses:
        return []
    wanted = {address.lower() for address in addresses}
    found = []
    for folder in inbox_folders:
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
            if any(address in path.name.lower() for address in wanted):
                found.append(path)
                continue
            try:
                parsed = read_and_parse(path, limits).parsed_or_raise()
            except (FileFailed, OSError):
                continue  # beyond a limit or unreadable: it never loaded, so it holds nothing of the warehouse
            cells = (
                pl.concat([parsed.column(index) for index in range(len(parsed.header))])
                .drop_nulls()
                .str.to_lowercase()
            )
            text = "\n".join(cells.to_list() + [p.raw.lower() for p in parsed.problems])
            if any(address in text for address in wanted):
                found.append(path)
    return found


def redacted(text: str, forms: set[str]) -> str:
    """`text` with each erased spelling replaced, for messages that name a file called after an address."""
    return re.sub(forms_pattern(sorted(forms)), REDACTED, text, flags=re.IGNORECASE) if forms else text
