"""Differential test: the pipeline's verdict and normalised form equal email-validator's, address by address.

Every corpus case goes through the real pipeline as one JSON Lines file (JSON carries control characters,
newlines and quotes that CSV cannot), then each row's outcome is compared with email-validator called
directly on the same prepared input with the pipeline's options (deliverability off, defaults otherwise).
"""

from __future__ import annotations

import json
import random
import string

import pytest
from email_validator import EmailNotValidError, validate_email

from assets.validation.emails import prepare_email
from tests.conftest import CORPORA

CORPUS_DIR = CORPORA / "email"


def corpus_addresses() -> list[str]:
    addresses: list[str] = []
    for name in ("isemail_tests.jsonl", "isemail_tests-original.jsonl"):
        for line in (CORPUS_DIR / name).read_text(encoding="utf-8").splitlines():
            addresses.append(json.loads(line)["address"])
    for line in (
        (CORPUS_DIR / "python_email_validator_syntax_cases.jsonl").read_text(encoding="utf-8").splitlines()
    ):
        case = json.loads(line)
        if case["test_function"] == "test_email_unsafe_character":
            addresses += [case["email_input"] + "@test", "test@" + case["email_input"]]
        else:
            addresses.append(case["email_input"])
    return addresses


def adversarial_addresses(count: int, seed: int = 7) -> list[str]:
    """Random mutations of valid addresses: case, whitespace, unicode, dots, quotes, IDN, lengths."""
    rng = random.Random(seed)
    pieces = list(string.ascii_letters + string.digits + '.-_+@"()[]<>,;:\\ \t') + [
        "ü",
        "ß",
        "İ",
        "ﬁ",
        "é",
        "e\u0301",
        "\u200b",
        "例",
        "ｂ",
        "..",
    ]
    domains = [
        "example.com",
        "EXAMPLE.org",
        "bücher.de",
        "xn--bcher-kva.de",
        "例え.jp",
        "a.b",
        "localhost",
        "x" * 64 + ".com",
        "[127.0.0.1]",
        "ex_ample.com",
    ]
    result = []
    for _ in range(count):
        local = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        domain = rng.choice(domains)
        address = f"{local}@{domain}" if rng.random() > 0.05 else local
        if rng.random() < 0.2:
            address = address.upper()
        if rng.random() < 0.1:
            address = f"  {address}\t"
        result.append(address)
    return result


def expected(address: str) -> tuple[str, str | None]:
    prepared = prepare_email(address)
    if not prepared:
        return ("missing", None)
    try:
        return ("valid", validate_email(prepared, check_deliverability=False).normalized.lower())
    except EmailNotValidError as exc:
        return ("invalid", str(exc))


def test_pipeline_matches_email_validator(workspace):
    if not CORPUS_DIR.is_dir():
        pytest.skip("shared corpora not present")
    addresses = corpus_addresses() + adversarial_addresses(3000)
    lines = [json.dumps({"email": address}) for address in addresses]
    workspace.drop("corpus.jsonl", "\n".join(lines) + "\n", manifest="consent: confirmed\n")
    workspace.run()

    accepted = dict(workspace.query("select row_number, email from staging.contact_rows"))
    rejected = {
        number: (reason, detail)
        for number, reason, detail in workspace.query("select row_number, reason, detail from rejected_rows")
    }
    assert len(accepted) + len(rejected) == len(addresses)

    checked = 0
    for row_number, address in enumerate(addresses, start=1):
        verdict, value = expected(address)
        if row_number in accepted:
            assert verdict == "valid" and accepted[row_number] == value, (row_number, address)
        else:
            reason, detail = rejected[row_number]
            if reason == "unparseable":
                # NUL and unpaired surrogates cannot be stored as text; email-validator refuses them too.
                assert verdict == "invalid" and any(
                    ch == "\x00" or 0xD800 <= ord(ch) <= 0xDFFF for ch in address
                )
            elif reason == "missing_email":
                assert verdict == "missing"
            else:
                assert (reason, verdict, detail) == ("invalid_email", "invalid", value), (row_number, address)
        checked += 1
    assert checked == len(addresses) > 3500
