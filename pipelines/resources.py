"""The one resource every asset uses: where the data lives, the validated config, and DuckDB connections."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.as_of import resolve_as_of
from pipelines.config import ContactsConfig, load_config
from pipelines.settings import Paths
from pipelines.warehouse.connection import connect, held, release
from pipelines.warehouse.publishing import PublishStep
from pipelines.warehouse.schema import ensure_schema

DUCKDB_POOL = "duckdb"  # every asset and check that opens the warehouse runs in this pool (limit 1)


# Warehouses whose schema this process already ensured, by (file identity, config): the DDL then
# runs once per process, not once per asset.
_ENSURED: set[tuple] = set()


@functools.lru_cache(maxsize=8)
def _cached_config(path: str, mtime_ns: int) -> ContactsConfig:
    return load_config(Path(path))


LOCK_WAIT_SECONDS = 120

# A run keeps the warehouse's DuckDB instance open between its steps only while the file is small: there the
# opening (about 25 ms) is a real share of steps that take tens of milliseconds. Past this size steps take
# seconds, and a held instance would keep its cache (up to DuckDB's memory budget) in the process while the
# next step, or splink's own DuckDB, needs the memory.
HOLD_UP_TO_BYTES = 256 << 20


def open_waiting(path: Path, wait_seconds: float = LOCK_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for writing, waiting while another process (a DuckDB shell, a notebook) holds
    it; then fail with the cause and the fix rather than a raw lock error."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.5
    while True:
        try:
            return connect(path)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                holder = re.search(r"PID (\d+)", str(exc))
                raise dg.Failure(
                    description=f"{path} is locked by another process{f' (PID {holder.group(1)})' if holder else ''}: "
                    "close other DuckDB sessions on it (shells, notebooks, BI tools) and run again"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


class ContactsWarehouse(dg.ConfigurableResource):
    """The data directory, the `contacts.yaml` in force, and the DuckDB file under the data directory.

    Used instead of dagster-duckdb's DuckDBResource, which leaves its connection open when the body
    raises and does not create the data directory.
    """

    data_dir: str
    config_path: str

    @property
    def paths(self) -> Paths:
        return Paths(Path(self.data_dir), Path(self.config_path))

    def config(self) -> ContactsConfig:
        """Loaded and validated once per process (and again only if the file changes)."""
        path = Path(self.config_path)
        mtime = path.stat().st_mtime_ns if path.exists() else 0
        return _cached_config(str(path), mtime)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        release(self.paths.warehouse)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection on the warehouse instance this run holds (opened on first use, waiting for a lock held
        elsewhere; closed when the run ends)."""
        con = held(self.paths.warehouse, open_waiting)
        try:
            config = self.config()
            stat = self.paths.warehouse.stat()
            key = (str(self.paths.warehouse), stat.st_ino, stat.st_dev, config.model_dump_json())
            if key not in _ENSURED:
                ensure_schema(con, config)
                _ENSURED.add(key)
            yield con
        finally:
            con.close()
            if self.paths.warehouse.stat().st_size > HOLD_UP_TO_BYTES:
                release(self.paths.warehouse)

    def step(self, context: dg.AssetExecutionContext) -> PublishStep:
        """The prologue of every step that writes the warehouse: the config in force, the run's as-of date
        (tag `contacts/as_of`, default today), and connections to the warehouse (pipelines/warehouse/publishing.py)."""
        config = self.config()
        return PublishStep(
            config, resolve_as_of(context.run.tags, config.timezone), context.run.run_id, self.connect
        )
