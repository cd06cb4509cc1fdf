"""Email addresses (DESIGN 5.1): the vectorised fast path, email-validator for what it cannot vouch for,
provider-alias folding, and the verdict cache kept in the warehouse.

Email verdicts come from email-validator, computed once per distinct address (a run-wide cache),
never once per row. Custom fields, timestamps and statuses are typed in assets/validation/fields.py.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import duckdb
import polars as pl
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from assets.ingest.parsed_file import PY_WHITESPACE
from assets.validation.international_emails import (
    character_class,
    international_verdicts,
    non_ascii_characters,
)
from pipelines.warehouse.connection import registered
from pipelines.warehouse.tombstones import erasure_salt, has_tombstones

GMAIL_DOMAINS = ("gmail.com", "googlemail.com")


# The fast path, one vectorised pass over a column of addresses: plain ASCII dot-atom addresses at
# ordinary domains, for which email-validator's verdict is "valid" and its normalised form is the input
# with the domain lower-cased. What it turns down (unicode local parts, IDN or Punycode domains, special-use
# names, long parts, odd labels) takes the international path (international_emails.py), which asks
# email-validator once per distinct domain; what neither vouches for (invalid addresses among them, for the
# exact message) goes to email-validator itself. The differential tests (tests/test_email_fast_path.py, and
# 1M addresses in `make bench BENCH_MODE=emails`) hold them to the same answers.
ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+"


LABEL = r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?"


FAST_SHAPE = rf"^{ATOM}(?:\.{ATOM})*@(?:{LABEL}\.)+[a-z]{{1,63}}$"  # matched against the lower-cased address


SPECIAL_USE = sorted(set(SPECIAL_USE_DOMAIN_NAMES))


# Below this many unknown addresses a worker pool costs more to start than it saves.
PARALLEL_MIN = 20_000


VERDICT_COLUMNS = {"prepared": pl.Utf8, "email": pl.Utf8, "email_ascii": pl.Utf8, "email_error": pl.Utf8}


@dataclass(frozen=True)
class EmailVerdict:
    email: str | None  # identity key: normalised form, lower-cased whole
    email_ascii: str | None
    error: str | None


def prepare_email(raw: str) -> str:
    """What is handed to email-validator: trimmed, Unicode NFC."""
    return unicodedata.normalize("NFC", raw.strip())


@functools.cache
def _composing_seconds() -> frozenset[str]:
    """Starters (combining class 0) that NFC can compose with the character before them: the second half of
    a canonical pair, and Hangul's vowel and trailing jamo (composed by rule, not by table). From this
    Python's own tables; canonical decompositions end below U+2FA1E."""
    seconds = {chr(code) for code in (*range(0x1161, 0x1176), *range(0x11A8, 0x11C3))}
    for code in range(0x80, 0x2FA1E):
        decomposition = unicodedata.decomposition(chr(code))
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2 and not unicodedata.combining(chr(int(parts[1], 16))):
                seconds.add(chr(int(parts[1], 16)))
    return frozenset(seconds)


def nfc_sensitive(character: str) -> bool:
    """Whether NFC can change a string because it holds this character. Otherwise (by Unicode's NFC quick
    check: combining class 0, unchanged alone, composing with nothing before it) a string made of such
    characters and ASCII is NFC already: accented Latin, Cyrillic, CJK, and most of what audiences hold."""
    return (
        bool(unicodedata.combining(character))
        or unicodedata.normalize("NFC", character) != character
        or character in _composing_seconds()
    )


def prepare_emails(raw: pl.Series) -> pl.Series:
    """`prepare_email` over a column: polars trims (the same characters as str.strip); NFC is computed, by
    Python, only for the values that hold a character NFC can change (`nfc_sensitive`)."""
    trimmed = raw.str.strip_chars(PY_WHITESPACE).alias("prepared")
    non_ascii = (~trimmed.str.contains(r"^[\x00-\x7F]*$")).fill_null(False)
    if not non_ascii.any():
        return trimmed
    sensitive = [c for c in non_ascii_characters(trimmed.filter(non_ascii)) if nfc_sensitive(c)]
    if not sensitive:
        return trimmed
    positions = trimmed.str.contains(character_class(sensitive)).fill_null(False).arg_true()
    normalised = [unicodedata.normalize("NFC", value) for value in trimmed.gather(positions).to_list()]
    return trimmed.scatter(positions, pl.Series(normalised, dtype=pl.Utf8))


