"""Cells to typed values: custom fields (integer, float, boolean, date, text), tags, timestamps in the
configured timezone, and the status words other tools export. Each column is typed in one vectorised pass;
what cannot be typed becomes a field issue, never a guess.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

import polars as pl

from pipelines.config import ContactsConfig

# Spellings other tools export, folded to ours (Mailchimp "cleaned" = bounced addresses).
STATUS_ALIASES = {
    "cleaned": "bounced",
    "pending": "unconfirmed",
    "unsubscribe": "unsubscribed",
    "active": "subscribed",
}


BOOLEAN_WORDS = {
    "true": True,
    "yes": True,
    "1": True,
    "on": True,
    "false": False,
    "no": False,
    "0": False,
    "off": False,
}


INTEGER_PATTERN = r"^[+-]?\d+$"


FLOAT_PATTERN = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def blank_to_null(name: str) -> pl.Expr:
    """Trim a text column; a cell that is empty after trimming is missing."""
    trimmed = pl.col(name).str.strip_chars()
    return pl.when(trimmed == "").then(None).otherwise(trimmed).alias(name)


def parse_tags(column: pl.Expr, separator: str = ",") -> pl.Expr:
    """`"customer, VIP"` -> ["customer", "vip"]: split on the separator, each tag trimmed and unquoted
    (Mailchimp writes `"Editors","Writers"`), lower-cased, de-duplicated, sorted."""
    tag = pl.element().str.strip_chars().str.strip_chars('"').str.strip_chars().str.to_lowercase()
    return column.str.split(separator).list.eval(tag.filter(tag != "")).list.unique().list.sort()


@dataclass(frozen=True)
class TypedField:
    """How one text column becomes a typed column: the parsed expression and the reason on failure."""

    name: str
    dtype: pl.DataType
    parsed: pl.Expr
    reason: str


def _date_expr(column: pl.Expr, fmt: str | None) -> pl.Expr:
    if fmt:
        return column.str.strptime(pl.Date, fmt, strict=False, exact=True)
    return column.str.strptime(pl.Date, "%Y-%m-%d", strict=False, exact=True)


def typed_fields(config: ContactsConfig) -> list[TypedField]:
    fields = []
    for name, spec in config.fields.items():
        raw = pl.col(name)
        if spec.type == "text":
            fields.append(TypedField(name, pl.Utf8, raw, ""))
        elif spec.type == "integer":
            parsed = pl.when(raw.str.contains(INTEGER_PATTERN)).then(
                raw.str.strip_prefix("+").cast(pl.Int64, strict=False)
            )
            fields.append(TypedField(name, pl.Int64, parsed, "not an integer"))
        elif spec.type == "float":
            parsed = pl.when(raw.str.contains(FLOAT_PATTERN)).then(raw.cast(pl.Float64, strict=False))
            fields.append(TypedField(name, pl.Float64, parsed, "not a number (use . for decimals)"))
        elif spec.type == "boolean":
            parsed = raw.str.to_lowercase().replace_strict(
                BOOLEAN_WORDS, default=None, return_dtype=pl.Boolean
            )
            fields.append(
                TypedField(name, pl.Boolean, parsed, "not a boolean (true/false, yes/no, 1/0, on/off)")
            )
        elif spec.type == "date":
            expected = (
                f"format {spec.format!r}"
                if spec.format
                else "ISO 8601 YYYY-MM-DD; set `format:` for other layouts"
            )
            fields.append(TypedField(name, pl.Date, _date_expr(raw, spec.format), f"not a date ({expected})"))
    return fields


# The layouts nearly every export uses (`2024-05-01`, `2024-05-01 10:22:33`, `2024-05-01T10:22:33`, with up to
# six digits of fraction, as sending services write them, and an optional `Z`) are parsed by polars in one
# vectorised pass. Every other value, and any value polars turns
# down (2024-02-30, a wall time that a DST change skips), gets Python's fromisoformat, the reference.
TIMESTAMP_SHAPE = r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)(Z?))?$"


TIMESTAMP_SCHEMA = {"value": pl.Utf8, "moment": pl.Datetime("us", "UTC"), "problem": pl.Utf8}


def parse_timestamps(values: pl.Series, timezone: str, now: dt.datetime | None) -> pl.DataFrame:
    """ISO 8601 date or date-time, row for row: `moment` (UTC) and `problem` (null for a null value).
    Naive values are in the configured timezone; with `now`, a moment after it is a problem (a signup
    cannot lie in the future)."""
    parts = pl.col("value").str.extract_groups(TIMESTAMP_SHAPE)
    day, clock, zulu = parts.struct.field("1"), parts.struct.field("2"), parts.struct.field("3")
    naive = pl.concat_str([day, pl.lit(" "), clock.fill_null("00:00:00")]).str.strptime(
        pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.f", strict=False
    )
    # polars reads year 0000, which Python (and ISO 8601 without extensions) has not: leave it to fromisoformat.
    naive = pl.when(day.str.starts_with("0000")).then(None).otherwise(naive)
    local = naive.dt.replace_time_zone(
        timezone, ambiguous="earliest", non_existent="null"
    ).dt.convert_time_zone("UTC")
    utc = naive.dt.replace_time_zone("UTC")
    fast = utc if timezone == "UTC" else pl.when(zulu == "Z").then(utc).otherwise(local)
    frame = pl.DataFrame({"value": values}, schema={"value": pl.Utf8}).with_columns(fast.alias("fast"))
    others = (
        frame.filter(pl.col("fast").is_null() & pl.col("value").is_not_null()).get_column("value").unique()
    )
    slow = _parse_timestamps_python(others.to_list(), timezone)
    result = frame.join(slow, on="value", how="left", maintain_order="left").select(
        pl.coalesce("fast", "moment").alias("moment"), "problem"
    )
    if now is None:
        return result
    future = pl.col("moment") > pl.lit(now).cast(pl.Datetime("us", "UTC"))
    return result.with_columns(
        pl.when(future).then(None).otherwise(pl.col("moment")).alias("moment"),
        pl.when(future).then(pl.lit("in the future")).otherwise(pl.col("problem")).alias("problem"),
    )


def _parse_timestamps_python(values: list[str], timezone: str) -> pl.DataFrame:
    zone = zoneinfo.ZoneInfo(timezone)
    moments, problems = [], []
    for value in values:
        try:
            moment = dt.datetime.fromisoformat(value.replace(" UTC", "Z"))
        except ValueError:
            moments.append(None)
            problems.append("not an ISO 8601 date or date-time")
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        moments.append(moment.astimezone(dt.UTC))
        problems.append(None)
    return pl.DataFrame({"value": values, "moment": moments, "problem": problems}, schema=TIMESTAMP_SCHEMA)


ISO_UTC = "%Y-%m-%dT%H:%M:%S%.fZ"


def timestamps_as_iso(column: pl.Expr, time_format: str | None) -> pl.Expr:
    """A time column in a manifest's `time_format` (epoch_s, epoch_ms, iso, or a strftime layout) as ISO 8601
    text, for `parse_timestamps`. A layout without a zone gives a naive time (the configured timezone
    applies); `%Z` is read only for UTC and GMT. A value the format does not read is kept as it is, so that
    an ISO value still reads and anything else is reported with its own text."""
    if time_format in (None, "iso"):
        return column
    text = column.str.strip_chars()
    if time_format in ("epoch_s", "epoch_ms"):
        micros = text.cast(pl.Float64, strict=False) * (1e6 if time_format == "epoch_s" else 1e3)
        iso = pl.from_epoch(micros.round().cast(pl.Int64, strict=False), time_unit="us").dt.strftime(ISO_UTC)
    else:
        moment = text.str.strptime(pl.Datetime("us"), time_format, strict=False, exact=True)
        if "%z" in time_format or "%:z" in time_format:
            iso = moment.dt.convert_time_zone("UTC").dt.strftime(ISO_UTC)
        elif "%Z" in time_format:
            utc = text.str.contains(r"(?i)(UTC|GMT)$")
            iso = pl.when(utc).then(moment.dt.strftime(ISO_UTC))
        else:
            iso = moment.dt.strftime("%Y-%m-%dT%H:%M:%S%.f")
    return pl.coalesce(iso, column)
