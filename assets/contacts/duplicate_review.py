"""The review file of `contacts duplicates`: one row per candidate pair, already in the shape of a merge file
(`keep_email, merge_email` first), so that a reviewer deletes the rows that are not one person, swaps the
two addresses where the other should survive, and drops the file in inbox/merges/. The suggested address
to keep is the one of the contact updated last (the address the person used most recently)."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import TextIO

import duckdb

REVIEW_COLUMNS = (
    "keep_email",
    "merge_email",
    "match_probability",
    "match_reasons",
    "keep_contact_id",
    "merge_contact_id",
    "keep_name",
    "merge_name",
    "keep_status",
    "merge_status",
)

REVIEW_SQL = """
    with pairs as (
        select d.*, a.updated_at >= b.updated_at as keep_a
        from duplicate_candidates d
        join contacts a on a.contact_id = d.contact_id_a
        join contacts b on b.contact_id = d.contact_id_b
        where d.match_probability >= $min
    )
    select
        if(keep_a, email_a, email_b), if(keep_a, email_b, email_a), match_probability,
        array_to_string(match_reasons, '; '),
        if(keep_a, contact_id_a, contact_id_b), if(keep_a, contact_id_b, contact_id_a),
        concat_ws(' ', k.first_name, k.last_name), concat_ws(' ', m.first_name, m.last_name), k.status, m.status
    from pairs p
    join contacts k on k.contact_id = if(keep_a, contact_id_a, contact_id_b)
    join contacts m on m.contact_id = if(keep_a, contact_id_b, contact_id_a)
    order by match_probability desc, 5, 6
"""


def review_rows(con: duckdb.DuckDBPyConnection, min_probability: float) -> list[tuple]:
    return con.execute(REVIEW_SQL, {"min": min_probability}).fetchall()


def write_review(rows: list[tuple], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REVIEW_COLUMNS)
    writer.writerows(rows)


def write_review_file(rows: list[tuple], path: Path) -> None:
    """Atomically: a reviewer's editor never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline="", dir=path.parent, delete=False
    ) as handle:
        write_review(rows, handle)
    os.replace(handle.name, path)
