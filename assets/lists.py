"""Lists (DESIGN 6): static and test lists from contacts.yaml and manifests, and the system lists
`all`, `subscribed` (mailable) and `suppressed`."""

from __future__ import annotations

import duckdb

from pipelines.config import ContactsConfig
from pipelines.warehouse import load_sql

SYSTEM_LISTS = {"all": "All contacts", "subscribed": "Subscribed (mailable)", "suppressed": "Suppressed"}


def sync_list_catalog(con: duckdb.DuckDBPyConnection, config: ContactsConfig) -> None:
    """The catalog follows contacts.yaml: a list removed there leaves, and its members with it."""
    rows = [(list_id, name, "system") for list_id, name in SYSTEM_LISTS.items()]
    rows += [(list_id, spec.name, "test" if spec.test else "static") for list_id, spec in config.lists.items()]
    con.execute("delete from staging.list_catalog")
    con.executemany("insert into staging.list_catalog values (?, ?, ?)", rows)


def rebuild_list_members(con: duckdb.DuckDBPyConnection, config: ContactsConfig) -> None:
    sync_list_catalog(con, config)
    for statement in con.extract_statements(load_sql("models/list_members.sql")):
        con.execute(statement)
