"""The ledger `import_files`: one row per inbox file (path + content hash) with its outcome and row counts.

Every write to it is here, so its rules are in one place: a file loaded after an earlier attempt gets a new
id (ids are the ledger's order; incremental steps find the files loaded since their last run by id); a
held, failed or skipped file's row is rewritten in place when a retry gives a new reason; the merge and the
status replay record their counts per file. (Erasure redacts an erased address from the ledger's text like
from any other table, through the catalog: assets/erasure/erase.py.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

# The outcomes of a file that was not applied; a loaded file is recorded by record_loaded.
UNAPPLIED = ("held", "failed", "skipped")


@dataclass(frozen=True)
class LedgerFile:
    """What the ledger knows of a file before it is applied: where it is, what it is, what it says of itself
    (from its manifest)."""

    path: str
    kind: str
    sha256: str
    mode: str | None = None
    source: str | None = None
    lists: list[str] | None = None


@dataclass(frozen=True)
class LoadedCounts:
    encoding: str | None
    delimiter: str | None
    rows_total: int
    rows_accepted: int
    rows_rejected: int
    ignored_columns: list[str] | None
    format: str | None = None  # the sending service or contact-export preset the file was read as


def next_file_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("select coalesce(max(file_id), 0) + 1 from import_files").fetchone()[0]


def entry_for(con: duckdb.DuckDBPyConnection, path: str, sha256: str) -> tuple[int, str] | None:
    """(file_id, status) of this path with this content, when the ledger has it."""
    return con.execute(
        "select file_id, status from import_files where path = ? and sha256 = ?", [path, sha256]
    ).fetchone()


def loaded_twin(con: duckdb.DuckDBPyConnection, sha256: str, kind: str) -> tuple[int, str] | None:
    """(file_id, path) of the first loaded file of this kind with the same content."""
    return con.execute(
        "select file_id, path from import_files where sha256 = ? and kind = ? and status = 'loaded' order by file_id limit 1",
        [sha256, kind],
    ).fetchone()


def is_done(con: duckdb.DuckDBPyConnection, path: str) -> bool:
    """Whether a file under this path was loaded or skipped (some content of it)."""
    (done,) = con.execute(
        "select count(*) from import_files where path = ? and status in ('loaded', 'skipped')", [path]
    ).fetchall()[0]
    return done > 0


def record_unapplied(
    con: duckdb.DuckDBPyConnection,
    file: LedgerFile,
    existing_id: int | None,
    status: str,
    reason: str,
    at: dt.datetime,
) -> int:
    """The row of a held, failed or skipped file; rewritten in place when a retry gives a new reason."""
    assert status in UNAPPLIED, status
    if existing_id is not None:
        con.execute(
            """update import_files set status = ?, reason = ?, loaded_at = ?
               where file_id = ? and (status, reason) is distinct from (?, ?)""",
            [status, reason, at, existing_id, status, reason],
        )
        return existing_id
    file_id = next_file_id(con)
    con.execute(
        """insert into import_files (file_id, path, kind, sha256, status, reason, loaded_at, mode, source, lists)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [file_id, file.path, file.kind, file.sha256, status, reason, at, file.mode, file.source, file.lists],
    )
    return file_id


