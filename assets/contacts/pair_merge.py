"""Reviewed merges of two contacts (DESIGN 5.2, README "Merge files"): each accepted row of a loaded merge file
(staging.merge_rows) merges contact `merge_email` into contact `keep_email` (sql/models/merge_pairs.sql), and the
merged address becomes an alias (staging.contact_aliases) whose staged rows, now and in later files, are re-keyed
to the kept address (sql/models/rekey_aliases.sql).

Pairs are applied one by one, in ledger order then row order, because a pair can depend on the one before it (a
chain: A into B, then B into C); merge files are short, reviewed lists. The staged rows a file's pairs read are
taken once per file (sql/models/merge_pair_rows.sql), so a pair costs a few lookups in `staging.contacts`, not
scans of every staged row. A pair is checked
when it is applied, not when its file is read: whether an address is a contact depends on the contact files of
the same run, merged just before. A pair that cannot be applied moves from staging.merge_rows to rejected_rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.config import ContactsConfig
from pipelines.warehouse.connection import registered, run_statements
from pipelines.warehouse.ledger import pending_merge_files, record_pairs_merged
from pipelines.warehouse.render import load_sql, render

REJECT_UNKNOWN_CONTACT = "unknown_contact"
REJECT_SAME_CONTACT = "same_contact"
PAIR_TEMP_TABLES = (
    "pair_addresses",
    "pair_rows",
    "pair_signups",
    "pair_contacts",
    "pair_fields",
    "pair_union",
    "rekey_pairs",
)


@dataclass(frozen=True)
class PairMergeOutcome:
    file_id: int
    path: str
    pairs_merged: int
    pairs_rejected: int


def rekey_pending_rows(con: duckdb.DuckDBPyConnection) -> None:
    """Rows of files not merged yet whose address is an alias take the kept address, before those files are
    merged: a later file of a merged address updates the kept contact, never re-creates the merged one."""
    (first_pending,) = con.execute(
        """select min(file_id) from import_files
           where kind in ('contacts', 'events') and status = 'loaded' and merged_at is null"""
    ).fetchone()
    (aliases,) = con.execute("select count(*) from staging.contact_aliases").fetchone()
    if first_pending is None or not aliases:
        return
    con.execute(
        "create or replace temp table rekey_pairs as select alias_email, kept_email from staging.contact_aliases"
    )
    _rekey(con, first_pending)


def _rekey(con: duckdb.DuckDBPyConnection, from_file_id: int) -> None:
    script = render(load_sql("models/rekey_aliases.sql"))
    run_statements(con, con.extract_statements(script), {"from_file_id": from_file_id})
    con.execute("drop table rekey_pairs")


def apply_pending_merges(
    con: duckdb.DuckDBPyConnection, config: ContactsConfig, log: logging.Logger
) -> list[PairMergeOutcome]:
    """Apply every loaded, not yet applied merge file, in ledger order. Call inside a transaction, after the
    run's contact and event files are merged and their statuses replayed (a pair compares current statuses)."""
    files = pending_merge_files(con)
    if not files:
        return []
    rows_script = con.extract_statements(render(load_sql("models/merge_pair_rows.sql"), fields=config.fields))
    statements = con.extract_statements(render(load_sql("models/merge_pairs.sql"), fields=config.fields))
    outcomes = []
    for position, (file_id, path, loaded_at) in enumerate(files, start=1):
        run_statements(con, rows_script, {"file_id": file_id})
        merged, rejects = _apply_file(con, statements, file_id, loaded_at)
        _reject(con, file_id, rejects)
        record_pairs_merged(con, file_id, merged, len(rejects))
        # Every staged row of the aliases this file made (older rows included) moves to the kept address,
        # before the next file reads its rows.
        con.execute(
            """create or replace temp table rekey_pairs as
               select alias_email, kept_email from staging.contact_aliases where file_id = ?""",
            [file_id],
        )
        _rekey(con, 0)
        outcomes.append(PairMergeOutcome(file_id, path, merged, len(rejects)))
        log.info(
            "[%d/%d] merge file %s: %d pair(s) merged, %d rejected",
            position,
            len(files),
            path,
            merged,
            len(rejects),
        )
    for table in PAIR_TEMP_TABLES:
        con.execute(f"drop table if exists {table}")
    return outcomes


def _apply_file(
    con: duckdb.DuckDBPyConnection, statements: list, file_id: int, loaded_at: dt.datetime
) -> tuple[int, list[dict]]:
    """Apply one file's pairs in row order; returns how many merged and the rejects (reason, detail, raw)."""
    pairs = con.execute(
        "select row_number, keep_email, merge_email from staging.merge_rows where file_id = ? order by row_number",
        [file_id],
    ).fetchall()
    merged, rejects = 0, []
    for row_number, keep, merge in pairs:
        kept, gone = _resolve(con, keep), _resolve(con, merge)
        problem = _problem(con, kept, gone)
        if problem:
            rejects.append(
                {
                    "file_id": file_id,
                    "row_number": row_number,
                    "reason": problem[0],
                    "detail": problem[1],
                    # the pair as read and normalised (the row's cells), like the raw text of other rejects
                    "raw": f"{keep},{merge}",
                }
            )
            continue
        run_statements(
            con,
            statements,
            {"kept": kept, "merged": gone, "file_id": file_id, "row_number": row_number, "at": loaded_at},
        )
        merged += 1
    return merged, rejects


def _resolve(con: duckdb.DuckDBPyConnection, email: str) -> str:
    """The address a contact is kept under: an alias's kept address (always a chain's end), else the address."""
    row = con.execute(
        "select kept_email from staging.contact_aliases where alias_email = ?", [email]
    ).fetchone()
    return row[0] if row else email


def _problem(con: duckdb.DuckDBPyConnection, kept: str, merged: str) -> tuple[str, str] | None:
    """Why a pair cannot be applied, naming the column, never the address; None when it can."""
    if kept == merged:
        return REJECT_SAME_CONTACT, "keep_email and merge_email are already one contact (an earlier merge)"
    known = {
        email
        for (email,) in con.execute(
            "select email from staging.contacts where email in (?, ?)", [kept, merged]
        ).fetchall()
    }
    unknown = [
        column for column, email in (("keep_email", kept), ("merge_email", merged)) if email not in known
    ]
    if unknown:
        return REJECT_UNKNOWN_CONTACT, f"{' and '.join(unknown)}: not a contact"
    return None


def _reject(con: duckdb.DuckDBPyConnection, file_id: int, rejects: list[dict]) -> None:
    if not rejects:
        return
    frame = pl.DataFrame(
        rejects,
        schema={
            "file_id": pl.Int64,
            "row_number": pl.Int64,
            "reason": pl.Utf8,
            "detail": pl.Utf8,
            "raw": pl.Utf8,
        },
    )
    with registered(con, "_pair_rejects", frame):
        con.execute("insert into rejected_rows by name select * from _pair_rejects")
        con.execute(
            """delete from staging.merge_rows
               where file_id = ? and row_number in (select row_number from _pair_rejects)""",
            [file_id],
        )
