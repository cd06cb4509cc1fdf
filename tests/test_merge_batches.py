"""The set-based merge (sql/models/merge_contacts.sql): files loaded at different times and merged together
give what merging each file as soon as it is loaded gives (DESIGN 5.2: ledger order, then row order)."""

from __future__ import annotations

import datetime as dt
import logging
import random
from pathlib import Path

import pytest

from assets.contacts.merge import drop_temp_tables, merge_pending_files
from assets.ingest.context import KIND_CONTACTS, KIND_EVENTS, IngestContext
from assets.ingest.inbox import ingest_folder
from assets.validation.emails import EmailValidatorCache
from pipelines.config import load_config
from pipelines.warehouse.connection import connect, transaction
from pipelines.warehouse.schema import ensure_schema
from tests.conftest import TEST_CONFIG

log = logging.getLogger("test")
# Later than the clock, so each load is stamped with its own time (ingest takes the later of the two).
START = dt.datetime(2100, 3, 1, 9, 0, tzinfo=dt.UTC)
CONTACTS_HEADER = "email,first_name,last_name,tags,company,employees,birthday,created_at"
EVENTS_HEADER = "email,event,occurred_at,list"


class Inbox:
    """Files dropped one at a time, each loaded at its own time; merged after each load or only at the end."""

    def __init__(self, root: Path, merge_each: bool):
        root.mkdir(parents=True)
        (root / "contacts.yaml").write_text(TEST_CONFIG, encoding="utf-8")
        self.root, self.merge_each = root, merge_each
        self.config = load_config(root / "contacts.yaml")
        self.con = connect(root / "warehouse.duckdb")
        ensure_schema(self.con, self.config)
        self.cache = EmailValidatorCache(False)
        self.loads = 0

    def drop(self, name: str, text: str, mode: str | None = None) -> None:
        folder = self.root / "inbox" / ("contacts" if mode else "events")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
        if mode:
            (folder / name.replace(".csv", ".yaml")).write_text(
                f"mode: {mode}\nconsent: confirmed\nsource: {name}\n", encoding="utf-8"
            )
        self.loads += 1
        ctx = IngestContext(
            self.con, self.root, self.config, self.cache, START + dt.timedelta(hours=self.loads), log
        )
        outcomes = ingest_folder(ctx, folder, KIND_CONTACTS if mode else KIND_EVENTS)
        assert [o.status for o in outcomes] == ["loaded"], outcomes
        if self.merge_each:
            self.merge()

    def merge(self) -> None:
        with transaction(self.con):
            merge_pending_files(self.con, self.config, log)
        drop_temp_tables(self.con)

    def contacts(self) -> list[tuple]:
        return self.con.execute("select * from staging.contacts order by contact_id").fetchall()

    def ledger(self) -> list[tuple]:
        return self.con.execute(
            "select path, contacts_created, rows_merged, merged_at from import_files order by file_id"
        ).fetchall()


