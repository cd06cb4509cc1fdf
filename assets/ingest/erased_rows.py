"""Staged rows that hold an erased address become rejects with reason `erased`, and their text is not kept:
an erased address is never imported again, whatever the file (contact, event or merge file)."""

from __future__ import annotations

import duckdb
import polars as pl

from assets.validation.contact_rows import REJECT_ERASED, StagedFile
from assets.validation.frame_schemas import reject_schema
from pipelines.warehouse.connection import registered
from pipelines.warehouse.tombstones import erasure_salt, has_tombstones


def reject_erased(
    con: duckdb.DuckDBPyConnection,
    staged: StagedFile,
    columns: tuple[str, ...] = ("email",),
    detail: str = "the address was erased on request; it is not imported again",
) -> StagedFile:
    """Move the rows whose address in any of `columns` was erased to the rejects."""
    if not staged.rows.height or not has_tombstones(con):
        return staged
    erased_sql = "(select email_sha256 from suppressions where reason = 'erased')"
    condition = " or ".join(f"sha256($salt || {column}) in {erased_sql}" for column in columns)
    with registered(con, "_rows", staged.rows.select("row_number", *columns)):
        erased = [
            number
            for (number,) in con.execute(
                f"select row_number from _rows where {condition} order by row_number",
                {"salt": erasure_salt(con)},
            ).fetchall()
        ]
    if not erased:
        return staged
    erased_rejects = pl.DataFrame(
        {
            "file_id": staged.rows.get_column("file_id")[0],
            "row_number": erased,
            "reason": REJECT_ERASED,
            "detail": detail,
            "raw": None,
        },
        schema=reject_schema(),
    )
    keep = ~pl.col("row_number").is_in(erased)
    return StagedFile(
        rows=staged.rows.filter(keep),
        rejects=pl.concat([staged.rejects, erased_rejects]).sort("row_number"),
        field_issues=staged.field_issues.filter(keep),
    )
