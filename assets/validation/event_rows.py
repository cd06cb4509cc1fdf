"""Event files (DESIGN 3.3): one row per engagement event, validated like contact rows.

A row is rejected for a missing or invalid address, an unknown event name or a missing or unparseable
timestamp; a bad purchase value is a field issue. Events for addresses that are not contacts are kept.
"""

from __future__ import annotations

import polars as pl

from assets.ingest.headers import HeaderMapping
from assets.ingest.parsed_file import ParsedFile
from assets.validation.contact_rows import (
    REJECT_BAD_TIMESTAMP,
    REJECT_UNKNOWN_EVENT,
    StagedFile,
    address_frame,
    build_rejects,
)
from assets.validation.emails import EmailValidatorCache
from assets.validation.fields import FLOAT_PATTERN, blank_to_null, parse_timestamps
from assets.validation.frame_schemas import event_row_schema, issue_schema
from pipelines.config import ContactsConfig
from pipelines.vocabulary import EVENT_HEADERS, EVENTS

EVENT_FIELDS = tuple(EVENT_HEADERS)


def stage_event_file(
    parsed: ParsedFile,
    mapping: HeaderMapping,
    file_id: int,
    config: ContactsConfig,
    cache: EmailValidatorCache,
) -> StagedFile:
    frame = address_frame(parsed, mapping, file_id, list(EVENT_FIELDS), cache).with_columns(
        blank_to_null(name) for name in ("event", "occurred_at", "campaign_id", "list", "value", "url")
    )
    moments = parse_timestamps(frame.get_column("occurred_at"), config.timezone, now=None)
    frame = frame.with_columns(
        pl.col("event").str.to_lowercase().alias("event_name"), moments.get_column("moment").alias("occurred")
    )
    known = pl.col("event_name").is_in(list(EVENTS))
    frame = frame.with_columns(
        pl.when(pl.col("reject_reason").is_not_null())
        .then(pl.col("reject_reason"))
        .when(~known | pl.col("event_name").is_null())
        .then(pl.lit(REJECT_UNKNOWN_EVENT))
        .when(pl.col("occurred").is_null())
        .then(pl.lit(REJECT_BAD_TIMESTAMP))
        .alias("reject_reason"),
        pl.when(pl.col("reject_reason").is_not_null())
        .then(pl.col("reject_detail"))
        .when(pl.col("event_name").is_null())
        .then(pl.lit("no event name"))
        .when(~known)
        .then(pl.format("unknown event '{}'; expected one of {}", pl.col("event"), pl.lit(", ".join(EVENTS))))
        .when(pl.col("occurred_at").is_null())
        .then(pl.lit("no occurred_at timestamp"))
        .when(pl.col("occurred").is_null())
        .then(pl.format("occurred_at '{}' is not an ISO 8601 date-time", pl.col("occurred_at")))
        .alias("reject_detail"),
    )
    accepted = frame.filter(pl.col("reject_reason").is_null())
    value_ok = pl.col("value").str.contains(FLOAT_PATTERN)
    rows = accepted.select(
        "file_id",
        "row_number",
        "email",
        "email_ascii",
        pl.col("event_name").alias("event"),
        pl.col("occurred").alias("occurred_at"),
        "campaign_id",
        "list",
        pl.when(value_ok).then(pl.col("value").cast(pl.Float64, strict=False)).alias("value"),
        "url",
    )
    issues = (
        accepted.filter(pl.col("value").is_not_null() & ~value_ok)
        .select(
            "file_id",
            "row_number",
            pl.lit("value").alias("field"),
            pl.col("value").alias("raw_value"),
            pl.lit("not a number (use . for decimals)").alias("reason"),
        )
        .cast(issue_schema())
    )
    return StagedFile(
        rows=event_row_schema().validate(rows),
        rejects=build_rejects(frame, parsed, file_id),
        field_issues=issues,
    )
