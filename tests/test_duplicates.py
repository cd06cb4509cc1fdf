"""Probable duplicates (assets/contacts/duplicates.py): planted pairs in a generated audience are found with
the comparisons that agreed, unrelated people are not paired, the relation is versioned and erasure reaches it;
on the labelled corpora, pairwise precision and recall at contact level."""

from __future__ import annotations

import csv
import io
import itertools
import random
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.config import ConfigError
from tests.conftest import CORPORA, INGEST_AND_MERGE, make_workspace

THROUGH_DUPLICATES = (*INGEST_AND_MERGE, "duplicate_candidates")
DEDUPE_CONFIG = "fields:\n  birthday: {type: date}\n  city: {type: text}\n  vip: {type: boolean}\n"
FIRST = "anna ben carla david emma felix greta hugo ida jonas karl lena mia noah olga paul rosa sven tara ulf".split()
LAST = "adler bauer conrad dietz engel fuchs graf hahn imhof jung keller lang mayer neumann otto peters roth schulz".split()
CITIES = "berlin hamburg munich cologne leipzig dresden bremen essen kiel mainz".split()
PLAIN_MANIFEST = "consent: confirmed\nmode: subscribe\n"
HEADER = ["email", "first_name", "last_name", "birthday", "city", "vip"]

# (kind, the original's fields -> the duplicate's, the reason the pair must carry)
PLANTED = {
    "provider folding": "one mailbox (provider folding)",
    "domain typo": "domain typo",
    "other domain": "same local part, other domain",
    "swapped names": "first and last name swapped",
    "address typo": "address one edit apart",
}


def audience(seed: int = 7, people: int = 400) -> tuple[list[list[str]], dict[str, set[tuple[str, str]]]]:
    """`people` distinct people (unique addresses, names drawn from small pools, so that names alone repeat)
    and, for each kind in PLANTED, eight of them under a second address; the planted pairs by kind."""
    rng = random.Random(seed)
    rows, planted = [], {kind: set() for kind in PLANTED}
    for serial in range(people):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        birthday = f"{rng.randint(1950, 2004)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        domain = rng.choice(("gmail.com", "web.de", "example.org", "mail.example.com"))
        email = f"{first}.{last}{serial}@{domain}"
        rows.append(
            [email, first.title(), last.title(), birthday, rng.choice(CITIES), rng.choice(("yes", "no"))]
        )
    originals = iter(rows[:])
    for kind in PLANTED:
        for _ in range(8):
            email, first, last, birthday, city, vip = next(originals)
            local, domain = email.split("@")
            if kind == "provider folding":
                twin = [
                    f"{local.replace('.', '', 1)}+news@gmail.com"
                    if domain == "gmail.com"
                    else f"{local}+news@{domain}",
                    first,
                    last,
                    birthday,
                    city,
                    vip,
                ]
            elif kind == "domain typo":
                twin = [
                    f"{local}@{domain[0]}{domain[2]}{domain[1]}{domain[3:]}",
                    first,
                    last,
                    birthday,
                    city,
                    vip,
                ]
            elif kind == "other domain":
                twin = [f"{local}@work.example.net", first, last, "", city, vip]
            elif kind == "swapped names":
                twin = [f"{last.lower()}.{first.lower()}@example.net", last, first, birthday, city, vip]
            else:
                twin = [f"{local[:-1]}x{local[-1]}@{domain}", first, last, birthday, "", vip]
            rows.append(twin)
            planted[kind].add((email, twin[0]))
    rng.shuffle(rows)
    return rows, planted


def to_csv(rows: list[list[str]], header: list[str] = HEADER) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    workspace = make_workspace(tmp_path_factory.mktemp("duplicates"))
    workspace.paths.config_path.write_text(DEDUPE_CONFIG)
    rows, planted = audience()
    workspace.drop("people.csv", to_csv(rows), PLAIN_MANIFEST)
    workspace.run(only=THROUGH_DUPLICATES)
    return workspace, planted


