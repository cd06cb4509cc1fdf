"""Bounded reading of inbox files: limits that a file must stay within before any of it is parsed.

A file beyond a limit fails with a reason that names the limit, the value found and the setting that
raises it, and nothing of it is applied. The checks run on a stream, in chunks of at most
`CHUNK_BYTES`, so a decompression bomb or a gigabyte without a line end costs one chunk of memory
before it is refused, never the whole file:

- the file's size on disk (`limits.max_file_size`), from the file system, before reading it;
- for `.gz`: the decompressed size (`limits.max_decompressed_size`) and the ratio of decompressed to
  compressed bytes (`limits.max_compression_ratio`, judged once `RATIO_FLOOR_BYTES` are out, so that
  small, very regular files still load);
- for text (CSV, TSV, JSONL): the longest line (`limits.max_line_length`), tracked across chunks;
- for Parquet: the decompressed size its metadata declares, before its pages are read;
- after parsing, every format: the longest cell (`limits.max_field_size`), which also catches a quoted
  cell that spans many short lines.

A file within the limits is then parsed whole, so the memory a file can take is bounded by
`max_decompressed_size` (README, "Bounded memory").
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
from pydantic import ByteSize

from assets.ingest.parsed_file import FileFailed
from pipelines.config import Limits

CHUNK_BYTES = 1 << 20
RATIO_FLOOR_BYTES = 16 << 20


class LimitExceeded(FileFailed):
    """A file beyond a read limit; the message names the limit, the value found and the setting."""


def human(size: int) -> str:
    return ByteSize(size).human_readable()


def exceeded(what: str, limit: str, setting: str) -> LimitExceeded:
    return LimitExceeded(
        f"{what}, over the limit of {limit} (raise limits.{setting} in contacts.yaml to load it)"
    )


@dataclass
class BoundedRead:
    """What a bounded read gives back: the file's own bytes (hashed into the ledger) and, for a `.gz`,
    its decompressed bytes."""

    data: bytes
    content: bytes


def read_bounded(path: Path, limits: Limits, text: bool) -> BoundedRead:
    """The file's bytes and decompressed content, each check applied while reading; LimitExceeded if not."""
    size = path.stat().st_size
    if size > limits.max_file_size:
        raise exceeded(f"the file is {human(size)}", human(limits.max_file_size), "max_file_size")
    raw_chunks: list[bytes] = []
    compressed = path.name.lower().endswith(".gz")
    lines = LineLengths(limits.max_line_length) if text else None
    with path.open("rb") as stream:
        source = _chunks(stream, raw_chunks)
        if compressed:
            content_chunks = list(_checked(_gunzip_stream(source, limits), lines))
        else:
            for _ in _checked(source, lines):
                pass  # the raw chunks are the content
    data = b"".join(raw_chunks)
    del raw_chunks
    content = b"".join(content_chunks) if compressed else data
    return BoundedRead(data, content)


