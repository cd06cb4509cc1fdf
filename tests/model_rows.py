"""Seeding for tests of the SQL models by rows (SQLMesh-style): a real DuckDB file with the real schema, a few
rows in the tables a model reads, then the model itself, as its asset runs it.

`Rows` seeds what ingest writes (a ledger row per file in `import_files`, its accepted rows in
`staging.contact_rows` / `staging.event_rows`, its rejects) and, for the models further down, their inputs
directly (contacts, status history, list membership, suppressions). Every NOT NULL column has a default, so a
test names only what its rule is about. Timestamps are ISO strings as in the input files: with `Z` or an
offset they are that instant, naive ones are in the configured timezone, as ingest reads them.

The schema is created once per process and configuration and then copied (a file copy is ~20 ms,
`ensure_schema` ~300 ms).
"""

from __future__ import annotations

import atexit
import datetime as dt
import itertools
import logging
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import yaml

from assets.audience.lists import rebuild_list_members, sync_list_catalog
from assets.contacts.merge import MergeOutcome, drop_temp_tables, merge_pending_files, replay_status
from assets.metrics.health import compute_list_health
from pipelines.config import ContactsConfig
from pipelines.warehouse.connection import connect, transaction
from pipelines.warehouse.schema import ensure_schema

LOG = logging.getLogger("tests.model_rows")
# When seeded files are loaded, unless a test says: one minute apart from here (ledger order is load order).
# Later than every business time in the tests, as a file dropped today is.
CLOCK = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)
# Like tests.conftest.SUBSCRIBE_MANIFEST, what a contact file's manifest says unless a test says otherwise.
MANIFEST = {"mode": "subscribe", "source": "test form", "lists": ("newsletter",)}

_TEMPLATES: dict[str, Path] = {}
_TEMPLATE_DIR = Path(tempfile.mkdtemp(prefix="model-rows-schema-"))
atexit.register(shutil.rmtree, _TEMPLATE_DIR, ignore_errors=True)

Moment = str | dt.datetime | None
Row = str | Mapping  # an address, or a row's columns by name


def event(email: str, name: str, occurred_at: str, **columns) -> dict:
    """An event row (columns: list, campaign_id, value, url)."""
    return {"email": email, "event": name, "occurred_at": occurred_at, **columns}


def config_from_yaml(text: str) -> ContactsConfig:
    return ContactsConfig.model_validate(yaml.safe_load(text))


def new_warehouse(path: Path, config: ContactsConfig) -> duckdb.DuckDBPyConnection:
    """A connection to a new warehouse file at `path` with the schema `config` gives."""
    key = repr(sorted((name, spec.type) for name, spec in config.fields.items()))  # all the schema depends on
    template = _TEMPLATES.get(key)
    if template is None:
        template = _TEMPLATE_DIR / f"schema-{len(_TEMPLATES)}.duckdb"
        con = connect(template)
        ensure_schema(con, config)
        con.close()
        _TEMPLATES[key] = template
    shutil.copyfile(template, path)
    return connect(path)


