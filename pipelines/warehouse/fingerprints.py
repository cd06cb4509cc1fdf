"""Whether a step's inputs changed since it last computed its output: a fingerprint of what it reads, stored in
the warehouse next to what it wrote (`staging.step_fingerprints`).

A step states what it reads in two parts: what comes from outside the warehouse and is fixed for the run (the
config in force, its SQL, the as-of date when its output depends on it, the inbox listing), and tokens read from
the warehouse (the ledger, the erasure log, the last version of each relation it reads). At its start it compares
their digest with the one stored after its last computation; when they are equal it does nothing but report its
materialization as unchanged, saying why, and creates no version and no file. After computing, it stores the
digest with the tokens read again, so that what the step itself wrote (its own version, the ledger rows it
updated) counts as seen, while the outside parts stay as the work read them: a file dropped into the inbox during
the step is new to the next run.

A token changes whenever what it stands for can have changed: the ledger with every file loaded, held, failed,
skipped or merged; the erasure log with every erasure (which edits every table without a version); a relation's
token with every version that recorded it. Tokens err on the side of a recomputation, never of a skip. Nothing
here holds an address or any other personal data: digests, counts and version numbers only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.config import ContactsConfig
from pipelines.warehouse.render import load_sql

# Bumped when what a fingerprint covers changes, so that every stored one stops matching.
FINGERPRINT_FORMAT = 1


def digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class StepInputs:
    """What a step reads: `fixed` (outside the warehouse, as the step's work reads them) and `tokens` (read
    from the warehouse at the start, and again after the work, when the fingerprint is recorded)."""

    step: str
    fixed: dict
    tokens: Callable[[duckdb.DuckDBPyConnection], dict] = field(default=lambda con: {})

    def read(self, con: duckdb.DuckDBPyConnection) -> dict:
        return {"format": FINGERPRINT_FORMAT, "fixed": self.fixed, "tokens": self.tokens(con)}


def unchanged(con: duckdb.DuckDBPyConnection, inputs: StepInputs) -> str | None:
    """Why the step has nothing to do (its inputs are those of its last computation), or None when it must
    compute."""
    stored = con.execute(
        "select digest, computed_at from staging.step_fingerprints where step = ?", [inputs.step]
    ).fetchall()
    current = inputs.read(con)
    if not stored or stored[0][0] != digest(current):
        return None
    names = sorted(set(current["fixed"]) | set(current["tokens"]))
    since = stored[0][1].astimezone(dt.UTC)
    return f"inputs unchanged since {since:%Y-%m-%d %H:%M:%S} UTC ({', '.join(names)})"


def record(con: duckdb.DuckDBPyConnection, inputs: StepInputs) -> None:
    """The step computed its output from these inputs. Call after its work is committed: a run killed before
    this recomputes next time, never the other way round."""
    con.execute(
        "insert or replace into staging.step_fingerprints values (?, ?, ?)",
        [inputs.step, digest(inputs.read(con)), dt.datetime.now(dt.UTC)],
    )


def forget(con: duckdb.DuckDBPyConnection, step: str | None = None) -> None:
    """Make a step (or every step) compute at its next run."""
    if step is None:
        con.execute("delete from staging.step_fingerprints")
    else:
        con.execute("delete from staging.step_fingerprints where step = ?", [step])


# ---------------------------------------------------------------------------------------------------------
# Tokens: what a step reads, in a form that changes whenever it can have changed


def config_token(config: ContactsConfig) -> str:
    """The whole contacts.yaml in force: a change of any setting recomputes every step (settings are rarely
    changed, and a narrower token per step would have to know every setting each one reads)."""
    return digest(config.model_dump(mode="json"))


def sql_token(*names: str) -> str:
    """The SQL scripts a step runs (`models/...`, `checks/...`)."""
    return digest({name: load_sql(name) for name in names})


def ledger_token(
    con: duckdb.DuckDBPyConnection, merged: bool = True, kinds: tuple[str, ...] | None = None
) -> str:
    """The ledger's entries (of `kinds`, or all): file, content, status and erased rows, and (`merged`) whether
    each was merged, which the contacts step records after the ingest step (whose own token leaves it out)."""
    merged_sql = ", merged_at is not null" if merged else ""
    (count, newest, combined) = con.execute(
        f"""select count(*), max(file_id), bit_xor(hash(file_id, path, sha256, status, rows_erased{merged_sql}))
            from import_files where $kinds is null or list_contains($kinds, kind)""",
        {"kinds": list(kinds) if kinds else None},
    ).fetchall()[0]
    return f"{count}:{newest}:{combined}"


def erasure_token(con: duckdb.DuckDBPyConnection) -> str:
    """Erasure edits every table, history included, without a version: each one recomputes every step."""
    (count, last) = con.execute("select count(*), max(erased_at) from erasure_log").fetchall()[0]
    return f"{count}:{last}"


def relation_token(con: duckdb.DuckDBPyConnection, relation: str) -> int | None:
    """The last version that recorded a change of `relation` (a versioned relation's working table only
    changes in a step that publishes it)."""
    return con.execute(
        "select max(version) from versions where list_contains(tables_changed, ?)", [relation]
    ).fetchall()[0][0]


def segment_token(con: duckdb.DuckDBPyConnection, segment_id: str) -> int | None:
    """The last version at which one segment's membership changed (a member entered or left)."""
    return con.execute(
        """select max(greatest(valid_from_version, coalesce(valid_to_version, 0)))
           from segment_members_history where segment_id = ?""",
        [segment_id],
    ).fetchall()[0][0]


def data_tokens(con: duckdb.DuckDBPyConnection) -> dict:
    """What every step downstream of the merge reads, directly or not: the ledger and the erasure log."""
    return {"ledger": ledger_token(con), "erasures": erasure_token(con)}


def inbox_listing(*folders: Path) -> list[list]:
    """Every file of the folders with what changes when it is written, replaced or renamed: size, modification
    and status-change times, inode. A file rewritten in place changes its ctime, which no tool can set back, so
    the listing changes whenever a file's content can have; the ledger still goes by content hash when the
    step runs."""
    listing = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            try:
                stat = path.stat()
            except OSError:  # gone between the listing and the stat: the next run sees the folder as it is
                continue
            if path.is_file():
                listing.append(
                    [
                        f"{folder.name}/{path.name}",
                        stat.st_size,
                        stat.st_mtime_ns,
                        stat.st_ctime_ns,
                        stat.st_ino,
                    ]
                )
    return listing


def reclaim_pending(con: duckdb.DuckDBPyConnection, relation: str, as_of: dt.date) -> bool:
    """Whether publishing `relation` as of `as_of` would record it in this run's version though no row changed
    (versioning.py `_reclaim_current`: the rows last written came from a backfill, and this run is as of the
    newest day): such a step must run, so that the public view shows its rows again."""
    newest_written, newest_as_of, backfilled = con.execute(
        """select max(version), max(as_of_date), arg_max(as_of_date, version) < max(as_of_date)
           from versions where list_contains(tables_changed, ?)""",
        [relation],
    ).fetchall()[0]
    return newest_written is not None and bool(backfilled) and as_of >= newest_as_of
