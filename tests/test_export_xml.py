"""XML exports (README "Exports"): the schema, escaping, the manifest, latest.xml and erasure."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import polars as pl

from assets.exports.files import FORMULA_START, write_xml

TYPED = {
    "integer": int,
    "float": float,
    "boolean": lambda text: text == "true",
    "date": dt.date.fromisoformat,
}
ITEMS = {"tags": "tag", "lists": "list"}
TRICKY = ["<&>\"' ]]> x", "=SUM(A1)", "Bell\x07e"]


def text_of(element: ET.Element) -> str:
    text = element.text or ""
    return base64.b64decode(text).decode("utf-8") if element.get("encoding") == "base64" else text


def read_xml(path: Path, columns: list[str]) -> tuple[dict, list[dict]]:
    """The root's attributes and the rows, typed as the schema says; an absent element is None."""
    data = path.read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert b"<!DOCTYPE" not in data and b"<!ENTITY" not in data
    data.decode("utf-8")  # strict UTF-8
    root = ET.fromstring(data)
    assert root.tag == "contacts"
    rows = []
    for contact in root:
        assert contact.tag == "contact"
        row: dict = dict.fromkeys(columns)
        for element in contact:
            if element.tag == "field":
                convert = TYPED.get(element.get("type"), str)
                row[element.get("name")] = convert(text_of(element))
            elif element.tag in ITEMS:
                assert all(item.tag == ITEMS[element.tag] for item in element)
                row[element.tag] = [text_of(item) for item in element]
            elif element.tag == "contact_id":
                row["contact_id"] = int(element.text)
            else:
                row[element.tag] = text_of(element)
        assert list(row) == columns, f"unknown element in {path.name}"
        rows.append(row)
    return root.attrib, rows


def test_values_xml_cannot_carry_as_text_round_trip(tmp_path):
    frame = pl.DataFrame(
        {
            "contact_id": [1, 2, 3],
            "email": ["a@example.com", "b@example.com", "c@example.com"],
            "first_name": ["<&>\"' ]]>", "nul\x00 vt\x0b ff\x0c \ufffe", "tab\tcr\r\nlf\n"],
            "last_name": ["=SUM(A1)", "", None],
            "tags": [["<vip>", "es\x1bc"], [], None],
            "purchase_total": [float("inf"), float("-inf"), None],
            "vip": [True, False, None],
            "birthday": [dt.date(1990, 1, 2), None, dt.date(2000, 12, 31)],
        }
    )
    path = tmp_path / "v7.xml"
    write_xml(
        frame, path, "lists/o'neil&co", 7, {"purchase_total": "float", "vip": "boolean", "birthday": "date"}
    )
    attributes, rows = read_xml(path, frame.columns)
    assert attributes == {"export": "lists/o'neil&co", "version": "7", "schema": "1"}
    assert rows == frame.to_dicts()
    text = path.read_text(encoding="utf-8")
    assert "&#13;" in text and 'encoding="base64"' in text and "<last_name>=SUM(A1)</last_name>" in text
    assert "<tags></tags>" in text  # an empty list; the third row's null tags are absent
    empty = tmp_path / "empty.xml"
    write_xml(frame.clear(), empty, "segments/none", 1, {})
    assert read_xml(empty, frame.columns)[1] == []


def files(workspace) -> list[Path]:
    return [p for p in (workspace.paths.data_dir / "exports").rglob("*") if p.is_file()]


