"""Synthetic contact files with known answers, for the benchmark.

The files look like real exports from several tools: the same person appears in more than one file,
often spelled with different capitals or padded with spaces, and about 2% of rows carry an address
that cannot be used. Because we write the rows, we also know what the pipeline must end up with
(distinct valid addresses, rejected rows, distinct strings the email validator must see), which lets
the bench check correctness as well as speed.

Plain `random` with a fixed seed: numpy is not a pipeline dependency, and a per-row Python loop writes
a million rows in a few seconds, which is small next to what is being measured.

`international` is the share of new addresses that are not plain ASCII. The default, 1%, is the mix the
bench has always written (accented names at ordinary providers), byte for byte; above it, the extra share
is an international audience: accented, Cyrillic, Chinese and Japanese local parts, IDN domains, and both.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import random
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from email_validator import validate_email

from assets.validation.emails import vouched_verdicts

SEED = 20260101
HEADER = ["email", "first_name", "last_name", "tags", "company", "signup date"]  # "signup date" -> created_at
MANIFEST = "consent: confirmed\nmode: subscribe\nlists: [newsletter]\n"

INVALID_SHARE = 0.02  # rows whose address must be rejected
DUPLICATE_SHARE = 0.15  # rows that repeat an address already written (same file or an earlier one)
PADDED_SHARE = 0.03  # rows whose address has leading/trailing spaces

FIRST = (
    "james mary robert patricia john jennifer michael linda david elizabeth william barbara richard susan "
    "joseph jessica thomas sarah charles karen christopher lisa daniel nancy matthew betty anthony sandra "
    "mark margaret donald ashley steven kimberly andrew emily paul donna joshua michelle kenneth carol "
    "kevin amanda brian melissa george deborah timothy stephanie ronald rebecca jason sharon edward laura "
    "jeffrey cynthia ryan amy jacob kathleen gary angela nicholas shirley eric emma jonathan brenda "
    "stephen pamela larry nicole justin anna scott samantha brandon katherine benjamin christine"
).split()
LAST = (
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez "
    "wilson anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark "
    "ramirez lewis robinson walker young allen king wright scott torres nguyen hill flores green adams "
    "nelson baker hall rivera campbell mitchell carter roberts gomez phillips evans turner diaz parker "
    "cruz edwards collins reyes stewart morris morales murphy cook rogers gutierrez ortiz morgan cooper "
    "peterson bailey reed kelly howard ramos kim cox ward richardson watson brooks chavez wood"
).split()
# A few non-ASCII names (already NFC) so that internationalised addresses are part of the load.
UNICODE_FIRST = ("zoë", "josé", "søren", "jürgen", "anaïs", "björn", "çelik", "łukasz")
UNICODE_LAST = ("müller", "núñez", "østergård", "dvořák", "öztürk", "françois", "sørensen", "żak")
# The share of new addresses built from those names in every mix. It is drawn first and as it always was,
# so the default mix writes the same bytes as before `international` existed.
LEGACY_UNICODE_SHARE = 0.01
DEFAULT_INTERNATIONAL = LEGACY_UNICODE_SHARE  # `make bench BENCH_MIX=ascii`
INTERNATIONAL_MIX = 1 / 3  # `make bench BENCH_MIX=international`
# Of the international addresses beyond the legacy share: a non-ASCII local part at an ordinary provider,
# an ASCII local part at an IDN domain, and (the rest) both.
LOCAL_ONLY_BELOW = 0.45
DOMAIN_ONLY_BELOW = 0.9
PROVIDERS = (
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "icloud.com",
    "gmx.de",
    "orange.fr",
    "web.de",
)
COMPANIES = [
    f"{word}{suffix}"
    for word in (
        "acme",
        "globex",
        "initech",
        "umbrella",
        "hooli",
        "stark",
        "wayne",
        "tyrell",
        "cyberdyne",
        "soylent",
        "vandelay",
        "wonka",
    )
    for suffix in ("", "-labs", "-corp", "-group", "-systems")
]


@dataclass(frozen=True)
class Script:
    """Names in one writing system, the providers its speakers use and IDN domains written in it.

    Every name is NFC, lower case, and comes back to itself when `.upper()`, `.title()` or `.capitalize()` is
    lower-cased again (no ß, no dotless i, no final sigma), so a case variant is still the same contact after
    email-validator's normalisation. tests/test_bench_compare.py checks both, and the domains against
    email-validator.
    """

    first: tuple[str, ...]
    last: tuple[str, ...]
    providers: tuple[str, ...]
    idn_domains: tuple[str, ...]
    joined: bool = False  # family name then given name, no separator (王芳88), as in Chinese and Japanese


SCRIPTS = (
    Script(
        first=(
            "zoë",
            "josé",
            "søren",
            "jürgen",
            "anaïs",
            "björn",
            "renée",
            "chloé",
            "émile",
            "inès",
            "åsa",
            "håkon",
        ),
        last=(
            "müller",
            "núñez",
            "østergård",
            "dvořák",
            "öztürk",
            "lefèvre",
            "gonçalves",
            "håkansson",
            "bräuer",
        ),
        providers=("gmail.com", "web.de", "gmx.de", "orange.fr", "laposte.net", "outlook.com"),
        idn_domains=(
            "bücher.de",
            "münchen-stadtwerke.de",
            "bäckerei-schäfer.de",
            "crème-brûlée.fr",
            "société-générale.fr",
            "räksmörgås.se",
            "blåbær.no",
            "smørrebrød.dk",
        ),
    ),
    Script(
        first=("иван", "ольга", "дмитрий", "анна", "сергей", "наталья", "алексей", "елена"),
        last=("петров", "иванова", "смирнов", "кузнецова", "попов", "соколова", "волков", "лебедева"),
        providers=("yandex.ru", "mail.ru", "rambler.ru"),
        idn_domains=("почта.рф", "пример.рф", "москва.рф"),
    ),
    Script(
        first=("芳", "伟", "敏", "静", "磊", "娜", "强", "洋"),
        last=("王", "李", "张", "刘", "陈", "杨", "黄", "赵"),
        providers=("qq.com", "163.com", "126.com", "sina.com"),
        idn_domains=("中文网.中国", "公司.cn", "网络.中国"),
        joined=True,
    ),
    Script(
        first=("さくら", "たかし", "ゆい", "はると", "美咲", "翔太"),
        last=("山田", "佐藤", "鈴木", "高橋", "田中", "渡辺"),
        providers=("yahoo.co.jp", "docomo.ne.jp", "gmail.com"),
        idn_domains=("例え.jp", "日本語.jp", "お名前.com"),
        joined=True,
    ),
)
IDN_DOMAINS = tuple(domain for script in SCRIPTS for domain in script.idn_domains)
TAGS = ("", "", "customer", "customer, VIP", "newsletter", "webinar,lead", "Lead", "partner, customer, beta")
SIGNUP_START = dt.datetime(2019, 1, 1)
SIGNUP_SPAN_SECONDS = 7 * 365 * 86400  # 2019..2025: never in the future


@dataclass
class Generated:
    """The files written and the answers the pipeline must reproduce."""

    files: list[Path]
    rows: int = 0
    invalid_rows: int = 0  # malformed or empty address: must be rejected
    empty_rows: int = 0  # subset of invalid_rows: no address at all (missing_email)
    duplicate_rows: int = 0
    valid_distinct: int = 0  # distinct identity keys (`identity_key`) of valid addresses = expected contacts
    non_ascii_new: int = 0  # new addresses (one per contact) that are not plain ASCII
    idn_new: int = 0  # of those, the ones at an IDN domain
    prepared_distinct: int = 0  # distinct trimmed non-empty address strings
    slow_distinct: int = (
        0  # of those, the ones the email fast path turns down = expected email-validator calls
    )
    seconds: float = 0.0
    bytes: int = 0
    invalid_kinds: dict[str, int] = field(default_factory=dict)
    # Valid addresses as first written (one per contact, original capitals), for the event generator; not a
    # figure, so left out of results files. `serial` is the last serial used (a later file continues from it).
    addresses: list[str] = field(default_factory=list, repr=False)
    serial: int = 0

    def figures(self) -> dict:
        """Everything but the file list and the address list, for results files."""
        return {k: v for k, v in vars(self).items() if k not in ("files", "addresses")}


def split_evenly(total: int, parts: int) -> list[int]:
    """`total` rows over `parts` files, the first files one row longer when it does not divide."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _new_address(rng: random.Random, serial: int, international: float) -> tuple[str, str, str]:
    """A unique valid address (the serial guarantees uniqueness), with the names it was built from."""
    roll = rng.random()
    if roll < international:
        if roll >= LEGACY_UNICODE_SHARE:
            return _international_address(rng, serial)
        first, last = rng.choice(UNICODE_FIRST), rng.choice(UNICODE_LAST)
    else:
        first, last = rng.choice(FIRST), rng.choice(LAST)
    local = _local_part(rng, first, last, serial)
    domain = rng.choice(PROVIDERS) if rng.random() < 0.7 else f"{rng.choice(COMPANIES)}.com"
    return _typed_as_people_do(rng, local, domain, first, last)


