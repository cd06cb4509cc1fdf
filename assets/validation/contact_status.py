"""A contact row's status from another tool's words: its status column (`status_values`, then our words and
the common aliases), its boolean flag columns (`status_flags`) and the columns whose any value means a status
(`status_if_filled`). The most restrictive status wins. A status word or flag value that is not understood
never makes a row mailable: the row is rejected as `unknown_status`, with the value and the manifest key
that would map it."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from assets.validation.fields import BOOLEAN_WORDS, STATUS_ALIASES
from pipelines.vocabulary import STATUSES

REJECT_UNKNOWN_STATUS = "unknown_status"
# Most restrictive last: complained > bounced > unsubscribed > unconfirmed > subscribed.
RESTRICTIVENESS = {"subscribed": 1, "unconfirmed": 2, "unsubscribed": 3, "bounced": 4, "complained": 5}
assert set(RESTRICTIVENESS) == set(STATUSES)


@dataclass(frozen=True)
class StatusReading:
    """How a file's statuses read: the manifest's keys over its preset's."""

    status_values: dict[str, str] = field(default_factory=dict)
    # flag column name -> (the frame column holding its cells, the status its true value means)
    status_flags: dict[str, tuple[str, str]] = field(default_factory=dict)
    status_if_filled: dict[str, tuple[str, str]] = field(default_factory=dict)
    preset: str | None = None


def _word(column: pl.Expr) -> pl.Expr:
    return column.str.replace_all(r"\s+", " ").str.strip_chars().str.to_lowercase()


def status_words(reading: StatusReading) -> dict[str, str]:
    """Every status word this file understands, lower case, to ours: ours, the aliases, the file's own."""
    words = {status: status for status in STATUSES} | STATUS_ALIASES
    return words | {" ".join(their.split()).lower(): ours for their, ours in reading.status_values.items()}


def _rank(status: pl.Expr) -> pl.Expr:
    return status.replace_strict(RESTRICTIVENESS, default=None, return_dtype=pl.Int8)


def with_statuses(frame: pl.DataFrame, reading: StatusReading) -> pl.DataFrame:
    """`frame` (a `status` text column, trimmed, and the flag columns) plus `status_typed` and, for a row
    whose status cannot be told, `status_problem`."""
    words = status_words(reading)
    understood = f"statuses: {', '.join(STATUSES)}" + (
        f"; preset {reading.preset} maps {', '.join(sorted(reading.status_values))}" if reading.preset else ""
    )
    word = _word(pl.col("status"))
    candidates = [word.replace_strict(words, default=None, return_dtype=pl.Utf8)]
    problems = [
        pl.when(pl.col("status").is_not_null() & candidates[0].is_null()).then(
            pl.format(
                "status '{}' is not understood; map it with `status_values: {{{}: <status>}}` in the manifest ("
                + understood
                + ")",
                pl.col("status"),
                word,
            )
        )
    ]
    for name, (column, status) in reading.status_flags.items():
        flag = _word(pl.col(column))
        truth = flag.replace_strict(BOOLEAN_WORDS, default=None, return_dtype=pl.Boolean)
        candidates.append(pl.when(truth).then(pl.lit(status)))
        problems.append(
            pl.when((flag != "") & truth.is_null()).then(
                pl.format(
                    f"status flag '{name}' is '{{}}', not a boolean (true/false, yes/no, 1/0, on/off); "
                    f"`status_flags: {{{{{name}: {status}}}}}` reads it",
                    pl.col(column),
                )
            )
        )
    for column, status in reading.status_if_filled.values():
        filled = pl.col(column).str.strip_chars() != ""
        candidates.append(pl.when(filled).then(pl.lit(status)))
    ranks = pl.max_horizontal([_rank(candidate) for candidate in candidates])
    by_rank = {rank: status for status, rank in RESTRICTIVENESS.items()}
    return frame.with_columns(
        ranks.replace_strict(by_rank, default=None, return_dtype=pl.Utf8).alias("status_typed"),
        pl.coalesce(problems).alias("status_problem"),
    )
