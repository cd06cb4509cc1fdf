"""The presets' data, checked without loading anything (issue 17): every preset maps to our fields and statuses,
its signature is distinctive, each tool's fixture header is recognised as that tool's and no other's, and no
signature matches the project's sample files or the shared corpora exports of other tools. The end-to-end
loads of tests/data/presets/<tool>/*.csv against their expected.json are in the ingest tests."""

from __future__ import annotations

import csv
import importlib
import io
import json
import re
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from assets.ingest.headers import normalise_header
from assets.ingest.presets import PRESET_MODULES, presets
from assets.validation.fields import parse_timestamps
from pipelines.vocabulary import CONTACT_HEADERS, STATUSES

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = PROJECT_ROOT / "tests" / "data" / "presets"
SAMPLES = PROJECT_ROOT / "data" / "samples"
EXPORTS = PROJECT_ROOT.parent / "shared" / "corpora" / "exports"
DELIMITERS = (",", ";", "\t", "|")
BUILT_IN_ALIASES = {alias for aliases in CONTACT_HEADERS.values() for alias in aliases}
# Which tool each shared corpus export is from (None: none of ours); a signature may match only its own tool's.
CORPUS_TOOLS = (
    (re.compile(r"^ghost_core/"), "ghost"),
    (re.compile(r"^listmonk/"), "listmonk"),
    (re.compile(r"^tryghost_migrate/mg-mailchimp-members__"), "mailchimp"),
    (re.compile(r"^tryghost_migrate/mg-substack-members-csv__"), "substack"),
    (re.compile(r"^tryghost_migrate/mg-beehiiv-members__"), "beehiiv"),
)


def header_of(path: Path) -> list[str]:
    """The header cells of a delimited file (BOM stripped, the most frequent delimiter of the first line), of a
    JSON-lines file (the keys of its first object) or of a Parquet file (its columns)."""
    if path.suffix == ".parquet":
        return pq.read_schema(path).names
    first = path.read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff").splitlines()[0]
    if path.suffix in (".jsonl", ".ndjson"):
        return list(json.loads(first))
    delimiter = max(DELIMITERS, key=first.count)
    return next(csv.reader(io.StringIO(first), delimiter=delimiter))


def matching(headers: list[str]) -> list[str]:
    """The presets whose whole signature is among these headers."""
    present = {normalise_header(cell) for cell in headers}
    return [
        name
        for name, preset in presets().items()
        if preset.signature and all(normalise_header(cell) in present for cell in preset.signature)
    ]


def fixture_files() -> list[Path]:
    return sorted(FIXTURES.glob("*/*.csv"))


def expected_of(path: Path) -> dict:
    return json.loads((path.parent / "expected.json").read_text(encoding="utf-8"))[path.name]


def test_every_module_exposes_its_preset():
    for module in PRESET_MODULES:
        loaded = importlib.import_module(f"assets.ingest.presets.{module}")
        assert loaded.PRESET.name == module
        assert loaded.PRESET.title
        # Each module says where its layout comes from.
        assert loaded.__doc__ and re.search(r"https?://|\w/\w", loaded.__doc__), module
    assert sorted(presets()) == sorted(PRESET_MODULES)


@pytest.mark.parametrize("name", PRESET_MODULES)
def test_columns_and_statuses_are_ours(name):
    preset = presets()[name]
    assert set(preset.columns.values()) <= set(CONTACT_HEADERS), name
    assert "email" in preset.columns.values(), name
    targets = (
        set(preset.status_values.values())
        | set(preset.status_flags.values())
        | set(preset.status_if_filled.values())
    )
    assert targets <= set(STATUSES), name
    # Status words are looked up case-insensitively and trimmed: no two keys may collide.
    words = [word.strip().lower() for word in preset.status_values]
    assert len(words) == len(set(words)), name
    if preset.status_values:
        assert "status" in preset.columns.values(), f"{name}: status words but no status column"
    # A header is one thing: a status column is not also a flag.
    for mapping in (preset.columns, preset.status_flags, preset.status_if_filled):
        normalised = [normalise_header(cell) for cell in mapping]
        assert len(normalised) == len(set(normalised)), name
    assert not {normalise_header(cell) for cell in preset.status_flags} & {
        normalise_header(cell) for cell in preset.status_if_filled
    }, name
    assert preset.tag_separator