def found_pairs(workspace) -> dict[frozenset, tuple[float, list[str]]]:
    return {
        frozenset((a, b)): (p, reasons)
        for a, b, p, reasons in workspace.query(
            "select email_a, email_b, match_probability, match_reasons from duplicate_candidates"
        )
    }


def test_planted_duplicates_are_found_with_their_reason_and_strangers_are_not(scored):
    workspace, planted = scored
    found = found_pairs(workspace)
    every_planted = {frozenset(pair) for pairs in planted.values() for pair in pairs}
    for kind, pairs in planted.items():
        hits = [frozenset(pair) for pair in pairs if frozenset(pair) in found]
        assert len(hits) >= 7, (kind, len(hits))  # at most one of eight missed per kind
        for pair in hits:
            assert PLANTED[kind] in found[pair][1], (kind, found[pair][1])
    # strangers who share a first or last name (drawn from pools of 20) are not paired
    false = [pair for pair in found if pair not in every_planted]
    assert len(false) <= 0.1 * len(found), len(false)
    assert all(0.5 <= p <= 1 for p, _ in found.values())
    a_less_than_b = workspace.one("select bool_and(contact_id_a < contact_id_b) from duplicate_candidates")
    assert a_less_than_b == (True,)


def test_a_rerun_changes_nothing_and_a_new_contact_is_scored(scored, tmp_path):
    workspace = scored[0].copy_to(tmp_path / "copy")
    before = workspace.query("select * from duplicate_candidates order by all")
    version = workspace.one("select current_version('duplicate_candidates')")
    result = workspace.run(only=THROUGH_DUPLICATES)
    materialization = result.asset_materializations_for_node("duplicate_candidates")[0]
    assert materialization.metadata["unchanged"].value is True
    assert workspace.query("select * from duplicate_candidates order by all") == before
    assert workspace.one("select current_version('duplicate_candidates')") == version

    # one more spelling of a known person: a new version with the new pair; the old version still reads as it was
    email, first, last, birthday, city, vip = workspace.one(
        "select email, first_name, last_name, birthday::varchar, city, vip::varchar from contacts order by contact_id limit 1"
    )
    local, domain = email.split("@")
    workspace.drop(
        "late.csv", to_csv([[f"{local}@{domain}.example", first, last, birthday, city, vip]]), PLAIN_MANIFEST
    )
    workspace.run(only=THROUGH_DUPLICATES)
    assert any(pair == frozenset((email, f"{local}@{domain}.example")) for pair in found_pairs(workspace)), (
        "the new address of a known person is a candidate"
    )
    assert sorted(workspace.query("select * from duplicate_candidates_at(?)", [version[0]])) == sorted(before)
    metadata = (
        workspace.run(only=THROUGH_DUPLICATES)
        .asset_materializations_for_node("duplicate_candidates")[0]
        .metadata
    )
    shown = metadata["preview"].value + metadata["by_reason"].value + metadata["by_probability"].value
    assert "contact_id_a" in shown and "@" not in shown


def test_erasure_of_one_address_removes_its_pairs_from_every_version(scored, tmp_path):
    workspace = scored[0].copy_to(tmp_path / "copy")
    erased, other = workspace.one(
        "select email_a, email_b from duplicate_candidates order by match_probability desc, contact_id_a, contact_id_b limit 1"
    )
    workspace.drop("request.csv", f"email\n{erased}\n", folder="erasure")
    workspace.run(only=("erasure_log", *THROUGH_DUPLICATES))
    assert workspace.one(
        "select count(*) from duplicate_candidates_history where ? in (email_a, email_b)", [erased]
    ) == (0,)
    assert workspace.one("select count(*) from contacts where email = ?", [other]) == (1,)
    # nor in the bytes of any file outside the inbox (the warehouse, its WAL)
    assert [
        path.name
        for path in workspace.paths.data_dir.rglob("*")
        if path.is_file()
        and workspace.paths.inbox not in path.parents
        and erased.encode() in path.read_bytes()
    ] == []


