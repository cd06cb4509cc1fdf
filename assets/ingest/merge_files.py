"""Reading merge files (inbox/merges, DESIGN 3.5): a reviewed pair per row, `keep_email, merge_email`. Both addresses
take the contact files' email path (assets/validation/emails.py through `address_frame`), so they are the
identity keys the contacts hold; whether each is a contact is only known when the merge is applied, after the
run's contact files (assets/contacts/pair_merge.py)."""

from __future__ import annotations

import duckdb
import polars as pl

from assets.ingest.erased_rows import reject_erased
from assets.ingest.headers import HeaderMapping, map_header
from assets.ingest.parsed_file import FileFailed, ParsedFile
from assets.validation.contact_rows import StagedFile, address_frame, build_rejects
from assets.validation.emails import EmailValidatorCache
from assets.validation.frame_schemas import issue_schema

MERGE_COLUMNS = ("keep_email", "merge_email")
MERGE_HEADERS = {
    "keep_email": ("keep_email", "keep email", "keep"),
    "merge_email": ("merge_email", "merge email", "merge"),
}
REJECT_SAME_CONTACT = "same_contact"  # also found when a pair is applied (assets/contacts/pair_merge.py)


def merge_mapping(parsed: ParsedFile, path: str) -> HeaderMapping:
    """Both columns, or the file fails naming what its header has."""
    mapping = map_header(parsed.header, MERGE_HEADERS, {})
    missing = [name for name in MERGE_COLUMNS if name not in mapping.field_to_index]
    if missing:
        header = ", ".join(repr(cell) for cell in parsed.header) or "no cells"
        raise FileFailed(
            f"{path}: a merge file needs the columns keep_email and merge_email; "
            f"{' and '.join(missing)} not found, the header has {header}"
        )
    return mapping


def _side(parsed: ParsedFile, mapping: HeaderMapping, file_id: int, column: str, cache) -> pl.DataFrame:
    """One column's verdicts, as the contact files' email column would get them."""
    only = HeaderMapping({"email": mapping.field_to_index[column]}, [])
    frame = address_frame(parsed, only, file_id, ["email"], cache)
    return frame.select(
        "row_number",
        pl.col("email").alias(column),
        pl.col("email_ascii").alias(f"{column}_ascii"),
        pl.col("reject_reason").alias(f"{column}_reason"),
        # the column named, so the reader knows which address of the pair to fix; never the address itself
        (pl.lit(f"{column}: ") + pl.col("reject_detail")).alias(f"{column}_detail"),
    )


def stage_merge_file(
    con: duckdb.DuckDBPyConnection,
    parsed: ParsedFile,
    mapping: HeaderMapping,
    file_id: int,
    cache: EmailValidatorCache,
) -> StagedFile:
    """Rows for staging.merge_rows and rejects: an address missing, invalid or erased, or one address twice."""
    keep = _side(parsed, mapping, file_id, "keep_email", cache)
    merge = _side(parsed, mapping, file_id, "merge_email", cache)
    same = pl.col("keep_email") == pl.col("merge_email")
    frame = keep.join(merge, on="row_number", maintain_order="left").with_columns(
        pl.coalesce(
            "keep_email_reason",
            "merge_email_reason",
            pl.when(same).then(pl.lit(REJECT_SAME_CONTACT)),
        ).alias("reject_reason"),
        pl.coalesce(
            pl.when(pl.col("keep_email_reason").is_not_null()).then("keep_email_detail"),
            pl.when(pl.col("merge_email_reason").is_not_null()).then("merge_email_detail"),
            pl.when(same).then(pl.lit("keep_email and merge_email are the same address")),
        ).alias("reject_detail"),
    )
    rows = frame.filter(pl.col("reject_reason").is_null()).select(
        pl.lit(file_id, dtype=pl.Int64).alias("file_id"),
        "row_number",
        "keep_email",
        "keep_email_ascii",
        "merge_email",
        "merge_email_ascii",
    )
    return reject_erased(
        con,
        StagedFile(
            rows=rows,
            rejects=build_rejects(frame, parsed, file_id),
            field_issues=pl.DataFrame(schema=issue_schema()),
        ),
        MERGE_COLUMNS,
        "an address of the pair was erased on request",
    )