def ascii_verdicts(prepared: pl.Series) -> pl.Series:
    """The normalised, lower-cased address of each plain ASCII address at an ordinary domain, else null."""
    frame = pl.DataFrame({"prepared": prepared}).with_columns(
        pl.col("prepared").str.to_lowercase().alias("lowered")
    )
    length = pl.col("prepared").str.len_bytes()
    local_length = pl.col("prepared").str.find("@", literal=True)
    vouched = (
        # Printable ASCII only, so bytes = characters; checked on the input, because lower-casing can turn
        # a non-ASCII character into ASCII (the Kelvin sign into k).
        pl.col("prepared").str.contains(r"^[\x21-\x7E]*$")
        & (length <= 254)
        & pl.col("lowered").str.contains(FAST_SHAPE)  # so exactly one @
        & (local_length <= 64)
        & (length - local_length - 1 <= 253)
        & ~pl.col("lowered").str.contains("@.*--")  # no label of the domain holds "--" (IDNA's reserved form)
        & ~pl.col("lowered").str.extract(r"\.([a-z]+)$").is_in(SPECIAL_USE)
    )
    return frame.select(pl.when(vouched).then(pl.col("lowered")).alias("email")).get_column("email")


def vouched_verdicts(prepared: pl.Series) -> pl.DataFrame:
    """Row for row, email and email_ascii where the vectorised paths can vouch for email-validator's verdict
    (valid, with exactly these forms); both null where email-validator itself must be asked. Plain ASCII
    addresses take one pass; the rest (international, IDN, unusual domains) the per-domain path of
    assets/validation/international_emails.py."""
    plain = ascii_verdicts(prepared)  # for these, email_ascii is the email itself
    rest = (plain.is_null() & prepared.is_not_null() & (prepared != "")).fill_null(False)
    if not rest.any():
        return pl.DataFrame({"email": plain, "email_ascii": plain})
    positions = rest.arg_true()
    international = international_verdicts(prepared.gather(positions))
    # scatter writes in place: each column starts from its own copy of the plain answers
    return pl.DataFrame(
        {
            column: plain.clone().scatter(positions, international.get_column(column))
            for column in ("email", "email_ascii")
        }
    )


def fold_alias(email: str) -> str:
    """gmail ignores dots and +tags in the local part: fold them when the config asks to."""
    local, _, domain = email.rpartition("@")
    if domain not in GMAIL_DOMAINS:
        return email
    return local.split("+", 1)[0].replace(".", "") + "@gmail.com"


def fold_aliases(emails: pl.Expr) -> pl.Expr:
    """`fold_alias` for single-@ addresses (those of the fast path), as an expression."""
    parts = emails.str.split_exact("@", 1)
    local, domain = parts.struct.field("field_0"), parts.struct.field("field_1")
    folded = local.str.replace(r"\+.*$", "").str.replace_all(".", "", literal=True) + pl.lit("@gmail.com")
    return pl.when(domain.is_in(GMAIL_DOMAINS)).then(folded).otherwise(emails)


def judge(prepared: str) -> tuple[str | None, str | None, str | None]:
    """email-validator's verdict: (normalised lower-cased email, its ASCII form, error)."""
    try:
        result = validate_email(prepared, check_deliverability=False)
    except EmailNotValidError as exc:
        return None, None, str(exc)
    return result.normalized.lower(), result.ascii_email.lower() if result.ascii_email else None, None


def _judge_chunk(values: list[str]) -> list[tuple[str | None, str | None, str | None]]:
    return [judge(value) for value in values]


def judge_all(values: list[str]) -> list[tuple[str | None, str | None, str | None]]:
    """email-validator over many addresses, spread over the cores when there are enough to pay for it."""
    workers = min(os.cpu_count() or 1, 8)
    if len(values) < PARALLEL_MIN or workers < 2:
        return _judge_chunk(values)
    size = -(-len(values) // (workers * 4))
    chunks = [values[i : i + size] for i in range(0, len(values), size)]
    # spawn, not fork: the parent holds DuckDB and polars thread pools, which a fork would copy mid-flight.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return [verdict for chunk in pool.map(_judge_chunk, chunks) for verdict in chunk]


def _verdict_rows(values: list[str], verdicts: list[EmailVerdict]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "prepared": values,
            "email": [v.email for v in verdicts],
            "email_ascii": [v.email_ascii for v in verdicts],
            "email_error": [v.error for v in verdicts],
        },
        schema=VERDICT_COLUMNS,
    )