def test_dedupe_fields_must_be_custom_fields(tmp_path):
    workspace = make_workspace(tmp_path)
    workspace.paths.config_path.write_text(DEDUPE_CONFIG + "dedupe:\n  fields: [birthday, shoe_size]\n")
    with pytest.raises(
        ConfigError,
        match=r"dedupe.fields: 'shoe_size' is not a custom field \(declared: birthday, city, vip\)",
    ):
        workspace.run(only=THROUGH_DUPLICATES)


def test_contacts_duplicates_writes_a_review_file_that_is_a_merge_file(scored, tmp_path):
    workspace = scored[0]
    out = tmp_path / "review.csv"
    env = {
        "CONTACTS_DATA_DIR": str(workspace.paths.data_dir),
        "CONTACTS_CONFIG": str(workspace.paths.config_path),
        "PATH": str(Path(sys.executable).parent),
    }
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "duplicates",
            "--min-probability",
            "0.9",
            "--output",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 0, finished.stderr
    with out.open(newline="", encoding="utf-8") as handle:
        review = list(csv.DictReader(handle))
    expected = workspace.query("select count(*) from duplicate_candidates where match_probability >= 0.9")[0][
        0
    ]
    assert len(review) == expected > 0
    assert list(review[0])[:2] == ["keep_email", "merge_email"]
    pairs = {
        frozenset((a, b)) for a, b in workspace.query("select email_a, email_b from duplicate_candidates")
    }
    assert all(frozenset((row["keep_email"], row["merge_email"])) in pairs for row in review)
    assert "@" not in finished.stderr  # the summary names counts and the file, no address


# Pairwise precision and recall at contact level on the labelled corpora (issue 19's measure): two contacts
# are a true pair when their input rows share a `cluster`. Imported with a plain manifest; blank and invalid
# addresses are rejected, so contacts are fewer than rows.
CORPUS_SETS = ("splink_datasets_fake_1000.csv", "splink_tests_fake_1000_from_splink_demos.csv")


@pytest.mark.parametrize("name", CORPUS_SETS)
def test_precision_and_recall_on_the_labelled_corpora(name, tmp_path):
    path = CORPORA / "dedupe" / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    workspace = make_workspace(tmp_path)
    workspace.paths.config_path.write_text("fields:\n  dob: {type: date}\n  city: {type: text}\n")
    workspace.drop("people.csv", path.read_text(encoding="utf-8"), PLAIN_MANIFEST)
    workspace.run(only=THROUGH_DUPLICATES)

    clusters_by_address: dict[str, set[str]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            clusters_by_address.setdefault(row["email"].strip().lower(), set()).add(row["cluster"])
    contacts = workspace.query("select contact_id, email from contacts")
    clusters = {contact_id: clusters_by_address[email] for contact_id, email in contacts}
    truth = {(a, b) for a, b in itertools.combinations(sorted(clusters), 2) if clusters[a] & clusters[b]}
    found = set(
        workspace.query(
            "select contact_id_a, contact_id_b from duplicate_candidates where match_probability >= 0.5"
        )
    )
    precision = len(found & truth) / len(found)
    recall = len(found & truth) / len(truth)
    print(
        f"{name}: {len(contacts)} contacts, {len(truth)} true pairs, {len(found)} found, precision {precision:.3f}, recall {recall:.3f}"
    )
    assert precision >= 0.9 and recall >= 0.8, (precision, recall)


def test_an_audience_too_small_for_a_model_has_no_candidates_and_says_why(tmp_path):
    workspace = make_workspace(tmp_path)
    workspace.paths.config_path.write_text(DEDUPE_CONFIG)
    rows, _ = audience(people=60)
    workspace.drop("people.csv", to_csv(rows[:60]), PLAIN_MANIFEST)
    result = workspace.run(only=THROUGH_DUPLICATES)
    metadata = result.asset_materializations_for_node("duplicate_candidates")[0].metadata
    assert workspace.one("select count(*) from duplicate_candidates") == (0,)
    assert (
        metadata["not_scored_because"].value
        == "60 contact(s): a model needs at least 100 to estimate its parameters from"
    )
