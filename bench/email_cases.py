"""Adversarial email addresses for the differential tests of the email fast path.

Shared by tests/test_email_fast_path.py (60k addresses, in `make test`) and `make bench
BENCH_MODE=emails` (1M and more). Plain `random` with a seed: the same addresses on every machine.
"""

from __future__ import annotations

import random
import string

LOCAL_CHARS = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-.\\\"() ,;:<>[]@"
DOMAIN_CHARS = string.ascii_letters + string.digits + "-._"
TLDS = [
    "com",
    "ORG",
    "de",
    "io",
    "test",
    "local",
    "localhost",
    "invalid",
    "onion",
    "arpa",
    "example",
    "internal",
    "c0m",
    "123",
    "x",
    "museum",
    "xn--p1ai",
    "co.uk",
    "home.arpa",
    "xn--",
    "a" * 63,
    "a" * 64,
]
UNICODE = [
    "ü",
    "é",
    "ß",
    "例",
    "İ",
    "\u212a",
    "\u017f",
    "\u200b",
    "ｂ",
    "ﬁ",
    "e\u0301",
    "\u00a0",
    "\u2028",
    "Ω",
    "\u0130",
    "🙂",
]
IDN_DOMAINS = [
    "bücher.de",
    "xn--bcher-kva.de",
    "例え.jp",
    "xn--r8jz45g.jp",
    "müller.example.com",
    "ÖBB.at",
    "xn--mller-kva.com",
]
QUOTED_LOCALS = ['"john doe"', '"a@b"', '"\\"q\\""', '""', '"x".y', 'x."y"', '"\\\\"', '" "']
WHITESPACE = [" ", "\t", "\n", "\u3000", "\x1c", "\u2003", "\r\n"]


def adversarial_addresses(count: int, seed: int = 11) -> list[str]:
    """Mostly ordinary addresses bent in every way that matters to a validator: unicode, IDN, quoted
    local parts, dots, long labels and parts, special-use domains, whitespace and stray @s."""
    rng = random.Random(seed)
    addresses = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.35:  # ordinary-looking, the fast path's bread and butter
            local = "".join(
                rng.choice(string.ascii_letters + string.digits + "._+-") for _ in range(rng.randint(1, 20))
            )
            local = local.strip(".") or "a"
            domain = rng.choice(
                ["gmail.com", "Example.COM", "sub.example.org", "a-b.co.uk", "x.io", "mail.example.museum"]
            )
        elif roll < 0.5:  # random printable ASCII, lengths around the limits
            local = "".join(
                rng.choice(LOCAL_CHARS) for _ in range(rng.choice([1, 2, 5, 10, 30, 63, 64, 65, 70]))
            )
            labels = [
                "".join(rng.choice(DOMAIN_CHARS) for _ in range(rng.choice([1, 2, 3, 8, 20, 62, 63, 64])))
                for _ in range(rng.randint(1, 3))
            ]
            domain = ".".join(labels + [rng.choice(TLDS)])
        elif roll < 0.65:  # cleaner random labels, special-use and odd TLDs
            local = "".join(
                rng.choice(string.ascii_lowercase + string.digits + "._-") for _ in range(rng.randint(1, 66))
            )
            labels = [
                "".join(
                    rng.choice(string.ascii_lowercase + string.digits + "-")
                    for _ in range(rng.randint(1, 64))
                )
                for _ in range(rng.randint(1, 4))
            ]
            domain = ".".join(labels + [rng.choice(TLDS)])
        elif roll < 0.75:  # IDN domains, unicode local parts
            local = rng.choice(["josé", "zoë", "用户", "ÄBC", "a" + rng.choice(UNICODE), "test"])
            domain = rng.choice(IDN_DOMAINS)
        elif roll < 0.82:  # quoted local parts
            local = rng.choice(QUOTED_LOCALS)
            domain = rng.choice(["example.com", "EXAMPLE.org"])
        elif roll < 0.9:  # dots in every wrong place
            local = rng.choice([".a", "a.", "a..b", "a.b.c", "..", "a.-b", "-a", "a-"])
            domain = rng.choice(
                [
                    "example.com",
                    "example..com",
                    ".example.com",
                    "example.com.",
                    "-ex.com",
                    "ex-.com",
                    "e--x.com",
                    "xn--ex.com",
                ]
            )
        else:  # very long addresses
            local = "a" * rng.choice([60, 64, 65])
            domain = ".".join(["b" * rng.choice([60, 63]) for _ in range(rng.randint(2, 4))]) + ".com"
        address = f"{local}@{domain}"
        if rng.random() < 0.05:
            address = address.replace("a", rng.choice(UNICODE), 1)
        if rng.random() < 0.03:
            address = address.replace("@", rng.choice(["@@", "", "＠"]), 1)
        if rng.random() < 0.05:
            address = rng.choice(WHITESPACE) + address + rng.choice(WHITESPACE + [""])
        if rng.random() < 0.2:
            address = rng.choice([address.upper(), address.title(), address.swapcase()])
        addresses.append(address)
    return addresses