def _local_part(rng: random.Random, first: str, last: str, serial: int) -> str:
    pattern = rng.random()
    if pattern < 0.5:
        return f"{first}.{last}{serial}"
    if pattern < 0.75:
        return f"{first[0]}{last}{serial}"
    return f"{first}_{serial}"


def _joined_local_part(rng: random.Random, first: str, last: str, serial: int) -> str:
    """Chinese and Japanese names: family name then given name (王芳88), or the given name alone."""
    return f"{last}{first}{serial}" if rng.random() < 0.7 else f"{first}{serial}"


def _typed_as_people_do(
    rng: random.Random, local: str, domain: str, first: str, last: str
) -> tuple[str, str, str]:
    # A third of sources keep the capitals people typed: "Mary.Smith12@Gmail.com".
    if rng.random() < 0.33:
        local = local.title()
        domain = domain.capitalize()
    return f"{local}@{domain}", first.capitalize(), last.capitalize()


def _international_address(rng: random.Random, serial: int) -> tuple[str, str, str]:
    """A non-ASCII local part at one of its script's providers, an ASCII one at an IDN domain, or both."""
    kind = rng.random()
    script = rng.choice(SCRIPTS)
    if kind < LOCAL_ONLY_BELOW or kind >= DOMAIN_ONLY_BELOW:
        first, last = rng.choice(script.first), rng.choice(script.last)
        build = _joined_local_part if script.joined else _local_part
        local = build(rng, first, last, serial)
    else:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = _local_part(rng, first, last, serial)
    if kind < LOCAL_ONLY_BELOW:
        domain = rng.choice(script.providers)
    elif kind < DOMAIN_ONLY_BELOW:
        domain = rng.choice(IDN_DOMAINS)
    else:
        domain = rng.choice(script.idn_domains)
    return _typed_as_people_do(rng, local, domain, first, last)


