"""Validation and normalisation of staged contact rows (DESIGN 5.1).

Email verdicts come from email-validator, computed once per distinct address (a run-wide cache),
never once per row. Custom fields are typed here; a bad value becomes a field issue, never a reject.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass

import polars as pl
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from pipelines.config import ContactsConfig

STATUSES = ("subscribed", "unconfirmed", "unsubscribed", "bounced", "complained")
# Spellings other tools export, folded to ours (Mailchimp "cleaned" = bounced addresses).
STATUS_ALIASES = {"cleaned": "bounced", "pending": "unconfirmed", "unsubscribe": "unsubscribed", "active": "subscribed"}
BOOLEAN_WORDS = {"true": True, "yes": True, "1": True, "on": True, "false": False, "no": False, "0": False, "off": False}
INTEGER_PATTERN = r"^[+-]?\d+$"
FLOAT_PATTERN = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
# The fast path: plain ASCII dot-atom addresses at ordinary domains, for which email-validator's verdict is
# "valid" and its normalised form is the input with the domain lower-cased. Anything else (unicode, quotes,
# IDN or Punycode, special-use names, long parts, odd labels) goes to email-validator itself. The
# differential test in tests/test_email_fast_path.py holds the two to the same answers.
FAST_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
FAST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
SPECIAL_USE = frozenset(SPECIAL_USE_DOMAIN_NAMES)


@dataclass(frozen=True)
class EmailVerdict:
    email: str | None  # identity key: normalised form, lower-cased whole
    email_ascii: str | None
    error: str | None


def prepare_email(raw: str) -> str:
    """What is handed to email-validator: trimmed, Unicode NFC."""
    return unicodedata.normalize("NFC", raw.strip())


def fast_verdict(prepared: str) -> str | None:
    """The normalised, lower-cased address when the fast path can vouch for it, else None (ask email-validator)."""
    if len(prepared) > 254 or not prepared.isascii() or prepared.count("@") != 1:
        return None
    local, _, domain = prepared.partition("@")
    if len(local) > 64 or not FAST_LOCAL.match(local):
        return None
    domain = domain.lower()
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 253 or not labels[-1].isalpha() or labels[-1] in SPECIAL_USE:
        return None
    for label in labels:
        if not FAST_LABEL.match(label) or "--" in label:
            return None
    return (local + "@" + domain).lower()


def fold_alias(email: str) -> str:
    """gmail ignores dots and +tags in the local part: fold them when the config asks to."""
    local, _, domain = email.rpartition("@")
    if domain not in GMAIL_DOMAINS:
        return email
    return local.split("+", 1)[0].replace(".", "") + "@gmail.com"


class EmailValidatorCache:
    """email-validator's verdict per distinct prepared address, kept for the whole run."""

    def __init__(self, fold_provider_aliases: bool = False) -> None:
        self.fold_provider_aliases = fold_provider_aliases
        self._verdicts: dict[str, EmailVerdict] = {}
        self.calls = 0  # addresses email-validator itself had to judge
        self.fast = 0  # addresses the fast path vouched for

    def verdict(self, prepared: str) -> EmailVerdict:
        cached = self._verdicts.get(prepared)
        if cached is None:
            cached = self._validate(prepared)
            self._verdicts[prepared] = cached
        return cached

    def _validate(self, prepared: str) -> EmailVerdict:
        fast = fast_verdict(prepared)
        if fast is not None:
            self.fast += 1
            email = fold_alias(fast) if self.fold_provider_aliases else fast
            return EmailVerdict(email, email, None)
        self.calls += 1
        try:
            result = validate_email(prepared, check_deliverability=False)
        except EmailNotValidError as exc:
            return EmailVerdict(None, None, str(exc))
        email = result.normalized.lower()
        ascii_email = result.ascii_email.lower() if result.ascii_email else None
        if self.fold_provider_aliases:
            email = fold_alias(email)
            ascii_email = fold_alias(ascii_email) if ascii_email else None
        return EmailVerdict(email, ascii_email, None)

    def verdict_frame(self, prepared: pl.Series) -> pl.DataFrame:
        """One row per distinct prepared address: prepared, email, email_ascii, email_error."""
        distinct = prepared.drop_nulls().unique().to_list()
        verdicts = [self.verdict(value) for value in distinct]
        return pl.DataFrame(
            {
                "prepared": distinct,
                "email": [v.email for v in verdicts],
                "email_ascii": [v.email_ascii for v in verdicts],
                "email_error": [v.error for v in verdicts],
            },
            schema={"prepared": pl.Utf8, "email": pl.Utf8, "email_ascii": pl.Utf8, "email_error": pl.Utf8},
        )


def blank_to_null(name: str) -> pl.Expr:
    """Trim a text column; a cell that is empty after trimming is missing."""
    trimmed = pl.col(name).str.strip_chars()
    return pl.when(trimmed == "").then(None).otherwise(trimmed).alias(name)


def parse_tags(column: pl.Expr) -> pl.Expr:
    """`"customer, VIP"` -> ["customer", "vip"]: trimmed, lower-cased, de-duplicated, sorted."""
    return (
        column.str.split(",")
        .list.eval(pl.element().str.strip_chars().str.to_lowercase().filter(pl.element() != ""))
        .list.unique()
        .list.sort()
    )


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
            parsed = pl.when(raw.str.contains(INTEGER_PATTERN)).then(raw.str.strip_prefix("+").cast(pl.Int64, strict=False))
            fields.append(TypedField(name, pl.Int64, parsed, "not an integer"))
        elif spec.type == "float":
            parsed = pl.when(raw.str.contains(FLOAT_PATTERN)).then(raw.cast(pl.Float64, strict=False))
            fields.append(TypedField(name, pl.Float64, parsed, "not a number (use . for decimals)"))
        elif spec.type == "boolean":
            parsed = raw.str.to_lowercase().replace_strict(BOOLEAN_WORDS, default=None, return_dtype=pl.Boolean)
            fields.append(TypedField(name, pl.Boolean, parsed, "not a boolean (true/false, yes/no, 1/0, on/off)"))
        elif spec.type == "date":
            expected = f"format {spec.format!r}" if spec.format else "ISO 8601 YYYY-MM-DD; set `format:` for other layouts"
            fields.append(TypedField(name, pl.Date, _date_expr(raw, spec.format), f"not a date ({expected})"))
    return fields


def parse_timestamps(
    values: list[str], timezone: str, now: dt.datetime | None
) -> dict[str, tuple[dt.datetime | None, str | None]]:
    """ISO 8601 date or date-time per distinct value; naive values are in the configured timezone.
    With `now`, a moment after it is a problem (a signup date cannot lie in the future)."""
    zone = zoneinfo.ZoneInfo(timezone)
    parsed: dict[str, tuple[dt.datetime | None, str | None]] = {}
    for value in values:
        try:
            moment = dt.datetime.fromisoformat(value.replace(" UTC", "Z"))
        except ValueError:
            parsed[value] = (None, "not an ISO 8601 date or date-time")
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        moment = moment.astimezone(dt.timezone.utc)
        if now is not None and moment > now:
            parsed[value] = (None, "in the future")
        else:
            parsed[value] = (moment, None)
    return parsed


def normalise_status(value: str) -> str | None:
    word = re.sub(r"\s+", " ", value).strip().lower()
    word = STATUS_ALIASES.get(word, word)
    return word if word in STATUSES else None
