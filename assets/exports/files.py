"""The files of an export on disk: CSV, Parquet, JSON Lines and XML writers, atomic writes (temporary name,
fsync, rename), and reading the versions and manifests a folder holds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

import polars as pl

FORMULA_START = r"^[=+\-@\t\r]"


VERSION_FILE = re.compile(r"^v(\d+)\.manifest\.json$")


DATA_FILES = ("csv", "parquet", "jsonl", "xml")  # each has its latest.<extension>


CRASH_HOOK = "CONTACTS_TEST_CRASH_AFTER_EXPORT_FILES"  # tests: die after writing this many files


def neutralise(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Text for the CSV: lists joined with commas, formula-looking cells prefixed with '."""
    columns = []
    for name, dtype in frame.collect_schema().items():
        column = pl.col(name)
        if isinstance(dtype, pl.List):
            column = column.list.join(",")
        elif dtype != pl.Utf8:
            columns.append(column)
            continue
        columns.append(
            pl.when(column.str.contains(FORMULA_START))
            .then(pl.lit("'") + column)
            .otherwise(column)
            .alias(name)
        )
    return frame.select(columns)


def write_csv(frame: pl.DataFrame, path: Path) -> None:
    # Streamed to the file in batches: an export of millions of rows is never held as one string.
    neutralise(frame.lazy()).sink_csv(
        path, quote_style="necessary", line_terminator="\r\n", date_format="%Y-%m-%d"
    )


FILE_WRITERS: dict[str, Callable[[pl.DataFrame, Path], None]] = {
    "csv": write_csv,
    "parquet": lambda frame, path: frame.write_parquet(path),
    "jsonl": lambda frame, path: frame.write_ndjson(path),
}


XML_SCHEMA = 1  # the `schema` attribute of <contacts>: changes only when the element layout does

# Characters XML 1.0 cannot carry, not even as a character reference (NUL and the other C0 controls but TAB,
# LF and CR; U+FFFE and U+FFFF; a polars string holds no surrogates): a value with one is written in base64.
XML_NOT_ALLOWED = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]"

XML_ITEMS = {"tags": "tag", "lists": "list"}  # the element of one item of a list column

XML_BATCH_ROWS = 20_000  # rows turned into text at a time: the document is never held whole


def _xml_text(value: pl.Expr, tag: str, attributes: str = "") -> pl.Expr:
    """One element holding a text value, null when the value is: & < > escaped, CR as &#13; (a parser would
    turn it into LF), and the whole value in base64 (`encoding="base64"`, of its UTF-8) when it holds a
    character XML 1.0 cannot carry."""
    escaped = (
        value.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
        .str.replace_all("\r", "&#13;", literal=True)
    )
    encoded = pl.lit(f'<{tag}{attributes} encoding="base64">') + value.str.encode("base64")
    opened = pl.when(value.str.contains(XML_NOT_ALLOWED)).then(encoded)
    return opened.otherwise(pl.lit(f"<{tag}{attributes}>") + escaped) + pl.lit(f"</{tag}>")


def _xml_scalar(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A number, boolean or date as XML Schema writes it: 42, 12.5, 1e+20, INF, -INF, NaN, true, 1990-01-02."""
    text = value.cast(pl.Utf8)
    if dtype.is_float():
        return (
            pl.when(value.is_infinite())
            .then(pl.when(value > 0).then(pl.lit("INF")).otherwise(pl.lit("-INF")))
            .otherwise(text)
        )
    return text


def _xml_element(name: str, dtype: pl.DataType, fields: Mapping[str, str]) -> pl.Expr:
    column = pl.col(name)
    if isinstance(dtype, pl.List):  # <tags><tag>a</tag><tag>b</tag></tags>; an empty list is <tags></tags>
        items = column.list.eval(_xml_text(pl.element(), XML_ITEMS.get(name, "item"))).list.join("")
        return pl.lit(f"<{name}>") + items + pl.lit(f"</{name}>")
    if name in fields:  # <field name="birthday" type="date">1990-01-02</field>
        attributes = f" name={quoteattr(name)} type={quoteattr(fields[name])}"
        if dtype == pl.Utf8:
            return _xml_text(column, "field", attributes)
        return pl.lit(f"<field{attributes}>") + _xml_scalar(column, dtype) + pl.lit("</field>")
    if dtype == pl.Utf8:
        return _xml_text(column, name)
    return pl.lit(f"<{name}>") + _xml_scalar(column, dtype) + pl.lit(f"</{name}>")


def write_xml(frame: pl.DataFrame, path: Path, export: str, version: int, fields: Mapping[str, str]) -> None:
    """The export as XML 1.0 in UTF-8 (README "Exports"): one <contact> per row, its columns as child
    elements in the file's column order, custom fields (`fields`: name -> type) as typed <field> elements,
    list columns as repeated child elements, a null as an absent element. No DTD, no entities: & < > are
    escaped, nothing else is needed in text. Written in batches of rows, each turned into text by polars."""
    contact = pl.concat_str(
        [
            pl.lit("<contact>"),
            *(_xml_element(name, dtype, fields) for name, dtype in frame.schema.items()),
            pl.lit("</contact>\n"),
        ],
        ignore_nulls=True,
    ).alias("xml")
    root = f"<contacts export={quoteattr(export)} version={quoteattr(str(version))} schema={quoteattr(str(XML_SCHEMA))}>"
    with open(path, "wb") as handle:
        handle.write(f'<?xml version="1.0" encoding="UTF-8"?>\n{root}\n'.encode())
        for offset in range(0, frame.height, XML_BATCH_ROWS):
            rows = frame.slice(offset, XML_BATCH_ROWS).select(contact).to_series()
            handle.write(rows.str.join("").item().encode("utf-8"))
        handle.write(b"</contacts>\n")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class PendingFile:
    """A file written under its temporary name, not yet in place."""

    name: str
    temporary: Path
    sha256: str


class AtomicWriter:
    """Write each file to a hidden temporary name, then rename it into place."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.written = 0
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.glob(".*.tmp"):
            leftover.unlink()

    def write(self, name: str, data: bytes) -> str:
        temporary = self.folder / f".{name}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return self._into_place(temporary, name)

    def stage(self, name: str, produce: Callable[[Path], None]) -> PendingFile:
        """Let `produce` write the file at its temporary name; flushed to disk and hashed, not yet in place."""
        temporary = self.folder / f".{name}.tmp"
        produce(temporary)
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        return PendingFile(name, temporary, file_sha256(temporary))

    def commit(self, staged: PendingFile) -> str:
        return self._into_place(staged.temporary, staged.name)

    def link(self, name: str, source: str) -> str:
        """`name` becomes another name for the already written file `source` (a copy where the file system
        has no hard links). Files are only ever replaced, never changed in place, so the two cannot drift."""
        temporary = self.folder / f".{name}.tmp"
        temporary.unlink(missing_ok=True)
        try:
            os.link(self.folder / source, temporary)
        except OSError:
            return self.write(name, (self.folder / source).read_bytes())
        return self._into_place(temporary, name)

    def _into_place(self, temporary: Path, name: str) -> str:
        os.replace(temporary, self.folder / name)
        self.written += 1
        crash_after = os.environ.get(CRASH_HOOK)
        if crash_after and self.written >= int(crash_after):
            os._exit(137)  # test hook: die like a killed process, mid-export
        return name


def exported_versions(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := VERSION_FILE.match(p.name)))


def read_manifest(folder: Path, name: str) -> dict | None:
    path = folder / name
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
