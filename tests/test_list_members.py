"""List membership (sql/models/list_members.sql, run by assets/audience/lists.py rebuild_list_members) tested by rows:
seeded ledger rows, staged contact and event rows, contacts and suppressions; the model's rows asserted."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import TEST_CONFIG
from tests.model_rows import CLOCK, Rows, config_from_yaml, event

CONFIG = config_from_yaml(TEST_CONFIG)  # lists newsletter, webinar-2026, customers; seed-tests (test)
SYSTEM = ("all", "subscribed", "suppressed")


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.fixture
def rows(tmp_path):
    with Rows(tmp_path / "warehouse.duckdb", CONFIG) as warehouse:
        yield warehouse


def members(rows, lists: tuple[str, ...] | None = None) -> set[tuple]:
    """(list_id, email, added_at) of the lists (default: every list but the system lists)."""
    found = rows.query("select list_id, email, added_at from staging.list_members")
    return {row for row in found if (row[0] in lists if lists else row[0] not in SYSTEM)}


def test_a_row_joins_its_files_lists_from_its_date_or_the_load(rows):
    rows.contact_file(
        {"email": "dated@example.com", "created_at": "2026-03-01T08:00:00Z"},
        {"email": "undated@example.com"},
        lists=("newsletter", "webinar-2026"),
    )
    rows.contact_file(
        {"email": "dated@example.com", "created_at": "2026-02-01T08:00:00Z"}, lists=("newsletter",)
    )
    rows.contact_file({"email": "seed@example.com"}, lists=("seed-tests",))  # a test list: the same rules
    for email in ("dated@example.com", "undated@example.com", "seed@example.com"):
        rows.contact(email, "2026-01-01T00:00:00Z")
    rows.list_members()
    assert members(rows) == {
        ("newsletter", "dated@example.com", utc("2026-02-01T08:00")),  # the earliest of its rows
        ("webinar-2026", "dated@example.com", utc("2026-03-01T08:00")),
        ("newsletter", "undated@example.com", CLOCK),
        ("webinar-2026", "undated@example.com", CLOCK),
        ("seed-tests", "seed@example.com", CLOCK + dt.timedelta(minutes=2)),
    }


def test_signup_and_confirm_events_join_their_declared_list(rows):
    rows.event_file(
        event("a@example.com", "signup", "2026-02-01T10:00:00Z", list="newsletter"),
        event("a@example.com", "confirm", "2026-02-01T10:05:00Z", list="newsletter"),
        event("a@example.com", "confirm", "2026-02-02T10:00:00Z", list="customers"),
        event("a@example.com", "open", "2026-02-03T10:00:00Z", list="webinar-2026"),  # not a joining event
        event("a@example.com", "signup", "2026-02-04T10:00:00Z", list="beta"),  # not in contacts.yaml
        event("a@example.com", "signup", "2026-02-05T10:00:00Z"),  # no list
    )
    rows.contact("a@example.com", "2026-02-01T10:00:00Z")
    rows.list_members()
    assert members(rows) == {
        ("newsletter", "a@example.com", utc("2026-02-01T10:00")),
        ("customers", "a@example.com", utc("2026-02-02T10:00")),
    }


def test_only_contacts_are_members_and_suppress_files_join_nothing(rows):
    rows.contact_file("member@example.com", "stranger@example.com", lists=("newsletter",))
    rows.contact_file("member@example.com", mode="suppress", lists=("customers",))
    rows.event_file(event("stranger@example.com", "signup", "2026-02-01T10:00:00Z", list="customers"))
    rows.contact(
        "member@example.com", "2026-01-01T00:00:00Z"
    )  # stranger is no contact (say, suppressed before)
    rows.list_members()
    assert members(rows) == {("newsletter", "member@example.com", CLOCK)}


def test_system_lists_and_static_lists_whatever_the_status(rows):
    rows.contact_file("sub@example.com", "unsub@example.com", "new@example.com", lists=("newsletter",))
    rows.contact("sub@example.com", "2026-01-01T08:00:00Z", [("subscribed", "2026-01-02T08:00:00Z")])
    unsubscribed = [("subscribed", "2026-01-01T08:00:00Z"), ("unsubscribed", "2026-03-01T08:00:00Z")]
    rows.contact("unsub@example.com", "2026-01-01T08:00:00Z", unsubscribed)
    rows.suppression("unsub@example.com", "unsubscribed", "2026-03-01T08:00:00Z")
    rows.suppression("gone@example.com", "bounced", "2026-03-01T08:00:00Z")  # no contact: on no list
    rows.contact("new@example.com", "2026-01-05T08:00:00Z", [("unconfirmed", None)])
    rows.list_members()
    assert members(rows, SYSTEM) == {
        ("all", "sub@example.com", utc("2026-01-01T08:00")),
        ("all", "unsub@example.com", utc("2026-01-01T08:00")),
        ("all", "new@example.com", utc("2026-01-05T08:00")),
        ("subscribed", "sub@example.com", utc("2026-01-02T08:00")),
        ("suppressed", "unsub@example.com", utc("2026-03-01T08:00")),
    }
    # membership of a static list does not depend on status
    assert {email for _, email, _ in members(rows)} == {
        "sub@example.com",
        "unsub@example.com",
        "new@example.com",
    }


def test_a_list_removed_from_the_config_leaves_with_its_members(rows):
    rows.contact_file("pat@example.com", lists=("newsletter", "webinar-2026"))
    rows.contact("pat@example.com", "2026-01-01T00:00:00Z")
    rows.list_members()
    assert {list_id for list_id, _, _ in members(rows)} == {"newsletter", "webinar-2026"}
    rows.config = config_from_yaml(TEST_CONFIG.replace("  webinar-2026: {name: Webinar attendees}\n", ""))
    assert rows.list_members() is None  # the lists changed: every address recomputed
    assert {list_id for list_id, _, _ in members(rows)} == {"newsletter"}
    assert ("webinar-2026",) not in rows.query("select list_id from staging.list_catalog")
