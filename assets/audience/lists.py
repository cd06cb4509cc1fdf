"""Lists (DESIGN 6): static and test lists from contacts.yaml and manifests, and the system lists
`all`, `subscribed` (mailable) and `suppressed`."""

from __future__ import annotations

import duckdb

from pipelines.config import ContactsConfig
from pipelines.vocabulary import SYSTEM_LISTS
from pipelines.warehouse.render import KEEP_SCOPE, load_sql, render
from pipelines.warehouse.scope import recompute, settings_fingerprint, status_rules_fingerprint


def sync_list_catalog(con: duckdb.DuckDBPyConnection, config: ContactsConfig) -> None:
    """The catalog follows contacts.yaml: a list removed there leaves, and its members with it."""
    rows = [(list_id, name, "system") for list_id, name in SYSTEM_LISTS.items()]
    rows += [
        (list_id, spec.name, "test" if spec.test else "static") for list_id, spec in config.lists.items()
    ]
    con.execute("delete from staging.list_catalog")
    con.executemany("insert into staging.list_catalog values (?, ?, ?)", rows)


def list_member_settings(config: ContactsConfig) -> str:
    """What stored memberships were computed with: the lists, the SQL, and the status rules (a change of
    those replays every address's status, which moves members of `subscribed` and `suppressed`)."""
    relevant = {
        "lists": {k: v.model_dump() for k, v in config.lists.items()},
        "sql": load_sql("models/list_members.sql"),
        "status": status_rules_fingerprint(config),
    }
    return settings_fingerprint(relevant)


def rebuild_list_members(con: duckdb.DuckDBPyConnection, config: ContactsConfig) -> int | None:
    """Recompute membership of the addresses new files mention (or of every address when needed); returns
    how many addresses were recomputed, None for all. Call inside a transaction."""
    sync_list_catalog(con, config)
    return recompute(
        con,
        "list_members",
        list_member_settings(config),
        render(load_sql("models/list_members.sql"), scope=KEEP_SCOPE),
        {},
    )
