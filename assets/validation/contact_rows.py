"""From a parsed file to three frames: validated rows, rejected rows and field issues (DESIGN 5.1).

Pure functions over polars frames; the pandera schemas below state the contract of each frame.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from assets.ingest.contact_reading import ContactReading
from assets.ingest.headers import BUILTIN_FIELDS, HeaderMapping
from assets.ingest.mojibake import REASON as REPAIRED_REASON
from assets.ingest.parsed_file import ParsedFile, cell_column
from assets.validation.contact_status import REJECT_UNKNOWN_STATUS, StatusReading, with_statuses
from assets.validation.emails import EmailValidatorCache, prepare_emails
from assets.validation.fields import (
    blank_to_null,
    parse_tags,
    parse_timestamps,
    timestamps_as_iso,
    typed_fields,
)
from assets.validation.frame_schemas import (
    contact_row_schema,
    issue_schema,
    reject_schema,
    staged_text_schema,
)
from pipelines.config import ContactsConfig

REJECT_MISSING = "missing_email"
REJECT_INVALID = "invalid_email"
REJECT_UNPARSEABLE = "unparseable"
REJECT_ERASED = "erased"
REJECT_UNKNOWN_EVENT = "unknown_event"
REJECT_BAD_TIMESTAMP = "bad_timestamp"


@dataclass
class StagedFile:
    rows: pl.DataFrame
    rejects: pl.DataFrame
    field_issues: pl.DataFrame


def _text_frame(
    parsed: ParsedFile, mapping: HeaderMapping, file_id: int, text_columns: list[str]
) -> pl.DataFrame:
    return parsed.cells.select(
        pl.lit(file_id, dtype=pl.Int64).alias("file_id"),
        "row_number",
        *[
            pl.col(cell_column(mapping.field_to_index[name])).alias(name)
            if name in mapping.field_to_index
            else pl.lit(None, dtype=pl.Utf8).alias(name)
            for name in text_columns
        ],
    )


def distinct_verdicts(raw: pl.Series, cache: EmailValidatorCache) -> pl.DataFrame:
    """One row per distinct raw address (null included): email_raw, prepared, email, email_ascii, email_error."""
    distinct = raw.unique()
    return cache.verdicts_for(prepare_emails(distinct)).with_columns(distinct.alias("email_raw"))


def email_verdicts(raw: pl.Series, cache: EmailValidatorCache) -> pl.DataFrame:
    """prepared, email, email_ascii, email_error for each raw address, row for row. Event files repeat
    addresses (a contact has many events): there the work is done once per distinct address and joined
    back. Contact files are mostly distinct addresses, for which the vectorised pass over the rows is cheaper."""
    if raw.len() < 50_000 or raw.approx_n_unique() > raw.len() // 2:
        return cache.verdicts_for(prepare_emails(raw))
    verdicts = distinct_verdicts(raw, cache)
    return (
        raw.rename("email_raw")
        .to_frame()
        .join(verdicts, on="email_raw", how="left", maintain_order="left")
        .drop("email_raw")
    )


def address_frame(
    parsed: ParsedFile,
    mapping: HeaderMapping,
    file_id: int,
    text_columns: list[str],
    cache: EmailValidatorCache,
) -> pl.DataFrame:
    """The text frame plus each row's email verdict: `email` (identity key), `email_ascii`,
    `reject_reason` and `reject_detail` (null for rows whose address is usable)."""
    frame = staged_text_schema(text_columns).validate(_text_frame(parsed, mapping, file_id, text_columns))
    frame = pl.concat(
        [frame.rename({"email": "email_raw"}), email_verdicts(frame.get_column("email"), cache)],
        how="horizontal",
    )
    missing = pl.col("prepared").is_null() | (pl.col("prepared") == "")
    return frame.with_columns(
        pl.when(missing)
        .then(pl.lit(REJECT_MISSING))
        .when(pl.col("email").is_null())
        .then(pl.lit(REJECT_INVALID))
        .alias("reject_reason"),
        pl.when(missing)
        .then(pl.lit("no email address in the row"))
        .otherwise(pl.col("email_error"))
        .alias("reject_detail"),
    )


def stage_file(
    parsed: ParsedFile,
    mapping: HeaderMapping,
    file_id: int,
    config: ContactsConfig,
    cache: EmailValidatorCache,
    now: dt.datetime,
    reading: ContactReading | None = None,
) -> StagedFile:
    """A contact file: validated rows for staging.contact_rows, rejects and field issues."""
    reading = reading or ContactReading()
    frame = address_frame(parsed, mapping, file_id, list(BUILTIN_FIELDS) + list(config.fields), cache)
    frame = with_statuses(
        frame.with_columns(blank_to_null("status"), *_flag_cells(parsed, reading)), _status_reading(reading)
    )
    unknown = pl.col("reject_reason").is_null() & pl.col("status_problem").is_not_null()
    frame = frame.with_columns(
        pl.when(unknown)
        .then(pl.lit(REJECT_UNKNOWN_STATUS))
        .otherwise(pl.col("reject_reason"))
        .alias("reject_reason"),
        pl.when(unknown)
        .then(pl.col("status_problem"))
        .otherwise(pl.col("reject_detail"))
        .alias("reject_detail"),
    )
    accepted = frame.filter(pl.col("reject_reason").is_null())
    rows, issues = _typed_rows(accepted, config, now, reading)
    rows = contact_row_schema(config).validate(rows)
    return StagedFile(rows=rows, rejects=build_rejects(frame, parsed, file_id), field_issues=issues)


def _flag_cells(parsed: ParsedFile, reading: ContactReading) -> list[pl.Series]:
    """The cells of the status flag columns, beside the row they belong to (the frame keeps the cells' order)."""
    indices = set(reading.status_flags) | set(reading.status_if_filled)
    return [parsed.column(index).alias(f"_status_column_{index}") for index in sorted(indices)]


def _status_reading(reading: ContactReading) -> StatusReading:
    return StatusReading(
        status_values=reading.status_values,
        status_flags={
            name: (f"_status_column_{index}", status)
            for index, (name, status) in reading.status_flags.items()
        },
        status_if_filled={
            name: (f"_status_column_{index}", status)
            for index, (name, status) in reading.status_if_filled.items()
        },
        preset=reading.preset,
    )


def build_rejects(frame: pl.DataFrame, parsed: ParsedFile, file_id: int) -> pl.DataFrame:
    """Rows with a `reject_reason`, plus the rows the reader could not parse, with their raw text."""
    rejected = frame.filter(pl.col("reject_reason").is_not_null())
    raw_lines = parsed.raw_lines(rejected.get_column("row_number").to_list())
    rows = [
        {
            "file_id": file_id,
            "row_number": number,
            "reason": reason,
            "detail": detail,
            "raw": raw_lines[number],
        }
        for number, reason, detail in rejected.select(
            "row_number", "reject_reason", "reject_detail"
        ).iter_rows()
    ]
    rows += [
        {
            "file_id": file_id,
            "row_number": p.row_number,
            "reason": p.reason,
            "detail": p.detail,
            "raw": p.raw,
        }
        for p in parsed.problems
    ]
    return pl.DataFrame(rows, schema=reject_schema()).sort("row_number")


def repair_issues(
    parsed: ParsedFile, mapping: HeaderMapping, file_id: int, rejects: pl.DataFrame
) -> pl.DataFrame:
    """A field issue per cell whose mojibake the reader repaired, in the mapped columns of accepted rows
    (`raw_value` is the text as read; the stored value is the repaired one)."""
    fields = {cell_column(index): name for name, index in mapping.field_to_index.items()}
    return (
        parsed.repairs.filter(pl.col("column").is_in(list(fields)))
        .join(rejects.select("row_number"), on="row_number", how="anti")
        .select(
            pl.lit(file_id, dtype=pl.Int64).alias("file_id"),
            "row_number",
            pl.col("column").replace_strict(fields, return_dtype=pl.Utf8).alias("field"),
            "raw_value",
            pl.lit(REPAIRED_REASON).alias("reason"),
        )
        .cast(issue_schema())
    )


def _typed_rows(
    accepted: pl.DataFrame, config: ContactsConfig, now: dt.datetime, reading: ContactReading
) -> tuple[pl.DataFrame, pl.DataFrame]:
    fields = typed_fields(config)
    trimmed = accepted.with_columns(
        blank_to_null(name) for name in ["first_name", "last_name", "tags", "created_at", *config.fields]
    )
    created = trimmed.select(timestamps_as_iso(pl.col("created_at"), reading.time_format)).to_series()
    timestamps = parse_timestamps(created, reading.timezone or config.timezone, now)
    trimmed = trimmed.with_columns(
        timestamps.get_column("moment").alias("created_at_typed"),
        timestamps.get_column("problem").alias("created_at_problem"),
    )
    typed = trimmed.with_columns(
        pl.col("email").str.split("@").list.last().alias("email_domain"),
        parse_tags(pl.col("tags"), reading.tag_separator)
        .fill_null(pl.lit([], dtype=pl.List(pl.Utf8)))
        .alias("tags"),
        *[typed_field.parsed.alias(f"{typed_field.name}_typed") for typed_field in fields],
    )

    issue_frames = [
        typed.filter(pl.col("created_at_problem").is_not_null()).select(
            "file_id",
            "row_number",
            pl.lit("created_at").alias("field"),
            pl.col("created_at").alias("raw_value"),
            pl.col("created_at_problem").alias("reason"),
        ),
    ]
    for typed_field in fields:
        if typed_field.dtype == pl.Utf8:
            continue
        issue_frames.append(
            typed.filter(
                pl.col(typed_field.name).is_not_null() & pl.col(f"{typed_field.name}_typed").is_null()
            ).select(
                "file_id",
                "row_number",
                pl.lit(typed_field.name).alias("field"),
                pl.col(typed_field.name).alias("raw_value"),
                pl.lit(typed_field.reason).alias("reason"),
            )
        )
    issues = pl.concat(issue_frames).cast(issue_schema()).sort("row_number", "field")

    rows = typed.select(
        "file_id",
        "row_number",
        "email",
        "email_ascii",
        "email_domain",
        "first_name",
        "last_name",
        "tags",
        pl.col("status_typed").alias("status"),
        pl.col("created_at_typed").alias("created_at"),
        *[
            pl.col(f"{f.name}_typed" if f.dtype != pl.Utf8 else f.name).cast(f.dtype).alias(f.name)
            for f in fields
        ],
    )
    return rows, issues