class EmailValidatorCache:
    """Verdicts per distinct prepared address. The fast path is recomputed (it is cheaper than a lookup);
    email-validator's verdicts are kept for the run and, once a warehouse is attached, across runs in
    `staging.email_verdicts`, so no address is ever judged twice."""

    def __init__(self, fold_provider_aliases: bool = False) -> None:
        self.fold_provider_aliases = fold_provider_aliases
        self._verdicts: dict[str, EmailVerdict] = {}
        self.con: duckdb.DuckDBPyConnection | None = None
        self.calls = 0  # addresses email-validator itself judged
        self.fast = 0  # values the fast path vouched for (every row it answered, repeats included)

    def attach(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def verdict(self, prepared: str) -> EmailVerdict:
        email, email_ascii, error = self.verdict_frame(pl.Series([prepared], dtype=pl.Utf8)).row(0)[1:]
        return EmailVerdict(email, email_ascii, error)

    def verdict_frame(self, prepared: pl.Series) -> pl.DataFrame:
        """One row per distinct prepared address: prepared, email, email_ascii, email_error."""
        distinct = prepared.drop_nulls().unique()
        return self.verdicts_for(distinct)

    def verdicts_for(self, prepared: pl.Series) -> pl.DataFrame:
        """The verdict of each value, row for row: prepared, email, email_ascii, email_error (all null for a
        null or empty value). The fast path answers in one vectorised pass; the rest come from
        email-validator, once per distinct address."""
        prepared = prepared.rename("prepared")
        fast = vouched_verdicts(prepared)
        if self.fold_provider_aliases:
            fast = fast.select(
                fold_aliases(pl.col("email")).alias("email"),
                fold_aliases(pl.col("email_ascii")).alias("email_ascii"),
            )
        fast = fast.rename({"email": "fast", "email_ascii": "fast_ascii"})
        unanswered = fast.get_column("fast").is_null() & prepared.is_not_null() & (prepared != "")
        self.fast += prepared.len() - fast.get_column("fast").null_count()
        slow = self._slow_verdicts(prepared.filter(unanswered).unique().to_list())
        answered_fast = pl.col("fast").is_not_null()
        return (
            fast.with_columns(prepared)
            .join(slow, on="prepared", how="left", maintain_order="left")
            .select(
                "prepared",
                pl.when(answered_fast).then(pl.col("fast")).otherwise(pl.col("email")).alias("email"),
                pl.when(answered_fast)
                .then(pl.col("fast_ascii"))
                .otherwise(pl.col("email_ascii"))
                .alias("email_ascii"),
                pl.when(answered_fast).then(None).otherwise(pl.col("email_error")).alias("email_error"),
            )
            .cast(VERDICT_COLUMNS)
        )

    def _slow_verdicts(self, values: list[str]) -> pl.DataFrame:
        unknown = [value for value in values if value not in self._verdicts]
        if unknown and self.con is not None:
            unknown = self._load_stored(unknown)
        if unknown:
            judged = judge_all(unknown)
            self.calls += len(unknown)
            fresh = {value: self._folded(*verdict) for value, verdict in zip(unknown, judged, strict=True)}
            self._verdicts.update(fresh)
            if self.con is not None:
                self._store(fresh)
        return _verdict_rows(values, [self._verdicts[value] for value in values])

    def _folded(self, email: str | None, email_ascii: str | None, error: str | None) -> EmailVerdict:
        if self.fold_provider_aliases and email is not None:
            return EmailVerdict(fold_alias(email), fold_alias(email_ascii) if email_ascii else None, error)
        return EmailVerdict(email, email_ascii, error)

    def _load_stored(self, values: list[str]) -> list[str]:
        """Take verdicts of earlier runs from the warehouse; returns the addresses still unknown."""
        wanted = pl.DataFrame({"prepared": values}, schema={"prepared": pl.Utf8})
        with registered(self.con, "_wanted", wanted):
            rows = self.con.execute(
                """select v.prepared, v.email, v.email_ascii, v.error from staging.email_verdicts v
                   join _wanted w using (prepared) where v.folded = ?""",
                [self.fold_provider_aliases],
            ).fetchall()
        for prepared, email, email_ascii, error in rows:
            self._verdicts[prepared] = EmailVerdict(email, email_ascii, error)
        return [value for value in values if value not in self._verdicts]

    def _store(self, fresh: dict[str, EmailVerdict]) -> None:
        # An erased address that comes back in a file is rejected later; its verdict must not be kept
        # for it (the cache would hold the address again).
        parameters = {"folded": self.fold_provider_aliases}
        not_erased = ""
        if has_tombstones(self.con):
            parameters["salt"] = erasure_salt(self.con)
            not_erased = "and (email is null or sha256($salt || email) not in (select email_sha256 from suppressions where reason = 'erased'))"
        with registered(self.con, "_fresh", _verdict_rows(list(fresh), list(fresh.values()))):
            self.con.execute(
                f"""insert into staging.email_verdicts (prepared, folded, email, email_ascii, error)
                    select prepared, $folded, email, email_ascii, email_error from _fresh
                    where prepared not in (select prepared from staging.email_verdicts where folded = $folded) {not_erased}""",
                parameters,
            )
