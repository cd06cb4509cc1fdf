"""Read and parse the next inbox file while the current one is being stored.

Storing a big file is mostly DuckDB work that leaves a core idle part of the time (its insert is only
partly parallel), and parsing the next file is polars and Python work that needs none of the warehouse:
overlapping them saves about a quarter of a second per million event rows on two cores. At most one file,
of at most READ_AHEAD_MAX_BYTES, is read ahead, so memory holds one big parsed file and at most one small one.

The worker hands back the bytes it parsed along with the result, so the content hash that goes into the
ledger is always the hash of the bytes that were parsed, even if the file changes on disk meanwhile.
"""

from __future__ import annotations

import csv
import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from assets.ingest.delimited import DEFAULT_CSV_FIELD_LIMIT
from assets.ingest.parsed_file import FileFailed, ParsedFile, cell_column
from assets.ingest.read_limits import check_fields, check_parquet, read_bounded, sha256_of
from assets.ingest.readers import PARQUET_SUFFIXES, data_suffix, read_file
from pipelines.config import Limits


@dataclass
class ReadFile:
    digest: hashlib._Hash  # SHA-256 of the file's bytes as they were read (and parsed)
    parsed: ParsedFile | None
    failure: FileFailed | None  # why the file cannot be read at all; raised where it is used

    def parsed_or_raise(self) -> ParsedFile:
        if self.failure is not None:
            raise self.failure
        return self.parsed


# A file read ahead is a second file in memory beside the one being stored: only small ones are, so that the
# memory of a run stays one big file's worth (README, "Bounded memory"). A .gz counts at a typical 8:1.
READ_AHEAD_MAX_BYTES = 128 << 20
GZIP_ESTIMATE = 8


def small_enough_to_read_ahead(path: Path) -> bool:
    try:
        size = path.stat().st_size * (GZIP_ESTIMATE if path.name.lower().endswith(".gz") else 1)
    except OSError:
        return False  # gone or unreadable: its own turn says why
    return size <= READ_AHEAD_MAX_BYTES


def read_and_parse(path: Path, limits: Limits) -> ReadFile:
    """Read a file within the limits (assets/ingest/read_limits.py), then parse it. A file beyond a limit, or
    unreadable, comes back as a failure, hashed without being held in memory."""
    suffix = data_suffix(path)
    # Python's csv module has its own cell limit: never below the configured one, so the check below decides.
    csv.field_size_limit(max(DEFAULT_CSV_FIELD_LIMIT, limits.max_field_size + 1))
    try:
        bounded = read_bounded(path, limits, text=suffix not in PARQUET_SUFFIXES)
    except FileFailed as exc:
        return ReadFile(sha256_of(path), None, exc)
    digest = hashlib.sha256(bounded.data)
    try:
        if suffix in PARQUET_SUFFIXES and not path.name.lower().endswith(".gz"):
            check_parquet(path, limits)
        parsed = read_file(path, bounded.data, content=bounded.content)
        check_fields(
            parsed.cells, [cell_column(index) for index in range(len(parsed.header))], parsed.header, limits
        )
    except FileFailed as exc:
        return ReadFile(digest, None, exc)
    return ReadFile(digest, parsed, None)


class ReadAhead:
    """One worker thread; `start(path)` begins reading a file, `take(path)` returns it (or None if the
    file was not read ahead)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="read-ahead")
        self._pending: dict[Path, Future[ReadFile]] = {}

    def start(self, path: Path) -> None:
        if path not in self._pending:
            self._pending[path] = self._pool.submit(read_and_parse, path, self.limits)

    def take(self, path: Path) -> ReadFile | None:
        pending = self._pending.pop(path, None)
        return pending.result() if pending is not None else None

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc_info) -> None:
        for pending in self._pending.values():
            pending.cancel()
        self._pool.shutdown(wait=True)
