"""Versions (DESIGN 6.1-6.3): a global version per run that changes a versioned relation.

Each versioned relation has a working table in `staging` that the pipeline rewrites, and a
`<relation>_history` table of intervals (`valid_from_version`, `valid_to_version`, NULL = current). Publishing
compares the working table with the current rows, closes the rows that changed or left and inserts the new
ones: storage grows with change, not with the number of versions. The first publish of a run allocates the
run's version; a run that changes nothing allocates none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from pipelines.warehouse.catalog import column_types


@dataclass(frozen=True)
class VersionedRelation:
    name: str
    working: str
    key: tuple[str, ...]
    hidden: tuple[str, ...] = ()  # working columns the public view leaves out

    @property
    def history(self) -> str:
        return f"{self.name}_history"


VERSIONED = {
    relation.name: relation
    for relation in (
        VersionedRelation("contacts", "staging.contacts", ("contact_id",)),
        VersionedRelation("contact_engagement", "staging.contact_engagement", ("contact_id",)),
        VersionedRelation("list_members", "staging.list_members", ("list_id", "contact_id")),
        VersionedRelation(
            "segment_members", "staging.segment_members", ("segment_id", "contact_id"), hidden=("sql_sha256",)
        ),
        VersionedRelation("list_health", "staging.list_health", ("list_id", "day")),
        VersionedRelation(
            "duplicate_candidates", "staging.duplicate_candidates", ("contact_id_a", "contact_id_b")
        ),
        VersionedRelation("contact_predictions", "staging.contact_predictions", ("contact_id",)),
        VersionedRelation("prediction_backtest", "staging.prediction_backtest", ("model", "as_of_date")),
    )
}


def ensure_history_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create each history table from its working table, and add columns the working table gained since."""
    for relation in VERSIONED.values():
        working = column_types(con, relation.working)
        history = column_types(con, relation.history)
        if not history:
            con.execute(
                f"""create table {relation.history} as
                    select *, null::bigint as valid_from_version, null::bigint as valid_to_version
                    from {relation.working} limit 0"""
            )
            continue
        for name, data_type in working.items():
            if name not in history:
                con.execute(f'alter table {relation.history} add column "{name}" {data_type}')


def version_for_run(con: duckdb.DuckDBPyConnection, run_id: str, as_of: dt.date, relation: str) -> int:
    """The run's version, allocated on its first change; records which relations it changed."""
    row = con.execute("select version from versions where run_id = ?", [run_id]).fetchall()
    if row:
        version = row[0][0]
        con.execute(
            """update versions set tables_changed = list_append(tables_changed, $relation)
               where version = $version and not list_contains(tables_changed, $relation)""",
            {"relation": relation, "version": version},
        )
        return version
    version = con.execute("select coalesce(max(version), 0) + 1 from versions").fetchall()[0][0]
    con.execute(
        "insert into versions values (?, ?, ?, ?, [?])",
        [version, run_id, as_of, dt.datetime.now(dt.UTC), relation],
    )
    return version


def publish(
    con: duckdb.DuckDBPyConnection,
    name: str,
    run_id: str,
    as_of: dt.date,
    scope: tuple[str, str] | None = None,
) -> int | None:
    """Record the working table's changes as the run's version; None when nothing changed. Call in a transaction.
    `scope` (column, value): only the rows with that value changed (one segment of segment_members), so only
    they are compared."""
    relation = VERSIONED[name]
    names = list(column_types(con, relation.working))
    columns = ", ".join(f'"{column}"' for column in names)
    where = f'"{scope[0]}" = $scope' if scope else "true"
    parameters = {"scope": scope[1]} if scope else {}
    working = f"(select * from {relation.working} where {where})"
    current = f"select {columns} from {relation.history} where valid_to_version is null and {where}"
    if not con.execute(f"select exists ({current})", parameters).fetchall()[0][0]:
        # Nothing current (a first run, or an emptied relation): every working row is new, no diff needed.
        (added,) = con.execute(f"select count(*) from {working}", parameters).fetchall()[0]
        if not added:
            return _reclaim_current(con, name, run_id, as_of)
        version = version_for_run(con, run_id, as_of, name)
        con.execute(
            f"insert into {relation.history} ({columns}, valid_from_version) select {columns}, $version from {working}",
            {**parameters, "version": version},
        )
        return version
    # One full join on the key finds both sides of the change: a working row with no current row, or one
    # that differs in any column, is added; a current row with no working row, or a differing one, is closed.
    # (Keys are unique in both; this is about twice as fast as two EXCEPTs of whole rows.)
    on = " and ".join(f'w."{k}" = h."{k}"' for k in relation.key)
    differs = (
        " or ".join(f'w."{c}" is distinct from h."{c}"' for c in names if c not in relation.key) or "false"
    )
    old_keys = ", ".join(f'h."{k}" as "_old_{k}"' for k in relation.key)
    first = relation.key[0]
    con.execute(
        f"""create or replace temp table publish_diff as
            select w.*, {old_keys}, w."{first}" is not null as is_added, h."{first}" is not null as is_removed
            from {working} w full join ({current}) h on {on}
            where w."{first}" is null or h."{first}" is null or {differs}""",
        parameters,
    )
    key = ", ".join(relation.key)
    added, removed, repeated, working_rows, current_rows = con.execute(
        f"""select count(*) filter (where is_added), count(*) filter (where is_removed),
                   count(*) filter (where is_added) - count(distinct ({key})) filter (where is_added),
                   (select count(*) from {working}),
                   (select count(*) from {relation.history} where valid_to_version is null and {where})
            from publish_diff""",
        parameters,
    ).fetchall()[0]
    if repeated or working_rows != current_rows + added - removed:
        # A key twice in the working table would pair every copy with the current row: refuse, never guess.
        raise RuntimeError(
            f"cannot publish {name}: its working table {relation.working} holds a key ({key}) more than once"
        )
    if added or removed:
        version = version_for_run(con, run_id, as_of, name)
        old_key = ", ".join(f'"_old_{k}"' for k in relation.key)
        con.execute(
            f"""update {relation.history} set valid_to_version = ?
                where valid_to_version is null and ({key}) in (select ({old_key}) from publish_diff where is_removed)""",
            [version],
        )
        con.execute(
            f"insert into {relation.history} ({columns}, valid_from_version) select {columns}, ? from publish_diff where is_added",
            [version],
        )
    con.execute("drop table publish_diff")
    return version if added or removed else _reclaim_current(con, name, run_id, as_of)


def _reclaim_current(con: duckdb.DuckDBPyConnection, name: str, run_id: str, as_of: dt.date) -> int | None:
    """A run that changes nothing usually allocates no version. The exception: the rows last written came
    from a backfill, so the public view (the newest as-of, views.sql current_version) shows an older
    version. A run as of the newest day that finds those rows right records the relation in its version,
    which makes them current; otherwise the view would go on showing the state before the backfill."""
    newest_written, newest_as_of, backfilled = con.execute(
        """select max(version), max(as_of_date),
                  arg_max(as_of_date, version) < max(as_of_date)
           from versions where list_contains(tables_changed, ?)""",
        [name],
    ).fetchall()[0]
    if newest_written is None or not backfilled or as_of < newest_as_of:
        return None
    return version_for_run(con, run_id, as_of, name)
