"""The run's as-of date: it sets time windows (engagement, segments, metrics), never hides inputs.

Set with `contacts run --as-of YYYY-MM-DD`, which tags the Dagster run `contacts/as_of`; a run without the
tag (a schedule, the UI, `dg launch`) uses today in the configured timezone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

AS_OF_TAG = "contacts/as_of"


def parse_as_of(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"as-of date {value!r} is not YYYY-MM-DD") from None


def resolve_as_of(tags: dict[str, str], timezone: str) -> dt.date:
    if tags.get(AS_OF_TAG):
        return parse_as_of(tags[AS_OF_TAG])
    return dt.datetime.now(zoneinfo.ZoneInfo(timezone)).date()


def end_of_day(day: dt.date, timezone: str) -> dt.datetime:
    """The first instant after `day` in the configured timezone, as UTC."""
    zone = zoneinfo.ZoneInfo(timezone)
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(dt.UTC)