def record_loaded(
    con: duckdb.DuckDBPyConnection,
    file_id: int,
    file: LedgerFile,
    existing_id: int | None,
    counts: LoadedCounts,
    at: dt.datetime,
) -> None:
    """The row of a loaded file, in the transaction that stores its rows; it replaces the row of an earlier
    attempt (held or failed) under another id."""
    if existing_id is not None:
        con.execute("delete from import_files where file_id = ?", [existing_id])
    con.execute(
        """insert into import_files (file_id, path, kind, sha256, status, reason, encoding, delimiter,
               rows_total, rows_accepted, rows_rejected, loaded_at, mode, source, lists, ignored_columns, format)
           values (?, ?, ?, ?, 'loaded', null, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            file_id,
            file.path,
            file.kind,
            file.sha256,
            counts.encoding,
            counts.delimiter,
            counts.rows_total,
            counts.rows_accepted,
            counts.rows_rejected,
            at,
            file.mode,
            file.source,
            file.lists,
            counts.ignored_columns,
            counts.format,
        ],
    )


def unmerged_file_count(con: duckdb.DuckDBPyConnection) -> int:
    """Contact and event files loaded but not merged into contacts yet."""
    return con.execute(
        "select count(*) from import_files where kind in ('contacts', 'events') and status = 'loaded' and merged_at is null"
    ).fetchall()[0][0]


def record_merged(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str, int, int | None]]:
    """The merge's counts per file (temp tables `merge_files` and `merge_counts` of merge_contacts.sql):
    contacts created, rows merged into existing contacts (contact files), and the merge time. Returns
    (file_id, path, contacts_created, rows_merged) per merged file, in ledger order."""
    con.execute(
        """update import_files f set
               contacts_created = coalesce(n.created, 0),
               rows_merged = if(f.kind = 'contacts', coalesce(n.rows_in_file - n.created - n.rows_into_nothing, 0), null),
               merged_at = f.loaded_at
           from merge_files m
           left join merge_counts n using (file_id)
           where f.file_id = m.file_id"""
    )
    return con.execute(
        """select f.file_id, f.path, f.contacts_created, f.rows_merged
           from import_files f join merge_files m using (file_id) order by f.file_id"""
    ).fetchall()


def pending_merge_files(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str, dt.datetime]]:
    """(file_id, path, loaded_at) of each merge file loaded but not applied yet, in ledger order."""
    return con.execute(
        """select file_id, path, loaded_at from import_files
           where kind = 'merges' and status = 'loaded' and merged_at is null order by file_id"""
    ).fetchall()


def record_pairs_merged(con: duckdb.DuckDBPyConnection, file_id: int, merged: int, rejected: int) -> None:
    """A merge file applied: pairs merged, and the pairs that could not be (an address not a contact, or one
    contact twice), which moved from accepted to rejected; the rows still add up to rows_total."""
    con.execute(
        """update import_files set
               rows_accepted = rows_accepted - $rejected,
               rows_rejected = rows_rejected + $rejected,
               rows_merged = $merged,
               merged_at = loaded_at
           where file_id = $file_id""",
        {"file_id": file_id, "merged": merged, "rejected": rejected},
    )


def record_resubscribes_blocked(con: duckdb.DuckDBPyConnection) -> None:
    """Per contact file, how many of its rows asked to resubscribe a closed address (kept per row in
    `staging.resubscribe_blocked`, so that a partial status replay recounts them)."""
    con.execute(
        """update import_files f set resubscribe_blocked = coalesce(b.blocked, 0)
           from (
               select f2.file_id, (select count(*) from staging.resubscribe_blocked r where r.file_id = f2.file_id) as blocked
               from import_files f2
               where f2.kind = 'contacts' and f2.status = 'loaded'
           ) b
           where f.file_id = b.file_id
             and f.resubscribe_blocked is distinct from coalesce(b.blocked, 0)"""
    )


def record_erased_rows(con: duckdb.DuckDBPyConnection, rows_table: str) -> None:
    """Add to each file's `rows_erased` the distinct rows of `rows_table` (file_id, row_number) erased."""
    con.execute(
        f"""update import_files f set rows_erased = coalesce(f.rows_erased, 0) + e.n
            from (select file_id, count(distinct row_number) as n from {rows_table} group by file_id) e
            where f.file_id = e.file_id"""
    )


def unapplied_entries(con: duckdb.DuckDBPyConnection, kind: str, paths: list[str]) -> list[tuple]:
    """(file_id, path, status, reason) of each of `paths` whose latest ledger entry is held or failed: what a
    run that tries them again reports, when nothing about them changed."""
    return con.execute(
        """select file_id, path, status, reason from import_files
           where kind = ? and list_contains(?, path)
           qualify row_number() over (partition by path order by file_id desc) = 1 and status in ('held', 'failed')
           order by file_id""",
        [kind, paths],
    ).fetchall()
