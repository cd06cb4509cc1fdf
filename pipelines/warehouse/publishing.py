"""The one prologue of a step that writes versioned relations: its config and as-of date, a connection, one
transaction, and the run's version for what changed (DESIGN 6.1).

    step = warehouse.step(context)          # config and as-of resolved; nothing opened yet
    with step.connect() as con:
        with step.publishing("contacts"):   # one transaction; publishes when the body succeeds
            ...
        version = step.version("contacts")
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

import duckdb

from pipelines.config import ContactsConfig
from pipelines.warehouse.connection import transaction
from pipelines.warehouse.versioning import publish, version_for_run


@dataclass
class PublishStep:
    config: ContactsConfig
    as_of: dt.date
    run_id: str
    opener: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
    con: duckdb.DuckDBPyConnection | None = None
    versions: dict[str, int | None] = field(default_factory=dict)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.opener() as con:
            self.con = con
            try:
                yield con
            finally:
                self.con = None

    @contextmanager
    def publishing(
        self, *relations: str, scope: tuple[str, str] | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction; when its body succeeds, each relation's changes become the run's version (none
        when nothing changed), recorded in `versions`, and the transaction commits. `scope` (column, value):
        the body changed only those rows (versioning.publish)."""
        if self.con is None:
            raise RuntimeError("publishing() needs step.connect() first")
        with transaction(self.con):
            yield self.con
            for relation in relations:
                self.versions[relation] = publish(self.con, relation, self.run_id, self.as_of, scope)

    def publish_now(self, relation: str) -> int:
        """Publish `relation` inside the open transaction and return the run's version, allocated even when
        no row changed (a retirement records its version on rows outside the relation)."""
        version = publish(self.con, relation, self.run_id, self.as_of)
        self.versions[relation] = version
        return version or version_for_run(self.con, self.run_id, self.as_of, relation)

    def version(self, relation: str) -> int | None:
        return self.versions.get(relation)