def identity_key(address: str) -> str:
    """The pipeline's identity key of a valid generated address: email-validator's normalised form,
    lower-cased. For ASCII addresses that is the address lower-cased; for the others the local part is NFC
    (the generator writes NFC already) and the domain is what email-validator makes of it (IDNA: lower
    case, NFC), asked once per distinct domain spelling instead of once per address."""
    if address.isascii():
        return address.lower()
    local, _, domain = address.rpartition("@")
    return (unicodedata.normalize("NFC", local) + "@" + _normalized_domain(domain)).lower()


@functools.cache
def _normalized_domain(domain: str) -> str:
    return validate_email(f"x@{domain}", check_deliverability=False).domain


def _case_variant(rng: random.Random, address: str) -> str:
    """The same address as another tool would export it."""
    pick = rng.random()
    if pick < 0.4:
        return address
    if pick < 0.7:
        return address.lower()
    if pick < 0.85:
        return address.upper()
    local, _, domain = address.partition("@")
    return f"{local.capitalize()}@{domain.upper()}"


INVALID_KINDS = ("missing_at", "double_at", "bad_domain", "empty")


def _invalid_address(rng: random.Random, serial: int) -> tuple[str, str]:
    kind = INVALID_KINDS[serial % len(INVALID_KINDS)]
    user = f"{rng.choice(FIRST)}{serial}"
    domain = rng.choice(PROVIDERS)
    if kind == "missing_at":
        return f"{user}.{domain}", kind
    if kind == "double_at":
        return rng.choice((f"{user}@@{domain}", f"{user}@{rng.choice(LAST)}@{domain}")), kind
    if kind == "bad_domain":
        name = domain.split(".")[0]
        return rng.choice((f"{user}@{name}", f"{user}@{name}..com", f"{user}@-{name}.com")), kind
    return rng.choice(("", "   ")), kind


def _pick_address(
    rng: random.Random,
    serial: int,
    result: Generated,
    earlier: list[str],
    invalid_below: float,
    repeat_below: float,
    international: float,
) -> tuple[str, str, str, bool]:
    """One row's address (unusable, a repeat of an earlier one, or new), counted in `result`; with the names
    for a new one, and whether it is new."""
    roll = rng.random()
    if roll < invalid_below:
        address, kind = _invalid_address(rng, serial)
        result.invalid_rows += 1
        result.invalid_kinds[kind] = result.invalid_kinds.get(kind, 0) + 1
        if kind == "empty":
            result.empty_rows += 1
        return address, "", "", False
    if earlier and roll < repeat_below:
        result.duplicate_rows += 1
        return _case_variant(rng, rng.choice(earlier)), "", "", False
    address, first, last = _new_address(rng, serial, international)
    _count_new(result, address)
    return address, first, last, True