def check_version(folder: Path, version: int) -> list[dict]:
    """The version's XML holds the rows of its Parquet file (typed) and of its CSV file, and its manifest
    hashes it; returns the rows."""
    manifest = json.loads((folder / f"v{version}.manifest.json").read_text())
    xml_path = folder / f"v{version}.xml"
    assert manifest["files"][xml_path.name] == hashlib.sha256(xml_path.read_bytes()).hexdigest()
    attributes, rows = read_xml(xml_path, manifest["columns"])
    assert attributes["export"] == manifest["export"] and attributes["version"] == str(version)
    assert len(rows) == manifest["row_count"]
    assert rows == pl.read_parquet(folder / f"v{version}.parquet").to_dicts()
    from_csv = list(csv.DictReader(io.StringIO((folder / f"v{version}.csv").read_text(encoding="utf-8"))))
    assert [int(r["contact_id"]) for r in from_csv] == [r["contact_id"] for r in rows]
    for got, expected in zip(rows, from_csv, strict=True):
        for name in ("email", "first_name", "company"):
            value = got[name] or ""
            assert (
                "'" + value if pl.Series([value]).str.contains(FORMULA_START).item() else value
            ) == expected[name]
        assert str(got["employees"] if got["employees"] is not None else "") == expected["employees"]
        assert (got["birthday"].isoformat() if got["birthday"] else "") == expected["birthday"]
        if got["purchase_total"] is not None:
            assert math.isclose(got["purchase_total"], float(expected["purchase_total"]))
    return rows


def test_xml_beside_every_version_and_after_an_erasure(workspace):
    """Two versions of a segment and a list, then an erasure: every XML holds the version's rows, typed
    and escaped, its manifest hashes it, latest.xml is the newest, and the erased address is gone from all."""
    workspace.write_segment("everyone", "select contact_id from contacts\n")
    workspace.drop(
        "1.csv",
        "email,first_name,company,tags,birthday,purchase_total,vip,employees,renewal\n"
        + "".join(
            f'p{n}@example.com,"{name.replace(chr(34), chr(34) * 2)}",Co {n},"vip,x{n}",1990-01-0{n + 1},'
            f"{n}.5,{'yes' if n else 'no'},{n * 10},02/03/2027\n"
            for n, name in enumerate(TRICKY)
        )
        + "gone@example.com,Gone,Quotes gone@example.com,,,,,,\n",
    )
    workspace.run()
    workspace.drop("2.csv", "email,first_name\nnew@example.com,New\n")
    workspace.run()
    everyone = workspace.paths.data_dir / "exports" / "segments" / "everyone"
    newsletter = workspace.paths.data_dir / "exports" / "lists" / "newsletter"
    for folder in (everyone, newsletter):
        assert [check_version(folder, version) for version in (1, 2)][1]
        latest = json.loads((folder / "latest.manifest.json").read_text())
        assert latest["version"] == 2
        assert (folder / "latest.xml").read_bytes() == (folder / "v2.xml").read_bytes()
    rows = {row["email"]: row for row in check_version(everyone, 2)}
    assert [rows[f"p{n}@example.com"]["first_name"] for n in range(len(TRICKY))] == TRICKY
    assert rows["p1@example.com"]["tags"] == ["vip", "x1"] and rows["p1@example.com"]["vip"] is True
    assert rows["p2@example.com"]["renewal"] == dt.date(2027, 3, 2)
    assert rows["new@example.com"]["tags"] == [] and rows["new@example.com"]["birthday"] is None
    assert any(b"gone@example.com" in p.read_bytes() for p in files(workspace) if p.suffix == ".xml")

    workspace.drop("request.csv", "email\ngone@example.com\n", folder="erasure")
    workspace.run()
    xml_files = [p for p in files(workspace) if p.suffix == ".xml"]
    assert {p.name for p in xml_files} >= {"v1.xml", "v2.xml", "latest.xml"}
    for path in xml_files:
        assert b"gone@example.com" not in path.read_bytes(), path.name
        root = ET.parse(path).getroot()
        assert not [e for e in root.iter() if "gone@example.com" in text_of(e)], path.name
    for folder in (everyone, newsletter):
        for version in (1, 2):
            assert "gone@example.com" not in {row["email"] for row in check_version(folder, version)}
        assert (folder / "latest.xml").read_bytes() == (folder / "v2.xml").read_bytes()
