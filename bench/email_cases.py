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