def _count_new(result: Generated, address: str) -> None:
    if not address.isascii():
        result.non_ascii_new += 1
        if not address.rpartition("@")[2].isascii():
            result.idn_new += 1


def _write_row(writer, rng: random.Random, address: str, first: str, last: str) -> None:
    signup = SIGNUP_START + dt.timedelta(seconds=rng.randrange(SIGNUP_SPAN_SECONDS))
    writer.writerow(
        [
            address,
            first,
            last,
            rng.choice(TAGS),
            rng.choice(COMPANIES) if rng.random() < 0.6 else "",
            signup.date().isoformat() if rng.random() < 0.2 else signup.isoformat(sep=" "),
        ]
    )


def generate(
    inbox: Path, contacts: int, files: int, seed: int = SEED, international: float = DEFAULT_INTERNATIONAL
) -> Generated:
    """Write `files` CSV files (+ manifests) holding `contacts` rows in total into `inbox`; `international`
    of the new addresses are not plain ASCII."""
    started = time.perf_counter()
    rng = random.Random(seed)
    inbox.mkdir(parents=True, exist_ok=True)
    result = Generated(files=[])
    seen: list[str] = []  # valid addresses as first written, for duplicate picks
    valid: set[str] = set()  # ground truth: the identity keys of valid addresses
    prepared: set[str] = set()  # ground truth: distinct strings the validator is asked about
    serial = 0

    for index, count in enumerate(split_evenly(contacts, files), start=1):
        path = inbox / f"bench-{index:02d}.csv"
        path.with_suffix(".yaml").write_text(MANIFEST, encoding="utf-8")
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            for _ in range(count):
                serial += 1
                address, first, last, is_new = _pick_address(
                    rng, serial, result, seen, INVALID_SHARE, INVALID_SHARE + DUPLICATE_SHARE, international
                )
                if is_new:
                    seen.append(address)
                    valid.add(identity_key(address))
                if address.strip():
                    prepared.add(address)
                if address and rng.random() < PADDED_SHARE:
                    address = rng.choice((" ", "  ", "")) + address + rng.choice((" ", "   "))
                if rng.random() < 0.05:
                    first = last = ""  # partial rows: later non-empty values must win in the merge
                _write_row(writer, rng, address, first, last)
        result.files.append(path)
        result.rows += count
        result.bytes += path.stat().st_size

    result.valid_distinct = len(valid)
    result.prepared_distinct = len(prepared)
    result.slow_distinct = (
        vouched_verdicts(pl.Series(sorted(prepared), dtype=pl.Utf8)).get_column("email").null_count()
    )
    result.addresses = seen
    result.serial = serial
    result.seconds = time.perf_counter() - started
    return result


INCREMENT_INVALID_SHARE = 0.005  # "a few" unusable addresses in the increment file


def generate_increment(
    inbox: Path,
    existing: list[str],
    rows: int,
    start_serial: int,
    seed: int = SEED,
    name: str = "increment-01.csv",
    international: float = DEFAULT_INTERNATIONAL,
) -> Generated:
    """One more contact file of `rows` rows for the incremental bench: about half new addresses, half repeats
    of `existing` addresses (in other capitals, as another tool would export them), 0.5% unusable.

    New addresses continue the serials after `start_serial`, so they never repeat an earlier file's.
    `valid_distinct` is the number of new contacts the file must create; `addresses` holds them.
    """
    started = time.perf_counter()
    rng = random.Random(seed)
    inbox.mkdir(parents=True, exist_ok=True)
    result = Generated(files=[])
    serial = start_serial
    path = inbox / name
    path.with_suffix(".yaml").write_text(MANIFEST, encoding="utf-8")
    new: list[str] = []
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for _ in range(rows):
            serial += 1
            address, first, last, is_new = _pick_address(
                rng, serial, result, existing, INCREMENT_INVALID_SHARE, 0.5, international
            )
            if is_new:
                new.append(address)
            if address and rng.random() < PADDED_SHARE:
                address = rng.choice((" ", "  ", "")) + address + rng.choice((" ", "   "))
            _write_row(writer, rng, address, first, last)
    result.files.append(path)
    result.rows = rows
    result.bytes = path.stat().st_size
    result.valid_distinct = len({identity_key(address) for address in new})
    result.addresses = new
    result.serial = serial
    result.seconds = time.perf_counter() - started
    return result
