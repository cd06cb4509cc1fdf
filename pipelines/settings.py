"""Where things live: the data directory, the config file and the warehouse, from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Paths:
    data_dir: Path
    config_path: Path
    segments_dir: Path = PROJECT_ROOT / "sql" / "segments"

    @property
    def inbox(self) -> Path:
        return self.data_dir / "inbox"

    @property
    def contact_inbox(self) -> Path:
        return self.inbox / "contacts"

    @property
    def event_inbox(self) -> Path:
        return self.inbox / "events"

    @property
    def erasure_inbox(self) -> Path:
        return self.inbox / "erasure"

    @property
    def merge_inbox(self) -> Path:
        return self.inbox / "merges"

    @property
    def warehouse(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def samples(self) -> Path:
        return PROJECT_ROOT / "data" / "samples"


def paths_from_env() -> Paths:
    """`CONTACTS_DATA_DIR`, `CONTACTS_CONFIG` and `CONTACTS_SEGMENTS_DIR` override the defaults
    (./data, ./contacts.yaml and ./sql/segments)."""
    data_dir = Path(os.environ.get("CONTACTS_DATA_DIR") or PROJECT_ROOT / "data")
    config_path = Path(os.environ.get("CONTACTS_CONFIG") or PROJECT_ROOT / "contacts.yaml")
    segments_dir = Path(os.environ.get("CONTACTS_SEGMENTS_DIR") or PROJECT_ROOT / "sql" / "segments")
    return Paths(
        data_dir=data_dir.resolve(), config_path=config_path.resolve(), segments_dir=segments_dir.resolve()
    )
