"""The vectorised timestamp parser gives exactly what Python's fromisoformat path gives, DST edges included."""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest

from assets.validation import fields as field_typing
from assets.validation.fields import _parse_timestamps_python, parse_timestamps


def sample_values(seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    values = [
        "2024-03-31 02:30:00",
        "2024-10-27 02:30:00",
        "2024-03-10 02:30:00",
        "2024-11-03 01:30:00",  # DST gaps and folds
        "2024-02-29",
        "2023-02-29",
        "2024-02-30 10:00:00",
        "2024-13-01",
        "2024-01-01T24:00:00",
        "2024-01-01T10:00:00Z",
        "2024-01-01 10:00:00Z",
        "2024-01-01T10:00:00+02:00",
        "2024-01-01T10:00:00.123456",
        "2024-01-01T10:00:00.5Z",  # the fractions sending services write
        "2024-01-01 10:00:00.123Z",
        "2024-01-01T10:00:00.1234567Z",
        "2024-01-01T10:00:00.Z",
        "2024-01-01 10:00:00 UTC",
        "20240101",
        "2024-W01-1",
        "not a date",
        "2024-1-1",
        " 2024-01-01",
        "2030-01-01",
    ]
    start = dt.datetime(2019, 1, 1)
    for _ in range(3000):
        moment = start + dt.timedelta(seconds=rng.randrange(12 * 365 * 86400))
        layout = rng.choice(
            [
                "%Y-%m-%d",
                "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%dT%H:%M:%SZ",
                "%Y-%m-%d %H:%M:%SZ",
                "%Y-%m-%dT%H:%M:%S.%fZ",
            ]
        )
        values.append(moment.strftime(layout))
    return values


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
def test_vectorised_timestamps_match_fromisoformat(timezone, monkeypatch):
    values = sample_values()
    now = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
    fallback: list[str] = []  # what the vectorised pass left to fromisoformat

    def counted(batch, zone):
        fallback.extend(batch)
        return _parse_timestamps_python(batch, zone)

    monkeypatch.setattr(field_typing, "_parse_timestamps_python", counted)
    fast = parse_timestamps(pl.Series(values + [None]), timezone, now)
    assert len(fallback) < len(values) // 10, "the vectorised pass should answer the ordinary layouts itself"
    reference = _parse_timestamps_python(values, timezone)
    assert fast.height == len(values) + 1 and fast.row(-1) == (None, None)
    for value, (moment, problem), (_, expected, expected_problem) in zip(
        values, fast.head(len(values)).iter_rows(), reference.iter_rows(), strict=True
    ):
        if expected is not None and expected > now:
            expected, expected_problem = None, "in the future"
        assert (moment, problem) == (expected, expected_problem), value