class Rows:
    """One warehouse file and the seeding and model calls the row tests use."""

    def __init__(self, path: Path, config: ContactsConfig):
        self.config = config
        self.zone = ZoneInfo(config.timezone)
        self.con = new_warehouse(path, config)
        self.files = 0

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Rows:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- values -------------------------------------------------------------------------------------

    def moment(self, value: Moment) -> dt.datetime | None:
        """An ISO date or date-time as ingest reads it: naive means the configured timezone."""
        if value is None or isinstance(value, dt.datetime):
            return value
        parsed = dt.datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=self.zone)

    # -- what ingest writes -------------------------------------------------------------------------

    def _ledger(self, kind: str, accepted: int, rejected: Iterable[tuple[int, str]], **columns) -> int:
        self.files += 1
        file_id = self.files
        folder = "contacts" if kind == "contacts" else "events"
        rejected = list(rejected)
        values = {
            "file_id": file_id,
            "path": f"inbox/{folder}/{file_id:02d}.csv",
            "kind": kind,
            "sha256": f"sha-{file_id}",
            "status": "loaded",
            "encoding": "utf-8",
            "delimiter": ",",
            "rows_total": accepted + len(rejected),
            "rows_accepted": accepted,
            "rows_rejected": len(rejected),
            "loaded_at": CLOCK + dt.timedelta(minutes=file_id - 1),
            "ignored_columns": [],
        }
        values.update({name: value for name, value in columns.items() if value is not None})
        values["loaded_at"] = self.moment(values["loaded_at"])
        self.insert("import_files", values)
        for row_number, reason in rejected:
            self.insert(
                "rejected_rows", {"file_id": file_id, "row_number": row_number, "reason": reason, "raw": ""}
            )
        return file_id

    def contact_file(
        self,
        *rows: Row,
        mode: str = MANIFEST["mode"],
        source: str | None = MANIFEST["source"],
        lists: Iterable[str] = MANIFEST["lists"],
        rejected: Iterable[tuple[int, str]] = (),
        path: str | None = None,
        loaded_at: Moment = None,
    ) -> int:
        """A loaded contact file: its ledger row and its accepted rows. `rejected`: (row_number, reason) of the
        rows validation rejected; the accepted rows take the other row numbers, in order, unless given."""
        rejected = list(rejected)
        file_id = self._ledger(
            "contacts",
            len(rows),
            rejected,
            path=path,
            loaded_at=loaded_at,
            mode=mode,
            source=source,
            lists=list(lists),
        )
        taken = {number for number, _ in rejected}
        numbers = (number for number in itertools.count(1) if number not in taken)
        for number, row in zip(numbers, rows, strict=False):  # numbers is endless
            values = {"email": row} if isinstance(row, str) else dict(row)
            email = values["email"]
            values = {
                "file_id": file_id,
                "row_number": number,
                "email_ascii": email,
                "email_domain": email.split("@")[-1],
                "tags": [],
                **values,
            }
            values["created_at"] = self.moment(values.get("created_at"))
            self.insert("staging.contact_rows", values)
        return file_id

    def event_file(self, *rows: tuple | Mapping, path: str | None = None, loaded_at: Moment = None) -> int:
        """A loaded event file: rows `(email, event, occurred_at)` or mappings with list, campaign_id, value, url."""
        file_id = self._ledger("events", len(rows), (), path=path, loaded_at=loaded_at)
        for number, row in enumerate(rows, start=1):
            values = (
                dict(zip(("email", "event", "occurred_at"), row, strict=True))
                if isinstance(row, tuple)
                else dict(row)
            )
            values = {"file_id": file_id, "row_number": number, "email_ascii": values["email"], **values}
            values["occurred_at"] = self.moment(values["occurred_at"])
            self.insert("staging.event_rows", values)
        return file_id

    # -- what the contacts stage writes, for the models after it -------------------------------------

    def contact(
        self,
        email: str,
        created_at: Moment,
        history: Iterable[tuple[str, Moment]] = (("subscribed", None),),
        lists: Mapping[str, Moment] | None = None,
    ) -> int:
        """A contact as merge and status replay leave it: its row in staging.contacts (status: the last of
        `history`), its status history ((status, valid_from); None: from `created_at`), its static list
        memberships ({list_id: added_at}; None: from `created_at`)."""
        created = self.moment(created_at)
        history = [(status, self.moment(since) or created) for status, since in history]
        (contact_id,) = self.con.execute(
            "select coalesce(max(contact_id), 0) + 1 from staging.contacts"
        ).fetchone()
        status, since = history[-1]
        self.insert(
            "staging.contacts",
            {
                "contact_id": contact_id,
                "email": email,
                "email_ascii": email,
                "email_domain": email.split("@")[-1],
                "tags": [],
                "status": status,
                "status_changed_at": since,
                "created_at": created,
                "updated_at": since,
            },
        )
        for position, (status, since) in enumerate(history):
            until = history[position + 1][1] if position + 1 < len(history) else None
            self.insert(
                "status_history",
                {
                    "email": email,
                    "status": status,
                    "valid_from": since,
                    "valid_to": until,
                    "reason": "seeded",
                },
            )
        for list_id, added_at in (lists or {}).items():
            self.insert(
                "staging.list_members",
                {
                    "list_id": list_id,
                    "contact_id": contact_id,
                    "email": email,
                    "added_at": self.moment(added_at) or created,
                },
            )
        return contact_id

    def suppression(self, email: str, reason: str, since: Moment) -> None:
        self.insert("suppressions", {"email": email, "reason": reason, "since": self.moment(since)})

    def insert(self, table: str, values: Mapping) -> None:
        columns = ", ".join(f'"{name}"' for name in values)
        marks = ", ".join("?" for _ in values)
        self.con.execute(f"insert into {table} ({columns}) values ({marks})", list(values.values()))

    # -- the models, as their assets run them ---------------------------------------------------------

    def merge(self, now: Moment = None) -> list[MergeOutcome]:
        """contacts_statuses_and_events's transaction: merge the pending files, replay the statuses they touch."""
        now = self.moment(now) or CLOCK + dt.timedelta(days=1)
        with transaction(self.con):
            outcomes = merge_pending_files(self.con, self.config, LOG)
            replay_status(self.con, self.config, now, [outcome.file_id for outcome in outcomes])
        drop_temp_tables(self.con)
        return outcomes

    def list_members(self) -> int | None:
        with transaction(self.con):
            return rebuild_list_members(self.con, self.config)

    def sync_lists(self) -> None:
        """The list catalog from contacts.yaml, which list_health reads (rebuild_list_members writes it too)."""
        sync_list_catalog(self.con, self.config)

    def list_health(self, as_of: str | dt.date) -> dt.date:
        """compute_list_health up to `as_of`; the first day recomputed."""
        with transaction(self.con):
            return compute_list_health(self.con, self.config, dt.date.fromisoformat(str(as_of)))

    # -- reading --------------------------------------------------------------------------------------

    def query(self, sql: str, parameters: list | None = None) -> list[tuple]:
        return self.con.execute(sql, parameters or []).fetchall()

    def one(self, sql: str, parameters: list | None = None):
        rows = self.query(sql, parameters)
        assert len(rows) == 1, rows
        return rows[0]


