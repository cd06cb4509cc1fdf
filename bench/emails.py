"""`--mode emails`: the differential test of the email fast path at scale.

N addresses of the international mix (bench/email_cases.py: a third with non-ASCII local parts or IDN
domains, bent in every adversarial way, and the adversarial ASCII cases) plus every case of the shared email corpora go through the
pipeline's validation (`EmailValidatorCache.verdict_frame`: vectorised fast path, email-validator for the
rest) and, separately, through email-validator alone. Every address must get the same verdict, the same
normalised form, the same ASCII form and the same error message; `prepare_emails` must equal
`prepare_email` on every input.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import polars as pl

from assets.ingest.text_decoding import UNCLEAN_TEXT
from assets.validation.contact_rows import email_verdicts
from assets.validation.emails import EmailValidatorCache, judge_all, prepare_email, prepare_emails
from bench.email_cases import international_addresses
from bench.generate import DEFAULT_INTERNATIONAL, INTERNATIONAL_MIX, generate

CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "email"
log = logging.getLogger("bench")
INBOX_TARGET = 1.5  # the international inbox's validation at most this many times the ASCII one's (issue 18)


def corpus_addresses() -> list[str]:
    if not CORPORA.is_dir():
        return []
    values = []
    for name in ("isemail_tests.jsonl", "isemail_tests-original.jsonl"):
        values += [
            json.loads(line)["address"] for line in (CORPORA / name).read_text(encoding="utf-8").splitlines()
        ]
    for line in (
        (CORPORA / "python_email_validator_syntax_cases.jsonl").read_text(encoding="utf-8").splitlines()
    ):
        values.append(json.loads(line)["email_input"])
    # Text with lone surrogates never reaches validation: the reader rejects its row as not valid Unicode.
    return [value for value in values if not UNCLEAN_TEXT.search(value)]


def inbox_validation(contacts: int, seed: int, work: Path) -> dict:
    """The pipeline's validation of a contact inbox (`email_verdicts`, as each contact file is staged, a fresh
    cache each) for the ASCII mix and the international mix of bench/generate.py: the seconds of each and
    their ratio (issue 18: the international inbox within 1.5x of the ASCII one)."""
    figures = {}
    for mix, share in (("ascii", DEFAULT_INTERNATIONAL), ("international", INTERNATIONAL_MIX)):
        generated = generate(work / mix, contacts, 5, seed, international=share)
        columns = [
            pl.read_csv(path, columns=["email"], infer_schema=False).get_column("email")
            for path in generated.files
        ]
        cache = EmailValidatorCache()
        started = time.perf_counter()
        for column in columns:
            email_verdicts(column, cache)
        seconds = time.perf_counter() - started
        non_ascii = sum(int((~column.str.contains(r"^[\x00-\x7F]*$")).sum()) for column in columns)
        figures[mix] = {
            "rows": generated.rows,
            "non_ascii_rows": non_ascii,
            "seconds": round(seconds, 3),
            "email_validator": cache.calls,
        }
        log.info("%s inbox: %d rows validated in %.2f s", mix, generated.rows, seconds)
    figures["ratio"] = round(figures["international"]["seconds"] / figures["ascii"]["seconds"], 3)
    figures["target_at_most"] = INBOX_TARGET
    figures["met"] = figures["ratio"] <= INBOX_TARGET
    return figures


def print_inbox_validation(figures: dict) -> None:
    print()
    print("  inbox validation (the pipeline's email_verdicts over each contact file, fresh cache):")
    for mix in ("ascii", "international"):
        entry = figures[mix]
        print(
            f"    {mix:<14} {entry['rows']:>10,} rows ({entry['non_ascii_rows']:,} non-ASCII) {entry['seconds']:8.2f} s"
            f"  (email-validator {entry['email_validator']:,})"
        )
    verdict = "met" if figures["met"] else "MISSED"
    print(f"    international / ascii {figures['ratio']:.2f}x (target at most {INBOX_TARGET}x): {verdict}")


def emails_mode(count: int, seed: int, work: Path | None = None) -> dict:
    started = time.perf_counter()
    addresses = international_addresses(count, seed)
    corpus = corpus_addresses()
    generated_seconds = time.perf_counter() - started
    inputs = addresses + corpus
    log.info("%d generated + %d corpus addresses", len(addresses), len(corpus))

    t0 = time.perf_counter()
    prepared = prepare_emails(pl.Series(inputs, dtype=pl.Utf8))
    prepare_seconds = time.perf_counter() - t0
    prepare_mismatches = sum(
        1 for raw, value in zip(inputs, prepared.to_list(), strict=True) if prepare_email(raw) != value
    )

    distinct = prepared.filter(prepared != "").unique().sort()
    cache = EmailValidatorCache()
    t0 = time.perf_counter()
    pipeline = cache.verdict_frame(distinct).sort("prepared")
    pipeline_seconds = time.perf_counter() - t0

    log.info("email-validator alone on %d distinct addresses", distinct.len())
    t0 = time.perf_counter()
    reference = judge_all(distinct.to_list())
    reference_seconds = time.perf_counter() - t0
    expected = pl.DataFrame(
        {
            "prepared": distinct,
            "email": [r[0] for r in reference],
            "email_ascii": [r[1] for r in reference],
            "email_error": [r[2] for r in reference],
        }
    )
    # The fast path reports email_ascii = email for the plain ASCII addresses it vouches for; email-validator
    # reports ascii_email for those too, so the frames must match column for column.
    joined = pipeline.join(expected, on="prepared", suffix="_reference")
    differs = joined.filter(
        pl.any_horizontal(
            pl.col(c).ne_missing(pl.col(f"{c}_reference")) for c in ("email", "email_ascii", "email_error")
        )
    )
    valid = expected.filter(pl.col("email").is_not_null()).height
    figures = {
        "addresses": len(inputs),
        "generated": len(addresses),
        "corpus": len(corpus),
        "distinct_prepared": distinct.len(),
        "valid": valid,
        "invalid": distinct.len() - valid,
        "fast_path": cache.fast,
        "email_validator": cache.calls,
        "mismatches": differs.height,
        "prepare_mismatches": prepare_mismatches,
        "mismatch_samples": differs.head(10).rows(),
        "seconds": {
            "generate": round(generated_seconds, 2),
            "prepare": round(prepare_seconds, 2),
            "pipeline_validation": round(pipeline_seconds, 2),
            "email_validator_alone": round(reference_seconds, 2),
        },
    }
    figures["ok"] = differs.height == 0 and prepare_mismatches == 0 and len(joined) == distinct.len()
    if work is not None:
        figures["inbox_validation"] = inbox_validation(count, seed, work)
    print()
    print(
        f"Email differential: {len(inputs):,} addresses ({len(addresses):,} generated, seed {seed}; {len(corpus):,} corpus cases), "
        f"{distinct.len():,} distinct after trimming and NFC; {valid:,} valid, {distinct.len() - valid:,} invalid"
    )
    print(
        f"  pipeline validation {pipeline_seconds:8.2f} s  (fast path {cache.fast:,}, email-validator {cache.calls:,})"
    )
    print(f"  email-validator     {reference_seconds:8.2f} s  (every address, over the cores)")
    print(f"  prepare_emails      {prepare_seconds:8.2f} s  ({prepare_mismatches} differ from prepare_email)")
    print(
        f"  {'OK      ' if figures['ok'] else 'MISMATCH'} verdict, normalised form, ASCII form and error identical for every address: "
        f"{differs.height} differ"
    )
    for row in figures["mismatch_samples"]:
        print(f"    {row!r}")
    if "inbox_validation" in figures:
        print_inbox_validation(figures["inbox_validation"])
    return figures
