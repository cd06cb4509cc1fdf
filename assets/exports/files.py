"""The files of an export on disk: CSV, Parquet and JSON Lines writers, atomic writes (temporary name, fsync,
rename), and reading the versions and manifests a folder holds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

FORMULA_START = r"^[=+\-@\t\r]"


VERSION_FILE = re.compile(r"^v(\d+)\.manifest\.json$")


DATA_FILES = ("csv", "parquet", "jsonl")


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