def _chunks(stream, keep: list[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_BYTES):
        keep.append(chunk)
        yield chunk


def _checked(chunks: Iterator[bytes], lines: LineLengths | None) -> Iterator[bytes]:
    for chunk in chunks:
        if lines is not None:
            lines.feed(chunk)
        yield chunk


class LineLengths:
    """The running length of the current line across chunks. A chunk is never longer than the limit
    (CHUNK_BYTES <= any sensible limit, else it is cut), so a line inside one chunk cannot exceed it: only
    the run since the last line end needs counting, with two C-level searches per chunk."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.run = 0
        self.line = 1

    def feed(self, chunk: bytes) -> None:
        step = max(1, min(len(chunk), self.limit))
        for start in range(0, len(chunk), step):
            self._feed(chunk[start : start + step] if step < len(chunk) else chunk)

    def _feed(self, piece: bytes) -> None:
        first = piece.find(b"\n")
        if first == -1:
            self.run += len(piece)
            self._check()
            return
        self.run += first
        self._check()
        self.line += piece.count(b"\n")
        self.run = len(piece) - piece.rfind(b"\n") - 1
        self._check()

    def _check(self) -> None:
        if self.run > self.limit:
            raise exceeded(
                f"line {self.line} has {human(self.run)} or more without a line end",
                human(self.limit),
                "max_line_length",
            )


def _gunzip_stream(chunks: Iterator[bytes], limits: Limits) -> Iterator[bytes]:
    """Decompress gzip members one after another, never more than a chunk out at a time, checking the
    decompressed size and the ratio as the output grows."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    consumed = produced = 0
    in_member = False  # the current member has had input and not reached its end
    try:
        for chunk in chunks:
            consumed += len(chunk)
            pending = chunk
            while pending:
                in_member = True
                out = decompressor.decompress(pending, CHUNK_BYTES)
                pending = decompressor.unconsumed_tail
                if decompressor.eof:
                    # Concatenated gzip members (as `cat a.gz b.gz` makes) are one file, as for gzip(1).
                    pending = decompressor.unused_data + pending
                    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    in_member = False
                    if not pending.strip(b"\x00"):
                        pending = b""
                if out:
                    produced += len(out)
                    check_decompressed(produced, consumed, limits, streaming=True)
                    yield out
        tail = decompressor.flush()
    except zlib.error as exc:
        raise FileFailed(f"not a readable gzip file: {exc}") from None
    if tail:
        produced += len(tail)
        check_decompressed(produced, consumed, limits, streaming=True)
        yield tail
    if in_member or not consumed:
        raise FileFailed(
            "not a readable gzip file: Compressed file ended before the end-of-stream marker was reached"
        )


def check_decompressed(decompressed: int, compressed: int, limits: Limits, streaming: bool = False) -> None:
    """The decompressed size and the ratio to the compressed bytes, each against its limit. `streaming`:
    the sizes are what a decompression has produced so far, not what a file declares."""
    so_far = f" ({human(decompressed)} out of {human(compressed)} so far)" if streaming else ""
    if decompressed > limits.max_decompressed_size:
        size = f"over {human(limits.max_decompressed_size)}" if streaming else human(decompressed)
        raise exceeded(
            f"the decompressed content is {size}{so_far}",
            human(limits.max_decompressed_size),
            "max_decompressed_size",
        )
    if decompressed >= RATIO_FLOOR_BYTES and decompressed > limits.max_compression_ratio * compressed:
        raise exceeded(
            f"the compression ratio is {decompressed / compressed:.0f}:1{so_far}",
            f"{limits.max_compression_ratio:g}:1",
            "max_compression_ratio",
        )


def check_parquet(path: Path, limits: Limits) -> None:
    """A Parquet file declares each column chunk's decompressed size: refuse a bomb before reading its pages."""
    con = duckdb.connect()
    try:
        (declared,) = con.execute(
            "select coalesce(sum(total_uncompressed_size), 0) from parquet_metadata(?)", [str(path)]
        ).fetchone()
    except duckdb.Error:
        return  # not readable as Parquet: the reader says why
    finally:
        con.close()
    check_decompressed(declared, max(path.stat().st_size, 1), limits)


def check_fields(cells: pl.DataFrame, columns: list[str], header: list[str], limits: Limits) -> None:
    """The longest cell of every column, in one vectorised pass."""
    if not columns or not cells.height:
        return
    longest = cells.select([pl.col(name).str.len_bytes().max().alias(name) for name in columns]).row(0)
    for index, (name, length) in enumerate(zip(columns, longest, strict=True)):
        if length is not None and length > limits.max_field_size:
            row = cells.filter(pl.col(name).str.len_bytes() == length).get_column("row_number")[0]
            label = header[index] if index < len(header) else name
            raise exceeded(
                f"the value of {label!r} in row {row} is {human(length)}",
                human(limits.max_field_size),
                "max_field_size",
            )


def sha256_of(path: Path):
    """A file's running SHA-256 without holding it: for files refused by size, whose bytes are never read."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256")