@pytest.mark.parametrize("name", PRESET_MODULES)
def test_signature_is_distinctive(name):
    signature = [normalise_header(cell) for cell in presets()[name].signature]
    if not signature:
        return  # only `preset:` applies it
    assert len(signature) == len(set(signature)), name
    # Never just the headers any contact file has: at least one cell that no built-in alias is.
    assert set(signature) - BUILT_IN_ALIASES, name
    for other, preset in presets().items():
        theirs = {normalise_header(cell) for cell in preset.signature}
        if other != name and theirs:
            assert not set(signature) <= theirs, f"a {other} export would also match {name}'s signature"


def test_every_tool_has_fixtures_and_expectations():
    """One folder per tool, an expected.json naming each of its files, and at least one file recognised
    without `preset:` for every tool that has a signature."""
    assert sorted(path.name for path in FIXTURES.iterdir() if path.is_dir()) == sorted(PRESET_MODULES)
    for tool in PRESET_MODULES:
        expected = json.loads((FIXTURES / tool / "expected.json").read_text(encoding="utf-8"))
        assert sorted(expected) == sorted(path.name for path in (FIXTURES / tool).glob("*.csv")), tool
        if presets()[tool].signature:
            assert any(entry["recognised"] for entry in expected.values()), tool
    assert "README.md" in {path.name for path in FIXTURES.iterdir()}


@pytest.mark.parametrize("path", fixture_files(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_fixture_is_recognised_as_its_tool_only(path):
    """A fixture is recognised as its own tool's export, or (a layout the signature leaves out on purpose, or a
    tool without one) as nobody's: never as another tool's."""
    tool = path.parent.name
    found = matching(header_of(path))
    expected = expected_of(path)
    assert found == ([tool] if expected["recognised"] else [])
    if not presets()[tool].signature:
        assert not expected["recognised"]


@pytest.mark.parametrize("path", fixture_files(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_expectation_is_consistent(path):
    expected = expected_of(path)
    assert set(expected) == {
        "recognised",
        "rows_total",
        "rows_accepted",
        "rows_rejected",
        "rejected",
        "statuses",
    }
    assert expected["rows_accepted"] + expected["rows_rejected"] == expected["rows_total"]
    assert sum(expected["rejected"].values()) == expected["rows_rejected"]
    assert set(expected["statuses"].values()) <= set(STATUSES)
    # Addresses as stored: normalised and lower-cased whole.
    assert all(address == address.strip().lower() for address in expected["statuses"])
    assert 0 < len(expected["statuses"]) <= expected["rows_accepted"]


def test_some_fixture_has_a_status_word_nothing_maps():
    rejected = [expected_of(path)["rejected"].get("unknown_status", 0) for path in fixture_files()]
    assert any(rejected)


@pytest.mark.parametrize("path", fixture_files(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_fixture_dates_parse_with_the_preset(path):
    """created_at parses with the preset's time_format, or as ISO 8601 when it has none."""
    preset = presets()[path.parent.name]
    headers = [normalise_header(cell) for cell in header_of(path)]
    mapped = {normalise_header(cell): field for cell, field in preset.columns.items()}
    columns = [
        index
        for index, cell in enumerate(headers)
        if mapped.get(cell) == "created_at" or (cell not in mapped and cell in CONTACT_HEADERS["created_at"])
    ]
    if not columns:
        return
    text = path.read_bytes().decode("utf-8").lstrip("\ufeff")
    delimiter = max(DELIMITERS, key=text.splitlines()[0].count)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))[1:]
    values = pl.Series([row[columns[0]] or None for row in rows if row], dtype=pl.Utf8)
    if preset.time_format:
        parsed = values.str.strptime(pl.Datetime("us", "UTC"), preset.time_format, strict=False)
        assert parsed.null_count() == values.null_count(), values.to_list()
    else:
        problems = parse_timestamps(values, "UTC", None).get_column("problem")
        assert problems.null_count() == len(values), values.to_list()


def sample_files() -> list[Path]:
    return sorted(
        path
        for path in SAMPLES.rglob("*")
        if path.suffix in (".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".parquet")
    )


@pytest.mark.parametrize("path", sample_files(), ids=lambda path: str(path.relative_to(SAMPLES)))
def test_no_signature_matches_the_sample_files(path):
    assert matching(header_of(path)) == []


def corpus_files() -> list[Path]:
    return sorted(EXPORTS.rglob("*.csv")) if EXPORTS.is_dir() else []


@pytest.mark.skipif(not EXPORTS.is_dir(), reason="shared corpora not on disk")
def test_no_signature_matches_another_tools_corpus_export():
    assert corpus_files()
    for path in corpus_files():
        name = path.relative_to(EXPORTS).as_posix()
        tool = next((tool for pattern, tool in CORPUS_TOOLS if pattern.search(name)), None)
        found = matching(header_of(path))
        assert set(found) <= ({tool} if tool else set()), f"{name} matches {found}"
