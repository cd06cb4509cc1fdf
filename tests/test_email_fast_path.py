"""Differential test of the email fast path: wherever it answers, email-validator gives the same verdict
(valid) and the same normalised, lower-cased address. Adversarial generated addresses (bench/email_cases.py)
and the corpora. `make bench BENCH_MODE=emails` runs the same comparison on 1M addresses."""

from __future__ import annotations

import polars as pl
import pytest

from assets.ingest.text_decoding import UNCLEAN_TEXT
from assets.validation.emails import fast_verdicts, judge, prepare_email, prepare_emails
from bench.email_cases import adversarial_addresses
from bench.emails import corpus_addresses


@pytest.mark.parametrize("source", ["generated", "corpus"])
def test_fast_path_agrees_with_email_validator(source):
    addresses = adversarial_addresses(60_000) if source == "generated" else corpus_addresses()
    if not addresses:
        pytest.skip("shared corpora not present")
    # Text with lone surrogates never reaches validation: the reader rejects its row as not valid Unicode.
    addresses = [address for address in addresses if not UNCLEAN_TEXT.search(address)]
    prepared = prepare_emails(pl.Series(addresses, dtype=pl.Utf8))
    assert prepared.to_list() == [prepare_email(address) for address in addresses]
    answered = 0
    for address, value, fast in zip(
        addresses, prepared.to_list(), fast_verdicts(prepared).to_list(), strict=True
    ):
        if fast is None:
            continue
        answered += 1
        assert fast == judge(value)[0], address
    # the fast path must actually carry the common case, or it proves nothing
    assert answered > (len(addresses) // 10 if source == "generated" else 50)


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
    ]
    folded = pl.Series(values).to_frame("email").select(fold_aliases(pl.col("email"))).to_series().to_list()
    assert folded == [fold_alias(value) for value in values]
