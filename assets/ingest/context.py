"""What every inbox file of a run shares (`IngestContext`), the kinds of files, and what became of a file."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from assets.validation.emails import EmailValidatorCache
from pipelines.config import ContactsConfig

KIND_CONTACTS = "contacts"
KIND_EVENTS = "events"
KIND_ERASURE = "erasure"
KIND_MERGES = "merges"  # reviewed pairs of contacts to merge (assets/ingest/merge_files.py)


@dataclass(frozen=True)
class FileOutcome:
    file_id: int
    path: str
    kind: str
    status: str
    reason: str | None = None
    rows_total: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0


@dataclass
class IngestContext:
    """What every file of a run shares."""

    con: duckdb.DuckDBPyConnection
    data_dir: Path
    config: ContactsConfig
    cache: EmailValidatorCache
    now: dt.datetime
    log: logging.Logger
    erased: set[str] = field(default_factory=set)  # addresses erased in this run, as counted in the log
    erased_forms: set[str] = field(
        default_factory=set
    )  # their Unicode and IDNA spellings, lower case, for the inbox scan

    def __post_init__(self) -> None:
        self.use(self.con)

    def use(self, con: duckdb.DuckDBPyConnection) -> None:
        """Work on another connection to the warehouse (e.g. after the file was rewritten)."""
        self.con = con
        self.cache.attach(con)  # email-validator's verdicts are kept in the warehouse across runs


def ledger_path(ctx: IngestContext, path: Path) -> str:
    """How the ledger names a file: relative to the data directory when it lies under it."""
    return path.relative_to(ctx.data_dir).as_posix() if path.is_relative_to(ctx.data_dir) else str(path)
