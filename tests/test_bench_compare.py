"""`make bench BENCH_MODE=compare`'s pieces at a tiny size: the international contact mix and its ground
truth, the pandas peer and the floor. The pipeline's side (its contacts equal the generator's ground truth)
is what the bench's own sanity checks hold on every run."""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import random
import subprocess
import unicodedata

import duckdb
import pytest
from email_validator import validate_email

from bench.compare import PEER_PYTHON
from bench.events import generate_events
from bench.floor import best_floor
from bench.generate import (
    IDN_DOMAINS,
    INTERNATIONAL_MIX,
    SCRIPTS,
    UNICODE_FIRST,
    UNICODE_LAST,
    _case_variant,
    generate,
    identity_key,
)
from bench.run import international_share
from pipelines.settings import PROJECT_ROOT

CONTACTS = 6_000
EVENTS = 20_000
# sha256 of the default mix's 3,000 rows in 2 files at the default seed: the bytes the bench wrote before the
# international mix existed. A deliberate change of the generator changes it, and makes figures measured
# before it no longer comparable with figures measured after.
DEFAULT_MIX_SHA256 = "a4a8b1245d4d44720ca8bdae8f2a257fbd888b7da52fb84cd674e1b010db14c0"


def email_validator_key(address: str) -> str:
    return validate_email(address, check_deliverability=False).normalized.lower()


@pytest.fixture(scope="module")
def international(tmp_path_factory):
    """A tiny international inbox (contacts and events) and the generators' answers."""
    root = tmp_path_factory.mktemp("compare")
    generated = generate(root / "contacts", CONTACTS, 2, international=INTERNATIONAL_MIX)
    events = generate_events(root / "events", generated.addresses, EVENTS, 2, seed=7)
    return root, generated, events


def test_the_default_mix_writes_the_same_bytes_as_before(tmp_path):
    generated = generate(tmp_path, 3_000, 2)
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in generated.files)).hexdigest()
    assert digest == DEFAULT_MIX_SHA256


def test_a_third_of_new_addresses_are_international_half_of_them_at_idn_domains(international):
    _, generated, _ = international
    new = generated.addresses
    non_ascii = [address for address in new if not address.isascii()]
    at_idn = [address for address in non_ascii if not address.rpartition("@")[2].isascii()]
    assert (generated.non_ascii_new, generated.idn_new) == (len(non_ascii), len(at_idn))
    assert 0.29 < len(non_ascii) / len(new) < 0.38
    assert 0.4 < len(at_idn) / len(non_ascii) < 0.65
    both = [address for address in at_idn if not address.rpartition("@")[0].isascii()]
    assert 0 < len(both) < len(at_idn) / 3
    assert all(unicodedata.is_normalized("NFC", address) for address in non_ascii)


def test_every_new_address_is_valid_and_keyed_as_email_validator_keys_it(international):
    _, generated, _ = international
    keys = [identity_key(address) for address in generated.addresses]
    assert keys == [email_validator_key(address) for address in generated.addresses]
    assert len(set(keys)) == generated.valid_distinct == len(generated.addresses)


def test_case_variants_of_international_addresses_are_the_same_contact(international):
    _, generated, _ = international
    rng = random.Random(1)
    for address in (address for address in generated.addresses if not address.isascii()):
        for variant in (address.upper(), address.lower(), _case_variant(rng, address)):
            assert email_validator_key(variant) == identity_key(address)


def test_names_and_domains_survive_upper_casing():
    # 'ß'.upper() is 'SS', a different address: no name may change when upper- or title-cased and lowered back.
    names = {name for script in SCRIPTS for name in script.first + script.last} | set(
        UNICODE_FIRST + UNICODE_LAST
    )
    for name in names:
        assert unicodedata.is_normalized("NFC", name) and name == name.lower()
        assert {name.upper().lower(), name.title().lower(), name.capitalize().lower()} == {name}
    for domain in IDN_DOMAINS:
        for spelling in (domain, domain.upper(), domain.capitalize()):
            assert validate_email(f"x@{spelling}", check_deliverability=False).domain == domain


def test_events_follow_the_mix(international):
    root, generated, events = international
    contacts = {identity_key(address) for address in generated.addresses}
    con = duckdb.connect()
    emails = [row[0] for row in con.execute(f"select email from read_csv('{root}/events/*.csv')").fetchall()]
    about_contacts = [email for email in emails if email.lower() in contacts]
    international_rows = [email for email in about_contacts if not email.isascii()]
    assert len(emails) == events.rows
    assert len(about_contacts) == events.rows - events.non_contact_rows
    assert 0.2 < len(international_rows) / len(about_contacts) < 0.5


@pytest.mark.skipif(
    not PEER_PYTHON.exists(), reason="the peer's environment (.venv-peer, pandas) is made by `make bench`"
)
def test_the_peer_keeps_one_contact_per_normalised_valid_address(international, tmp_path):
    root, generated, events = international
    done = subprocess.run(
        [
            str(PEER_PYTHON),
            str(PROJECT_ROOT / "bench" / "peer.py"),
            str(root / "contacts"),
            str(root / "events"),
            str(tmp_path / "peer.duckdb"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    con = duckdb.connect(str(tmp_path / "peer.duckdb"), read_only=True)
    stored = [row[0] for row in con.execute("select email from contacts").fetchall()]
    kept_events = con.execute("select count(*) from events").fetchone()[0]
    engaged = con.execute("select count(*) from engaged").fetchone()[0]
    con.close()
    assert sorted(stored) == sorted(identity_key(address) for address in generated.addresses)
    assert figures["contacts"] == generated.valid_distinct
    assert (figures["rows"], figures["valid"]) == (generated.rows, generated.rows - generated.invalid_rows)
    assert figures["events"] == kept_events == events.rows - events.invalid_kinds["bad_timestamp"]
    assert 0 < figures["segment"] == engaged < figures["contacts"]
    assert set(figures["stages"]) == {"read", "validate", "dedupe", "events", "duckdb", "segment"}


def test_the_peer_uses_no_pipeline_code():
    tree = ast.parse((PROJECT_ROOT / "bench" / "peer.py").read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] in ("assets", "pipelines", "bench")}
    assert {"pandas", "email_validator", "duckdb"} <= imported


def test_the_floor_loads_every_row_best_of_three(international, tmp_path):
    _, generated, events = international
    floor = best_floor(generated.files, events.files, tmp_path)
    assert (floor["contact_rows"], floor["event_rows"]) == (generated.rows, events.rows)
    assert len(floor["tries_seconds"]) == 3 and round(floor["seconds"], 3) == min(floor["tries_seconds"])
    assert not list(tmp_path.glob("*.duckdb"))  # each try's fresh file is removed


@pytest.mark.parametrize(
    ("text", "share"), [("ascii", 0.01), ("international", 1 / 3), ("1/3", 1 / 3), ("0.2", 0.2), ("0", 0.0)]
)
def test_international_share_accepts_a_mix_a_number_or_a_fraction(text, share):
    assert international_share(text) == pytest.approx(share)


@pytest.mark.parametrize("text", ["latin", "1.5", "-0.1", "1/0"])
def test_international_share_refuses_anything_else(text):
    with pytest.raises(argparse.ArgumentTypeError):
        international_share(text)
