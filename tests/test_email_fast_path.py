"""Differential test of the vectorised email paths: wherever they answer, email-validator gives the same
verdict (valid), the same normalised, lower-cased address and the same ASCII form. Adversarial generated
addresses, the international mix (bench/email_cases.py) and the corpora. `make bench BENCH_MODE=emails`
runs the same comparison, error messages included, on 1M addresses of the international mix."""

from __future__ import annotations

import polars as pl
import pytest

from assets.ingest.text_decoding import UNCLEAN_TEXT
from assets.validation.emails import judge, prepare_email, prepare_emails, vouched_verdicts
from bench.email_cases import adversarial_addresses, international_addresses
from bench.emails import corpus_addresses

SOURCES = {
    "generated": lambda: adversarial_addresses(40_000),
    "international": lambda: international_addresses(36_000),
    "corpus": corpus_addresses,
}


@pytest.mark.parametrize("source", list(SOURCES))
def test_fast_path_agrees_with_email_validator(source):
    addresses = SOURCES[source]()
    if not addresses:
        pytest.skip("shared corpora not present")
    # Text with lone surrogates never reaches validation: the reader rejects its row as not valid Unicode.
    addresses = [address for address in addresses if not UNCLEAN_TEXT.search(address)]
    prepared = prepare_emails(pl.Series(addresses, dtype=pl.Utf8))
    assert prepared.to_list() == [prepare_email(address) for address in addresses]
    answered = non_ascii = 0
    vouched = vouched_verdicts(prepared)
    for address, value, fast in zip(addresses, prepared.to_list(), vouched.rows(), strict=True):
        if fast[0] is None:
            continue
        answered += 1
        non_ascii += not value.isascii()
        assert fast == judge(value)[:2], address
    # the vectorised paths must actually carry the common case, or this proves nothing
    assert answered > (len(addresses) // 10 if source != "corpus" else 50)
    if source == "international":
        assert non_ascii > len(addresses) // 10


def test_vectorised_alias_folding_matches_fold_alias():
    from assets.validation.emails import fold_alias, fold_aliases

    values = [
        "john.doe+news@gmail.com",
        "j.o.h.n@googlemail.com",
        "a+b+c@gmail.com",
        "x.y@example.com",
        "+x@gmail.com",
        "plain@gmail.com",
        "dots.only@gmail.co",
        "first.last+tag@googlemail.com",
        "zoë.müller+news@gmail.com",  # the international path's answers are folded too
    ]
    folded = pl.Series(values).to_frame("email").select(fold_aliases(pl.col("email"))).to_series().to_list()
    assert folded == [fold_alias(value) for value in values]