@dataclass
class File:
    """An input file, both ways: what an end-to-end test drops into the inbox (`text`, or a CSV made from
    `rows`), and what ingest stages from it, which the row tests seed in its place (`rows`, `rejected`)."""

    folder: str  # "contacts" or "events"
    name: str
    rows: list[dict]
    mode: str = MANIFEST["mode"]
    source: str | None = MANIFEST["source"]
    lists: tuple[str, ...] = MANIFEST["lists"]
    rejected: tuple[tuple[int, str], ...] = ()  # (row_number, reason)
    text: str | None = None

    @property
    def path(self) -> str:
        return f"inbox/{self.folder}/{self.name}"

    def csv(self) -> str:
        if self.text is not None:
            return self.text
        header = list(self.rows[0])
        lines = [",".join(header)] + [",".join(row[key] or "" for key in header) for row in self.rows]
        return "\n".join(lines) + "\n"

    def manifest(self) -> str | None:
        if self.folder != "contacts":
            return None
        text = f"mode: {self.mode}\n" + ("consent: confirmed\n" if self.mode == "subscribe" else "")
        text += f"source: {self.source}\n" if self.source else ""
        return text + (f"lists: [{', '.join(self.lists)}]\n" if self.lists else "")


def ledger_order(files: Iterable[File]) -> list[File]:
    """The order one run loads files in: the contacts folder first, then events, each in name order."""
    return sorted(files, key=lambda file: (file.folder != "contacts", file.name))


def seed(rows: Rows, files: Iterable[File], clock: Mapping[str, Moment] | None = None) -> None:
    """The files' ledger rows and staged rows, in the order a run loads them (`clock`: path -> loaded_at)."""
    for file in ledger_order(files):
        loaded_at = (clock or {}).get(file.path)
        if file.folder == "contacts":
            rows.contact_file(
                *file.rows,
                mode=file.mode,
                source=file.source,
                lists=file.lists,
                rejected=file.rejected,
                path=file.path,
                loaded_at=loaded_at,
            )
        else:
            rows.event_file(*file.rows, path=file.path, loaded_at=loaded_at)


def drop(workspace, files: Iterable[File]) -> None:
    """The files into a tests.conftest.Workspace's inbox."""
    for file in files:
        workspace.drop(file.name, file.csv(), manifest=file.manifest(), folder=file.folder)


# What ingest writes (STAGED), and what merge and status replay write (MERGED), compared between a pipeline
# run and the models run on seeded rows. Left out: the ledger's hashes, dialect and ignored columns (ingest's
# alone), the rejects' text, contacts' updated_at (the replay stamps the run's clock) and the suppressions'
# salted hashes (a salt per warehouse).
STAGED = {
    "import_files": """select * exclude (sha256, encoding, delimiter, ignored_columns,
                                         rows_merged, resubscribe_blocked, contacts_created, merged_at)
                       from import_files""",
    "rejected_rows": "select file_id, row_number, reason from rejected_rows",
    "staging.contact_rows": "select * from staging.contact_rows",
    "staging.event_rows": "select * from staging.event_rows",
}
MERGED = {
    "merge counts": "select file_id, rows_merged, resubscribe_blocked, contacts_created, merged_at from import_files",
    "status_history": "select * from status_history",
    "staging.resubscribe_blocked": "select * from staging.resubscribe_blocked",
    "contacts": "select * exclude (updated_at) from {contacts}",
    "suppressions": "select * exclude (email_sha256) from suppressions",
}


def assert_seeding_matches(workspace, files: Iterable[File], path: Path, merge: bool = True) -> None:
    """After `workspace` ran ingest (and the merge, if `merge`) over `files`: seeding the same files, with
    the ledger's load times, gives the same ledger and staged rows, and the models the same results."""
    config = config_from_yaml(workspace.paths.config_path.read_text(encoding="utf-8"))
    with Rows(path, config) as rows:
        seed(rows, files, clock=dict(workspace.query("select path, loaded_at from import_files")))
        if merge:
            rows.merge()
        for table, sql in {**STAGED, **(MERGED if merge else {})}.items():
            pipeline = sorted(workspace.query(sql.format(contacts="contacts")), key=repr)
            seeded = sorted(rows.query(sql.format(contacts="staging.contacts")), key=repr)
            assert seeded == pipeline, table
