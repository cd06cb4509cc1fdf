"""Turn one inbox file into a header and a frame of text cells, whatever its format and encoding.

Every record comes out either as cells aligned to the header, or as a problem with the reason and the
raw text, so that nothing is lost. A file that cannot be read at all raises `FileFailed`. Delimited text
is read by assets/ingest/delimited.py, bytes become text in assets/ingest/text_decoding.py; double-encoded UTF-8 is
repaired in the cells of every format (assets/ingest/mojibake.py).
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import polars as pl

from assets.ingest.delimited import _read_delimited
from assets.ingest.json_records import read_json, read_jsonl
from assets.ingest.mojibake import repair_cells
from assets.ingest.parsed_file import FileFailed, ParsedFile, cell_column
from assets.ingest.text_decoding import UNCLEAN_TEXT, decode_text

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")


PARQUET_SUFFIXES = (".parquet",)


JSONL_SUFFIXES = (".jsonl", ".ndjson")


JSON_SUFFIXES = (".json",)


DATA_SUFFIXES = TEXT_SUFFIXES + PARQUET_SUFFIXES + JSONL_SUFFIXES + JSON_SUFFIXES


def data_suffix(path: Path) -> str | None:
    """The format suffix that decides how to read the file (`.csv` for `x.csv.gz`), or None."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix in DATA_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return None


def read_file(path: Path, data: bytes | None = None, content: bytes | None = None) -> ParsedFile:
    """Parse a file's bytes (`data`, read from `path` if not given); `content`: its decompressed bytes,
    when the caller has them already (assets/ingest/read_limits.py decompresses under limits)."""
    suffix = data_suffix(path)
    if suffix is None:
        raise FileFailed(
            f"unsupported file type {path.suffix!r}; expected one of {', '.join(DATA_SUFFIXES)} (optionally .gz)"
        )
    if content is not None:
        data = content
    else:
        data = path.read_bytes() if data is None else data
        if path.name.lower().endswith(".gz"):
            data = _gunzip(data)
    if suffix in PARQUET_SUFFIXES:
        parsed = _read_parquet(data)
    else:
        text, encoding, lossless = decode_text(data)
        if suffix in JSONL_SUFFIXES:
            parsed = read_jsonl(text)
        elif suffix in JSON_SUFFIXES:
            parsed = read_json(text)
        else:
            clean = "\x00" not in text and (lossless or UNCLEAN_TEXT.search(text) is None)
            # polars reads bytes: the file's own bytes when they are exactly the decoded text's UTF-8.
            utf8 = data if encoding == "utf-8" and lossless else None
            parsed = _read_delimited(
                text, default_delimiter="\t" if suffix == ".tsv" else None, clean=clean, utf8=utf8
            )
        parsed.encoding = encoding
    parsed.cells, parsed.repairs = repair_cells(
        parsed.cells, [cell_column(index) for index in range(len(parsed.header))]
    )
    return parsed


def _gunzip(data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise FileFailed(f"not a readable gzip file: {exc}") from None


def _read_parquet(data: bytes) -> ParsedFile:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # polars raises several types for corrupt files
        raise FileFailed(f"not a readable Parquet file: {exc}") from None
    as_text = frame.select(
        pl.col(name).list.eval(pl.element().cast(pl.Utf8)).list.join(",")
        if isinstance(dtype, pl.List)
        else pl.col(name).cast(pl.Utf8)
        for name, dtype in frame.schema.items()
    )
    names = [cell_column(index) for index in range(as_text.width)]
    cells = as_text.rename(dict(zip(as_text.columns, names, strict=True))).with_row_index(
        "row_number", offset=1
    )
    return ParsedFile(list(frame.columns), cells.with_columns(pl.col("row_number").cast(pl.Int64)))
