"""Erasure (right to be forgotten, DESIGN 3.4 and 6.4).

An erased address leaves every relation, the status history, staged rows, rejects, field issues and
events. A salted SHA-256 tombstone in `suppressions` (and the erasure log) is all that stays, so that a
later import of the address is rejected with reason `erased`. A DELETE leaves the old values readable in
the DuckDB file's free blocks, so the file is then rewritten with COPY FROM DATABASE and swapped in.
The inbox belongs to the user and is never touched; the run reports which inbox files still hold an
erased address.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import polars as pl

from assets.readers import FileFailed, read_file
from assets.staging import StagedFile
from pipelines.warehouse import erasure_salt, registered

# Rows of these tables are removed by address; field issues and rejects are removed by the rows they describe.
ADDRESS_TABLES = (
    "staging.contacts", "contacts_history", "staging.contact_engagement", "contact_engagement_history",
    "staging.list_members", "list_members_history", "staging.segment_members", "segment_members_history",
    "status_history", "staging.contact_rows", "staging.event_rows", "staging.resubscribe_blocked",
)


def erase_addresses(ctx, staged: StagedFile, file_id: int) -> None:
    """Apply one erasure request file; runs inside that file's transaction."""
    con: duckdb.DuckDBPyConnection = ctx.con
    addresses = staged.rows.select("email").unique()
    if not addresses.height:
        return
    with registered(con, "_erase", addresses):
        _erase_registered(con, ctx)
    ctx.erased.update(addresses.get_column("email").to_list())


def _erase_registered(con: duckdb.DuckDBPyConnection, ctx) -> None:
    """The deletes, with the addresses to erase registered as `_erase`."""
    con.execute(
        """create or replace temp table erase_forms as
           select email as form from _erase
           union select c.email_ascii from contacts_history c join _erase using (email) where c.email_ascii is not null"""
    )
    # Rows that go, per source file, so the ledger still adds up (rows_total = accepted + rejected, of
    # which rows_erased are gone from the warehouse).
    con.execute(
        """create or replace temp table erase_rows as
           select file_id, row_number from staging.contact_rows where email in (select email from _erase)
           union all
           select file_id, row_number from staging.event_rows where email in (select email from _erase)
           union all
           select file_id, row_number from rejected_rows r
           where r.raw is not null and exists (select 1 from erase_forms f where contains(lower(r.raw), f.form))"""
    )
    con.execute(
        """update import_files f set rows_erased = coalesce(f.rows_erased, 0) + e.n
           from (select file_id, count(*) as n from erase_rows group by file_id) e
           where f.file_id = e.file_id"""
    )
    con.execute("delete from field_issues where (file_id, row_number) in (select (file_id, row_number) from erase_rows)")
    con.execute("delete from rejected_rows where (file_id, row_number) in (select (file_id, row_number) from erase_rows)")
    for table in ADDRESS_TABLES:
        con.execute(f"delete from {table} where email in (select email from _erase)")
    con.execute(
        """delete from staging.email_verdicts
           where email in (select form from erase_forms) or email_ascii in (select form from erase_forms)
              or lower(prepared) in (select form from erase_forms)"""
    )
    salt = erasure_salt(con)
    con.execute("delete from suppressions where email in (select email from _erase)")
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


def rewrite_pending(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("select count(*) from staging.maintenance where name = 'erasure_rewrite' and pending").fetchall()[0][0])


def rewrite_done(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("update staging.maintenance set pending = false where name = 'erasure_rewrite'")


def rewrite_database(path: Path) -> None:
    """Copy the warehouse into a fresh file and swap it in, so deleted values leave the bytes on disk.
    Call with no other connection open."""
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


def inbox_files_mentioning(inbox_folders: list[Path], addresses: set[str]) -> list[Path]:
    """Inbox files that still contain an erased address (any case), for the user to delete or edit."""
    if not addresses:
        return []
    wanted = {address.lower() for address in addresses}
    found = []
    for folder in inbox_folders:
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
            try:
                parsed = read_file(path)
            except (FileFailed, OSError):
                continue
            cells = pl.concat([parsed.column(index) for index in range(len(parsed.header))]).drop_nulls().str.to_lowercase()
            text = "\n".join(cells.to_list() + [p.raw.lower() for p in parsed.problems])
            if any(address in text for address in wanted):
                found.append(path)
    return found