# The international mix: the names and domains of European and Asian audiences, and what a hostile or
# broken source makes of them. Characters are written as escapes where they would be invisible.
INTL_LOCALS = [
    "zoë",
    "josé.núñez",
    "søren",
    "jürgen_müller",
    "łukasz",
    "иван.петров",
    "王芳",
    "田中.太郎",
    "محمد",  # right to left
    "דוד",
    "σοφίας",  # final sigma
    "straße",
    "İlker",  # dotted capital I: lower() gives two characters
    "ǅemal",  # titlecase digraph
    "ﬁne",  # a ligature NFC keeps
    "🙂",
    "ａｂｃ",  # fullwidth
    "\u212aelvin",  # Kelvin sign: NFC makes it an ASCII K
    "pаypal",  # Cyrillic a among Latin: a confusable, still valid
    "ο\u03bfps",  # Greek omicrons
    "e\u0301lodie",  # decomposed: NFC composes it
    "a\u20ddb",  # enclosing mark after a letter
    "ñ" * 70,  # over 64 characters (email-validator is not strict: the length only counts in the total)
    "\u1100\u1161\u11a8",  # Hangul jamo: NFC composes them into one syllable by rule
    "\u0b92\u0bd7",  # a Tamil vowel sign that composes with the letter before it
    "\uf900",  # a CJK compatibility ideograph: NFC replaces it
    "ü" * 125,  # 250 bytes: the whole address goes over 254 bytes, not over 254 characters
]
INTL_BAD_CHARACTERS = [
    "\u0301",  # a combining mark: unsafe at the start, fine after a letter
    "\u200b",  # zero width space
    "\u200c",  # zero width non-joiner
    "\u200d",  # zero width joiner
    "\u2060",  # word joiner
    "\ufeff",  # byte order mark
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u00a0",  # no-break space
    "\u3000",  # ideographic space
    "\u0378",  # unassigned
    "\U0001fae8",  # assigned after Python 3.11's Unicode 14: unassigned to email-validator here
    "\ue000",  # private use
    "\uffff",  # a noncharacter
    "\u0085",  # next line, a C1 control
    "\u00ad",  # soft hyphen
    "\u2028",  # line separator
    "。",  # ideographic full stop
    "＠",  # fullwidth at-sign
]
INTL_DOMAINS = [
    "bücher.de",
    "münchen-stadtwerke.de",
    "例え.jp",
    "中国.cn",
    "почта.рф",
    "xn--bcher-kva.de",
    "xn--80a1acny.xn--p1ai",
    "BÜCHER.DE",
    "ÖBB.at",
    "faß.de",
    "ǆ.example.com",
    "موقع.وزارة-الاتصالات.مصر",
    "bücher.рф",
    "gmail.com",
    "yandex.ru",
    "qq.com",
    "web.de",
    "🙂.com",  # not allowed by IDNA 2008
    "a\u200db.com",  # zero width joiner in a label
    "例え。jp",  # ideographic full stop between labels
    "ü" * 60 + ".de",  # its Punycode label is over 63 characters
    ".".join(["ü" * 20] * 8) + ".de",  # over 253 octets once in IDNA form
    "-bücher.de",
    "bücher-.de",
    "xn--zz.de",  # not valid Punycode
    "xn--bcher-kva.xn--tckwe",
    "bücher.test",
    "bücher.local",
    "münchen.123",
    "bücher..de",
    "ｅｘａｍｐｌｅ.com",  # fullwidth letters, mapped by UTS 46
    "\u212a.de",
]


def international_addresses(count: int, seed: int = 13) -> list[str]:
    """A third international (non-ASCII local parts, IDN domains), bent as `adversarial_addresses` bends
    ASCII ones; the rest ordinary and adversarial ASCII addresses from `adversarial_addresses`."""
    rng = random.Random(seed)
    ascii_part = adversarial_addresses(count - count // 3, seed)
    addresses = []
    for serial in range(count // 3):
        local = rng.choice(INTL_LOCALS)
        if rng.random() < 0.5:
            local = f"{local}{rng.choice(['.', '_', '', '+'])}{serial % 997}"
        roll = rng.random()
        domain = rng.choice(INTL_DOMAINS) if roll < 0.7 else rng.choice(["gmail.com", "Example.org", "x.io"])
        if rng.random() < 0.08:  # a bad character somewhere in the local part
            position = rng.randint(0, len(local))
            local = local[:position] + rng.choice(INTL_BAD_CHARACTERS) + local[position:]
        if rng.random() < 0.03:  # or in the domain
            position = rng.randint(0, len(domain))
            domain = domain[:position] + rng.choice(INTL_BAD_CHARACTERS) + domain[position:]
        address = f"{local}@{domain}"
        if rng.random() < 0.03:
            address = rng.choice([address.replace(".", "..", 1), "." + address, address.replace("@", ".@")])
        if rng.random() < 0.05:
            address = rng.choice(WHITESPACE) + address + rng.choice(WHITESPACE + [""])
        if rng.random() < 0.2:
            address = rng.choice([address.upper(), address.title(), address.swapcase(), address.lower()])
        addresses.append(address)
    mixed = ascii_part + addresses
    rng.shuffle(mixed)
    return mixed
