"""Event files (DESIGN 3.3): one row per engagement event, validated like contact rows.

A row is rejected for a missing or invalid address, an unknown event name or a missing or unparseable
timestamp; a bad purchase value is a field issue. Events for addresses that are not contacts are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
from assets.validation.fields import (
    BOOLEAN_WORDS,
    FLOAT_PATTERN,
    blank_to_null,
    parse_tags,
    parse_timestamps,
    timestamps_as_iso,
)
from assets.validation.frame_schemas import event_row_schema, issue_schema
from pipelines.config import ContactsConfig
from pipelines.vocabulary import EVENT_HEADERS, EVENTS

EVENT_FIELDS = tuple(EVENT_HEADERS)


@dataclass(frozen=True)
class EventReading:
    """How another tool's event log reads (its manifest): its event names to ours, its time format."""

    events: dict[str, str] = field(default_factory=dict)
    time_format: str | None = None
    timezone: str | None = None  # of the file's naive times; None: the configured timezone

    @property
    def plain(self) -> bool:
        return not self.events and self.time_format in (None, "iso") and self.timezone is None


def event_names(column: pl.Expr, names: dict[str, str]) -> pl.Expr:
    """Event names lower-cased, a tool's own names (compared case-insensitively) put in ours."""
    lowered = column.str.to_lowercase()
    if not names:
        return lowered
    ours = {their.strip().lower(): our for their, our in names.items()}
    return (
        pl.when(lowered.is_in(list(ours))).then(lowered.replace_strict(ours, default=None)).otherwise(lowered)
    )


def stage_event_file(
    parsed: ParsedFile,
    mapping: HeaderMapping,
    file_id: int,
    config: ContactsConfig,
    cache: EmailValidatorCache,
    reading: EventReading | None = None,
) -> StagedFile:
    reading = reading or EventReading()
    if parsed.cells.height or parsed.problems:
        return _stage_rows(parsed, mapping, file_id, config, cache, reading)
    # No row to stage: event_loading's common case, where the plain-row statement inserted every row of a
    # webhook delivery. Staging validates empty frames, about two thirds of a small file's time; their schemas
    # depend on the timezones of the parsed times only, so the empty result is kept per pair.
    key = (config.timezone, reading.timezone)
    if key not in _NOTHING_STAGED:
        _NOTHING_STAGED[key] = _stage_rows(parsed, mapping, file_id, config, cache, reading)
    staged = _NOTHING_STAGED[key]
    return StagedFile(
        rows=staged.rows.clear(), rejects=staged.rejects.clear(), field_issues=staged.field_issues.clear()
    )


_NOTHING_STAGED: dict[tuple[str, str | None], StagedFile] = {}


def _stage_rows(
    parsed: ParsedFile,
    mapping: HeaderMapping,
    file_id: int,
    config: ContactsConfig,
    cache: EmailValidatorCache,
    reading: EventReading,
) -> StagedFile:
    frame = address_frame(parsed, mapping, file_id, list(EVENT_FIELDS), cache).with_columns(
        blank_to_null(name) for name in EVENT_FIELDS if name != "email"
    )
    times = frame.select(timestamps_as_iso(pl.col("occurred_at"), reading.time_format)).to_series()
    moments = parse_timestamps(times, reading.timezone or config.timezone, now=None)
    frame = frame.with_columns(
        event_names(pl.col("event"), reading.events).alias("event_name"),
        moments.get_column("moment").alias("occurred"),
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
        .then(pl.format(_time_problem(reading.time_format), pl.col("occurred_at")))
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
        "message_id",
        parse_tags(pl.col("tags")).alias("tags"),
        pl.col("machine_open")
        .str.to_lowercase()
        .replace_strict(BOOLEAN_WORDS, default=None, return_dtype=pl.Boolean)
        .alias("machine_open"),
        "service_event",
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


def _time_problem(time_format: str | None) -> str:
    if time_format in (None, "iso"):
        return "occurred_at '{}' is not an ISO 8601 date-time"
    return "occurred_at '{}' does not read as time_format " + repr(time_format).replace("{", "{{").replace(
        "}", "}}"
    )