def test_files_merged_together_as_one_by_one(tmp_path):
    together, one_by_one = Inbox(tmp_path / "together", False), Inbox(tmp_path / "each", True)
    files = [
        (
            "1.csv",
            "subscribe",
            f"{CONTACTS_HEADER}\nann@example.com,Ann,,a,Acme,,,2026-01-05\nbo@example.com,Bo,Bell,,,,,\n",
        ),
        # a signup creates a contact for a new address; ann's signup changes nothing
        (
            "e1.csv",
            None,
            f"{EVENTS_HEADER}\nnia@example.com,signup,2026-02-01T10:00:00Z,newsletter\nann@example.com,signup,2025-01-01T10:00:00Z,\n",
        ),
        # suppress: ann's row folds into her contact; sam is no contact yet, so his two rows merge into nothing
        (
            "2.csv",
            "suppress",
            f"{CONTACTS_HEADER}\nANN@example.com,,Ames,b,,12,,2025-12-01\nsam@example.com,Sam,,,,,,\nsam@example.com,,,,,,,\n",
        ),
        # nia gets a name, bo's row changes nothing, sam becomes a contact
        (
            "3.csv",
            "subscribe",
            f"{CONTACTS_HEADER}\nnia@example.com,Nia,,,,,1990-04-02,\nbo@example.com,Bo,,,,,,\nsam@example.com,,Sato,,,,,\n",
        ),
    ]
    for inbox in (together, one_by_one):
        for name, mode, text in files:
            inbox.drop(name, text, mode)
    together.merge()

    assert together.contacts() == one_by_one.contacts()
    assert together.ledger() == one_by_one.ledger()
    at = {hour: START + dt.timedelta(hours=hour) for hour in range(1, 5)}
    rows = {
        row[1]: row
        for row in together.con.execute(
            "select contact_id, email, first_name, last_name, tags, company, employees, created_at, updated_at from staging.contacts"
        ).fetchall()
    }
    assert rows["ann@example.com"][0] == 1 and rows["bo@example.com"][0] == 2
    assert rows["nia@example.com"][0] == 3 and rows["sam@example.com"][0] == 4  # order of creation
    assert rows["ann@example.com"][2:7] == ("Ann", "Ames", ["a", "b"], "Acme", 12)
    assert rows["ann@example.com"][7] == dt.datetime(
        2025, 11, 30, 23, tzinfo=dt.UTC
    )  # the earliest: 2025-12-01 in Berlin
    assert rows["ann@example.com"][8] == at[3]  # changed last by 2.csv
    assert rows["bo@example.com"][8] == at[1]  # 3.csv repeats what bo has
    assert rows["nia@example.com"][2] == "Nia" and rows["nia@example.com"][8] == at[4]
    assert rows["nia@example.com"][7] == dt.datetime(2026, 2, 1, 10, tzinfo=dt.UTC)  # the signup
    assert rows["sam@example.com"][2:4] == (None, "Sato")  # 2.csv's "Sam" merged into nothing
    assert [(path, created, merged) for path, created, merged, _ in together.ledger()] == [
        ("inbox/contacts/1.csv", 2, 0),
        ("inbox/events/e1.csv", 1, None),
        ("inbox/contacts/2.csv", 0, 1),
        ("inbox/contacts/3.csv", 1, 2),
    ]
    for inbox in (together, one_by_one):
        inbox.con.close()


def random_files(seed: int) -> list[tuple[str, str | None, str]]:
    """A few small contact and event files over a dozen addresses, in every mode, with empty cells."""
    rng = random.Random(seed)
    addresses = [f"{name}@ex{index % 3}.com" for index, name in enumerate("abcdefghijkl")]

    def address() -> str:
        chosen = rng.choice(addresses)
        return rng.choice([chosen, chosen.upper(), f" {chosen}"])

    def value(*choices: str) -> str:
        return rng.choice(("", "") + choices)

    files = []
    for number in range(rng.randint(3, 7)):
        if rng.random() < 0.3:
            lines = [
                f"{address()},{rng.choice(['signup', 'confirm', 'open'])},2026-02-{rng.randint(1, 28):02d}T10:00:00Z,{value('newsletter')}"
                for _ in range(rng.randint(0, 6))
            ]
            files.append((f"e{number}.csv", None, "\n".join([EVENTS_HEADER, *lines]) + "\n"))
        else:
            lines = [
                ",".join(
                    [
                        address(),
                        value("X", "Y"),
                        value("Z"),
                        value("a", '"a,b"', "c"),
                        value("Co"),
                        value("1", "2", "x"),
                        value("1990-01-01"),
                        value(f"2026-01-{rng.randint(1, 9):02d}"),
                    ]
                )
                for _ in range(rng.randint(0, 6))
            ]
            mode = rng.choice(["subscribe", "subscribe", "unsubscribe", "suppress"])
            files.append((f"c{number}.csv", mode, "\n".join([CONTACTS_HEADER, *lines]) + "\n"))
    return files


@pytest.mark.parametrize("seed", range(12))
def test_random_files_merged_together_as_one_by_one(tmp_path, seed):
    together, one_by_one = Inbox(tmp_path / "together", False), Inbox(tmp_path / "each", True)
    for inbox in (together, one_by_one):
        for name, mode, text in random_files(seed):
            inbox.drop(name, text, mode)
    together.merge()
    assert together.contacts() == one_by_one.contacts()
    assert together.ledger() == one_by_one.ledger()
    for inbox in (together, one_by_one):
        inbox.con.close()


def test_merge_with_nothing_pending_changes_nothing(tmp_path):
    inbox = Inbox(tmp_path / "w", True)
    inbox.drop("1.csv", f"{CONTACTS_HEADER}\nann@example.com,Ann,,,,,,\n", "subscribe")
    before = inbox.contacts()
    with transaction(inbox.con):
        assert merge_pending_files(inbox.con, inbox.config, log) == []
    assert inbox.contacts() == before
    inbox.con.close()
