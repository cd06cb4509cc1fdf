"""The vectorised path for the addresses the ASCII fast path turns down: non-ASCII local parts (`zoë@…`),
IDN and Punycode domains (`…@bücher.de`), special-use and odd-but-valid domains.

It vouches for an address only where it can reproduce email-validator's answer exactly, and leaves the rest
(null) to email-validator itself:
- the domain's verdict and its normalised and IDNA (ASCII) forms are email-validator's own, computed once per
  distinct domain (an audience has far fewer domains than addresses);
- the local part is checked by character classes: the dot-atom shape of RFC 6531 (ASCII atext plus any
  non-ASCII character), and email-validator's "unsafe character" rule (Unicode categories) decided once per
  distinct non-ASCII character with Python's own `unicodedata`, the tables email-validator uses, so a
  character polars' regex engine would classify by a newer Unicode version is still judged as
  email-validator judges it;
- the three length limits email-validator applies (the address as given, normalised, and with the domain in
  IDNA form), in UTF-8 bytes.
Invalid addresses, quoted local parts and anything else unusual are not vouched for: their error messages
come from email-validator. The differential tests (tests/test_email_fast_path.py, and 1M addresses in
`make bench BENCH_MODE=emails`) hold the two to the same verdicts, forms and messages.

Inputs are prepared (trimmed, NFC) as `prepare_emails` does, so each part of an address is NFC too and
email-validator's second, post-normalisation pass over the local part never changes anything.
"""

from __future__ import annotations

import unicodedata

import polars as pl
from email_validator import EmailNotValidError, validate_email

# RFC 5322 atext plus, per RFC 6531, every non-ASCII code point: email-validator's DOT_ATOM_TEXT_INTL.
ATOM_INTL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\x{80}-\x{10FFFF}]+"
LOCAL_SHAPE = rf"^{ATOM_INTL}(?:\.{ATOM_INTL})*$"
EMAIL_MAX_BYTES = 254  # email_validator.rfc_constants.EMAIL_MAX_LENGTH, in UTF-8 octets
# email-validator's check_unsafe_chars: letters, numbers, punctuation, symbols; marks (M) only after the first character
SAFE_CATEGORIES = ("L", "N", "P", "S")
PROBE_LOCAL = "a"  # a local part that is valid everywhere, to ask email-validator about a domain alone

VOUCHED_COLUMNS = {"email": pl.Utf8, "email_ascii": pl.Utf8}


# email-validator's answer about a domain depends on the domain alone (and the library's version): kept for
# the process, so that each file of a run does not ask again about the same few thousand domains.
_DOMAIN_VERDICTS: dict[str, tuple[str | None, str | None]] = {}


def _domain_verdict(name: str) -> tuple[str | None, str | None]:
    try:
        result = validate_email(f"{PROBE_LOCAL}@{name}", check_deliverability=False)
    except EmailNotValidError:
        return None, None
    return result.domain, result.ascii_domain


def domain_verdicts(domains: pl.Series) -> pl.DataFrame:
    """Per distinct domain: email-validator's normalised domain and its IDNA ASCII form, or nulls where the
    domain is not valid (those addresses go to email-validator whole, for its exact message)."""
    names = domains.drop_nulls().unique().to_list()
    for name in names:
        if name not in _DOMAIN_VERDICTS:
            _DOMAIN_VERDICTS[name] = _domain_verdict(name)
    verdicts = [_DOMAIN_VERDICTS[name] for name in names]
    return pl.DataFrame(
        {
            "domain": names,
            "domain_normalised": [verdict[0] for verdict in verdicts],
            "domain_ascii": [verdict[1] for verdict in verdicts],
        },
        schema={"domain": pl.Utf8, "domain_normalised": pl.Utf8, "domain_ascii": pl.Utf8},
    )


def character_class(characters: list[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(c):X}}}" for c in characters) + "]"


def non_ascii_characters(values: pl.Series) -> list[str]:
    """The distinct non-ASCII characters in these strings. An audience's names repeat their letters: the
    non-ASCII residue of each string is made distinct before it is split into characters."""
    residues = values.str.replace_all(r"[\x00-\x7F]+", "").unique()
    residues = residues.filter(residues.is_not_null() & (residues != ""))
    return residues.str.split("").explode().drop_nulls().unique().sort().to_list()


