"""Synthetic engagement-event files (DESIGN 3.3) with known answers, for the whole-job benchmark.

Vectorised with polars so that 10M rows take seconds, not minutes: every random draw is a seeded hash of
the row's global index (`pl.int_range(...).hash(seed)`), so the output depends only on the seed, the
addresses and the sizes (and on the polars version, whose hash is stable only within one version).

The mix: mostly sent/delivered/open/click, some soft_bounce, a few hard_bounce/complaint/unsubscribe and
purchases (with a value), a small share of rows for addresses that are not contacts, and about 0.5% rows
the pipeline must reject (a bad timestamp or an unknown event name), counted exactly. No signup or confirm
events, so event files create no contacts and the contact count stays the contact generator's answer.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from bench.generate import split_evenly

HEADER = ["email", "event", "occurred_at", "campaign_id", "list", "value", "url"]
# (event, share of valid rows); shares sum to 1.
EVENT_MIX = (
    ("sent", 0.38),
    ("delivered", 0.36),
    ("open", 0.15),
    ("click", 0.06),
    ("soft_bounce", 0.03),
    ("hard_bounce", 0.003),
    ("complaint", 0.001),
    ("unsubscribe", 0.004),
    ("purchase", 0.012),
)
NON_CONTACT_SHARE = 0.02  # rows for addresses that are not contacts (kept by the pipeline, contact_id null)
INVALID_SHARE = 0.005  # rows the pipeline must reject; half bad timestamp, half unknown event
BAD_TIMESTAMPS = ("2026-02-30T10:00:00Z", "yesterday", "31/12/2025 10:00", "")
UNKNOWN_EVENTS = ("opened", "bounce", "viewed", "")
# Lists from contacts.yaml, with their share of rows and campaign prefix; the rest have no list.
LISTS = (("newsletter", 0.65, "nl"), ("webinar-2026", 0.20, "web"), ("customers", 0.08, "cus"))
PROSPECT_PROVIDERS = ("gmail.com", "yahoo.com", "outlook.com", "web.de")
END = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
SPAN_SECONDS = 730 * 86400  # the two years before END
CHUNK_ROWS = 1_000_000  # rows built in memory at a time


@dataclass
class GeneratedEvents:
    files: list[Path]
    rows: int = 0
    invalid_rows: int = 0
    invalid_kinds: dict[str, int] = field(default_factory=dict)
    non_contact_rows: int = 0
    by_event: dict[str, int] = field(default_factory=dict)  # valid rows per event name
    seconds: float = 0.0
    bytes: int = 0


def _uniform(seed: int, stream: int) -> pl.Expr:
    """A uniform draw in [0, 1) per row, from the row index `i`; one independent stream per `stream`."""
    return (pl.col("i").hash(seed * 1000 + stream) // (1 << 11)).cast(pl.Float64) / float(1 << 53)


def _bits(seed: int, stream: int) -> pl.Expr:
    return pl.col("i").hash(seed * 1000 + stream)


def _pick(values: tuple[str, ...] | list[str], code: pl.Expr) -> pl.Expr:
    return pl.lit(pl.Series(values, dtype=pl.Utf8)).gather(code)


def _chunk(start: int, count: int, pool: pl.Series, contacts: int, seed: int) -> pl.DataFrame:
    """Rows `start` .. `start + count` of the whole event stream. `pool` = contact addresses, then prospects."""
    prospects = len(pool) - contacts
    names = [name for name, _ in EVENT_MIX]
    bounds = _cumulative([share for _, share in EVENT_MIX[:-1]])
    u_event, u_who, u_pick, u_list, u_bad = (_uniform(seed, k) for k in range(5))
    epoch = int(END.timestamp()) - (_bits(seed, 5) % SPAN_SECONDS).cast(pl.Int64)
    frame = pl.select(i=pl.int_range(start, start + count, dtype=pl.UInt64)).with_columns(
        code=pl.sum_horizontal(*[(u_event >= b).cast(pl.UInt32) for b in bounds]),
        # Skewed towards the first addresses (u^2): a few contacts are very active, many see little.
        who=pl.when(u_who < NON_CONTACT_SHARE)
        .then(contacts + (_bits(seed, 6) % max(prospects, 1)).cast(pl.Int64))
        .otherwise(
            pl.min_horizontal((u_pick * u_pick * contacts).floor().cast(pl.Int64), pl.lit(contacts - 1))
        ),
        list_code=pl.sum_horizontal(
            *[(u_list >= b).cast(pl.UInt32) for b in _cumulative([s for _, s, _ in LISTS])]
        ),
        moment=pl.from_epoch(epoch, time_unit="s"),
        bad=pl.when(u_bad < INVALID_SHARE / 2)
        .then(pl.lit(1))
        .when(u_bad < INVALID_SHARE)
        .then(pl.lit(2))
        .otherwise(pl.lit(0)),
        variant=(_bits(seed, 7) % 4).cast(pl.UInt32),
        amount=(_bits(seed, 8) % 20_000 + 500).cast(pl.Int64),
        product=(_bits(seed, 9) % 500).cast(pl.Int64),
    )
    list_names = [name for name, _, _ in LISTS] + [None]
    prefixes = [prefix for _, _, prefix in LISTS] + ["adhoc"]
    event = _pick(names, pl.col("code"))
    is_purchase = pl.col("code") == names.index("purchase")
    campaign = pl.format(
        "{}-{}", _pick(prefixes, pl.col("list_code")), pl.col("moment").dt.strftime("%G-w%V")
    )
    frame = frame.with_columns(
        email=pool.gather(frame.get_column("who")),
        event=pl.when(pl.col("bad") == 2).then(_pick(UNKNOWN_EVENTS, pl.col("variant"))).otherwise(event),
        occurred_at=pl.when(pl.col("bad") == 1)
        .then(_pick(BAD_TIMESTAMPS, pl.col("variant")))
        .otherwise(pl.col("moment").dt.strftime("%Y-%m-%dT%H:%M:%SZ")),
        campaign_id=pl.when(is_purchase).then(None).otherwise(campaign),
        list=pl.when(is_purchase)
        .then(None)
        .otherwise(pl.lit(pl.Series(list_names, dtype=pl.Utf8)).gather(pl.col("list_code"))),
        value=pl.when(is_purchase).then(
            pl.format("{}.{}", pl.col("amount") // 100, (pl.col("amount") % 100).cast(pl.Utf8).str.zfill(2))
        ),
        url=pl.when(pl.col("code") == names.index("click")).then(
            pl.format("https://shop.example.com/p/{}?utm_campaign={}", pl.col("product"), campaign)
        ),
        non_contact=pl.col("who") >= contacts,
    )
    return frame


def _cumulative(shares: list[float]) -> list[float]:
    out, total = [], 0.0
    for share in shares:
        total += share
        out.append(total)
    return out


def prospect_addresses(contacts: int, seed: int) -> list[str]:
    """Addresses that are never contacts: `prospect.<n>.<seed>@...` cannot match the contact generator's
    patterns (first.last<serial>, flast<serial>, first_<serial>)."""
    count = max(100, contacts // 10)
    return [f"prospect.{n}.{seed}@{PROSPECT_PROVIDERS[n % len(PROSPECT_PROVIDERS)]}" for n in range(count)]


def generate_events(
    inbox: Path,
    addresses: list[str],
    events: int,
    files: int,
    seed: int,
    prefix: str = "events",
    row_offset: int = 0,
) -> GeneratedEvents:
    """Write `events` rows over `files` CSV files named `<prefix>-NN.csv` (or `<prefix>.csv` for one file)
    into `inbox`. `addresses`: the contacts events are about; `row_offset` starts the row stream elsewhere
    (a second call with another offset or seed writes different rows)."""
    if not addresses:
        raise ValueError("events need at least one contact address")
    started = time.perf_counter()
    inbox.mkdir(parents=True, exist_ok=True)
    pool = pl.Series("email", list(addresses) + prospect_addresses(len(addresses), seed), dtype=pl.Utf8)
    result = GeneratedEvents(files=[])
    by_event: dict[str, int] = {}
    position = row_offset
    for index, count in enumerate(split_evenly(events, files), start=1):
        path = inbox / (f"{prefix}-{index:02d}.csv" if files > 1 else f"{prefix}.csv")
        with path.open("wb") as handle:
            if count == 0:
                pl.DataFrame(schema={name: pl.Utf8 for name in HEADER}).write_csv(handle)
            for offset in range(0, count, CHUNK_ROWS):
                size = min(CHUNK_ROWS, count - offset)
                frame = _chunk(position, size, pool, len(addresses), seed)
                frame.select(HEADER).write_csv(handle, include_header=offset == 0)
                stats = frame.select(
                    pl.col("bad").eq(1).sum().alias("bad_timestamp"),
                    pl.col("bad").eq(2).sum().alias("unknown_event"),
                    pl.col("non_contact").sum().alias("non_contact"),
                ).row(0, named=True)
                for kind in ("bad_timestamp", "unknown_event"):
                    result.invalid_kinds[kind] = result.invalid_kinds.get(kind, 0) + stats[kind]
                    result.invalid_rows += stats[kind]
                result.non_contact_rows += stats["non_contact"]
                for name, n in frame.filter(pl.col("bad") == 0).group_by("event").len().iter_rows():
                    by_event[name] = by_event.get(name, 0) + n
                position += size
        result.files.append(path)
        result.rows += count
        result.bytes += path.stat().st_size
    result.by_event = dict(sorted(by_event.items(), key=lambda item: -item[1]))
    result.seconds = time.perf_counter() - started
    return result