def unsafe_local_characters(characters: list[str]) -> tuple[list[str], list[str]]:
    """Of these (non-ASCII) characters of local parts: those email-validator calls unsafe anywhere (spaces,
    controls, format characters such as bidi marks and zero-width joiners, unassigned code points), and the
    combining marks, unsafe as a first character only. ASCII atext is always safe."""
    unsafe, marks = [], []
    for character in characters:
        category = unicodedata.category(character)
        if category[0] == "M":
            marks.append(character)
        elif category[0] not in SAFE_CATEGORIES:
            unsafe.append(character)
    return unsafe, marks


def lowered_as_python(values: pl.Series, characters: list[str]) -> pl.Series:
    """`str.lower()` of each value, as email-validator's callers lower-case (Python's Unicode tables). polars'
    to_lowercase follows its own Unicode version, so it is used only where it provably agrees: each of the
    strings' distinct non-ASCII characters lower-cases the same way in both (lower-casing is per character,
    except for the final sigma, which depends on its neighbours and is left to Python)."""
    by_polars = pl.Series(characters, dtype=pl.Utf8).str.to_lowercase().to_list()
    differ = [
        c for c, lowered in zip(characters, by_polars, strict=True) if c == "\u03a3" or lowered != c.lower()
    ]
    lowered = values.str.to_lowercase()
    if not differ:
        return lowered
    positions = values.str.contains(character_class(differ)).fill_null(False).arg_true()
    exact = [value.lower() for value in values.gather(positions).to_list()]
    return lowered.scatter(positions, pl.Series(exact, dtype=pl.Utf8))


def international_verdicts(prepared: pl.Series) -> pl.DataFrame:
    """Row for row: email (normalised, lower-cased) and email_ascii (its ASCII form, null when the local
    part is not ASCII) where email-validator's verdict is certainly "valid"; both null where it must be asked."""
    parts = prepared.str.splitn("@", 2)
    frame = pl.DataFrame(
        {
            "prepared": prepared,
            "local": parts.struct.field("field_0"),
            "domain": parts.struct.field("field_1"),
        }
    )
    local_characters = non_ascii_characters(frame.get_column("local"))
    unsafe, marks = unsafe_local_characters(local_characters)
    domains = domain_verdicts(frame.get_column("domain"))
    local, local_bytes = pl.col("local"), pl.col("local").str.len_bytes()
    vouched = (
        pl.col("domain_normalised").is_not_null()  # a valid domain (a null domain: no @ at all)
        & local.str.contains(LOCAL_SHAPE)
        & (pl.col("prepared").str.len_bytes() <= EMAIL_MAX_BYTES)
        & (local_bytes + 1 + pl.col("domain_normalised").str.len_bytes() <= EMAIL_MAX_BYTES)
        & (local_bytes + 1 + pl.col("domain_ascii").str.len_bytes() <= EMAIL_MAX_BYTES)
    )
    if unsafe:
        vouched = vouched & ~local.str.contains(character_class(unsafe))
    if marks:
        vouched = vouched & ~local.str.slice(0, 1).is_in(marks)
    answers = (
        frame.lazy()
        .join(domains.lazy(), on="domain", how="left", maintain_order="left")
        .select(
            pl.when(vouched).then(local + "@" + pl.col("domain_normalised")).alias("normalised"),
            pl.when(vouched & local.str.contains(r"^[\x00-\x7F]*$"))
            .then((local + "@" + pl.col("domain_ascii")).str.to_lowercase())
            .alias("email_ascii"),
        )
        .collect()
    )
    domain_characters = non_ascii_characters(domains.get_column("domain_normalised").drop_nulls())
    characters = sorted(set(local_characters) | set(domain_characters))
    lowered = lowered_as_python(answers.get_column("normalised"), characters).alias("email")
    return answers.select(lowered, "email_ascii").cast(VOUCHED_COLUMNS)
