"""Survivorship (DESIGN 5.2) and the import-side status rules, tested by rows: each test seeds the staged rows
of its files (tests/model_rows.py) and runs the merge and the status replay (assets/contacts/merge.py) as the
contacts asset does. One pipeline run over the same files, as a user writes them, checks that ingest stages
exactly the seeded rows (addresses normalised, blanks empty, tags split, status words read) and that the
pipeline's results equal the models'. How addresses are read (provider aliases) stays end to end.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import INGEST_AND_MERGE, TEST_CONFIG
from tests.model_rows import CLOCK, File, Rows, assert_seeding_matches, config_from_yaml, drop, event, seed

UNSUBSCRIBE = {"mode": "unsubscribe", "source": None, "lists": ()}  # a manifest `mode: unsubscribe`
SUPPRESS = {"mode": "suppress", "source": None, "lists": ()}

WITHIN_A_FILE = [
    File(
        "contacts",
        "one.csv",
        text="email,first_name,last_name,tags,company\n"
        "pat@example.com,Pat,Old,a,Acme\n"
        '  PAT@Example.com ,,New,"B, c",\n'
        "pat@EXAMPLE.COM,Patricia,,a,\n",
        rows=[
            {
                "email": "pat@example.com",
                "first_name": "Pat",
                "last_name": "Old",
                "tags": ["a"],
                "company": "Acme",
            },
            {"email": "pat@example.com", "last_name": "New", "tags": ["b", "c"]},
            {"email": "pat@example.com", "first_name": "Patricia", "tags": ["a"]},
        ],
    )
]
ACROSS_FILES = [
    File(
        "contacts",
        "1-first.csv",
        text="email,first_name,last_name,tags,company\nsam@example.com,Sam,Smith,x,Initech\n",
        rows=[
            {
                "email": "sam@example.com",
                "first_name": "Sam",
                "last_name": "Smith",
                "tags": ["x"],
                "company": "Initech",
            }
        ],
    ),
    File(
        "contacts",
        "2-second.csv",
        text="email,first_name,last_name,tags,company\nSam@Example.com,Samuel,,y,\n",
        rows=[{"email": "sam@example.com", "first_name": "Samuel", "tags": ["y"]}],
    ),
]
BLOCKED = [
    File("contacts", "1-signup.csv", text="email\nuna@example.com\n", rows=[{"email": "una@example.com"}]),
    File(
        "contacts",
        "2-unsub.csv",
        text="email\nuna@example.com\nnever@example.com\n",
        rows=[{"email": "una@example.com"}, {"email": "never@example.com"}],
        **UNSUBSCRIBE,
    ),
    File(
        "contacts",
        "3-again.csv",
        text="email\nuna@example.com\nnever@example.com\nfresh@example.com\n",
        rows=[{"email": "una@example.com"}, {"email": "never@example.com"}, {"email": "fresh@example.com"}],
    ),
]
ROW_STATUS = [
    File(
        "contacts",
        "1.csv",
        text="email,status\nrow@example.com,subscribed\nbye@example.com,unsubscribed\n",
        rows=[
            {"email": "row@example.com", "status": "subscribed"},
            {"email": "bye@example.com", "status": "unsubscribed"},
        ],
    ),
    File(
        "contacts",
        "2.csv",
        text="email,status\nrow@example.com,Unsubscribed\nbye@example.com,subscribed\n",
        rows=[
            {"email": "row@example.com", "status": "unsubscribed"},
            {"email": "bye@example.com", "status": "subscribed"},
        ],
    ),
]
SUPPRESSED = [
    File(
        "contacts", "1-member.csv", text="email\nmember@example.com\n", rows=[{"email": "member@example.com"}]
    ),
    File(
        "contacts",
        "2-suppress.csv",
        text="email\nmember@example.com\nstranger@example.com\n",
        rows=[{"email": "member@example.com"}, {"email": "stranger@example.com"}],
        **SUPPRESS,
    ),
    File(
        "contacts",
        "3-import.csv",
        text="email\nstranger@example.com\n",
        rows=[{"email": "stranger@example.com"}],
    ),
]


@pytest.fixture
def rows(tmp_path):
    with Rows(tmp_path / "warehouse.duckdb", config_from_yaml(TEST_CONFIG)) as warehouse:
        yield warehouse


def contact(rows, email):
    return rows.one(
        "select first_name, last_name, tags, company, status, consent_source from staging.contacts where email = ?",
        [email],
    )


def merged_counts(rows):
    return rows.query(
        "select path, rows_accepted, contacts_created, rows_merged, resubscribe_blocked from import_files order by file_id"
    )


def statuses(rows) -> dict[str, str]:
    return dict(rows.query("select email, status from staging.contacts"))


def test_within_a_file_later_wins_empty_never_blanks_tags_union(rows):
    seed(rows, WITHIN_A_FILE)
    rows.merge()
    assert contact(rows, "pat@example.com") == (
        "Patricia",
        "New",
        ["a", "b", "c"],
        "Acme",
        "subscribed",
        "test form",
    )
    assert rows.one("select count(*) from staging.contacts") == (1,)
    assert merged_counts(rows) == [("inbox/contacts/one.csv", 3, 1, 2, 0)]


def test_across_files_ledger_order_decides(rows):
    seed(rows, ACROSS_FILES)
    rows.merge()
    assert contact(rows, "sam@example.com") == (
        "Samuel",
        "Smith",
        ["x", "y"],
        "Initech",
        "subscribed",
        "test form",
    )
    assert [row[3] for row in merged_counts(rows)] == [0, 1]


def test_unsubscribe_import_then_subscribe_import_is_blocked(rows):
    seed(rows, BLOCKED)
    rows.merge()
    assert statuses(rows) == {
        "una@example.com": "unsubscribed",
        "never@example.com": "unsubscribed",
        "fresh@example.com": "subscribed",
    }
    assert [row[4] for row in merged_counts(rows)] == [0, 0, 2]


def test_row_status_may_unsubscribe_but_never_resubscribe(rows):
    seed(rows, ROW_STATUS)
    rows.merge()
    assert statuses(rows) == {"row@example.com": "unsubscribed", "bye@example.com": "unsubscribed"}
    assert [row[4] for row in merged_counts(rows)] == [0, 1]


def test_suppress_mode_blocks_later_subscription_of_non_contacts(rows):
    seed(rows, SUPPRESSED)
    rows.merge()
    assert statuses(rows) == {"member@example.com": "unsubscribed", "stranger@example.com": "unsubscribed"}
    assert sorted(rows.query("select email, reason from suppressions")) == [
        ("member@example.com", "manual"),
        ("stranger@example.com", "manual"),
    ]
    assert [row[2:] for row in merged_counts(rows)] == [(1, 0, 0), (0, 1, 0), (1, 0, 1)]


def test_unchanged_reimport_keeps_updated_at(rows):
    rows.contact_file({"email": "keep@example.com", "first_name": "Kay"})
    rows.merge()
    before = rows.one("select updated_at from staging.contacts")
    rows.contact_file({"email": "keep@example.com", "first_name": "Kay"})
    rows.merge(now=CLOCK + dt.timedelta(days=2))
    assert rows.one("select updated_at from staging.contacts") == before


def test_updated_at_is_the_load_of_the_last_file_that_changed_the_contact(rows):
    rows.contact_file({"email": "up@example.com", "first_name": "Una"})
    rows.merge()
    changing = rows.contact_file({"email": "up@example.com", "last_name": "Ull"})
    rows.contact_file({"email": "up@example.com", "first_name": "Una"})  # changes nothing
    rows.merge()
    assert rows.one("select updated_at from staging.contacts") == rows.one(
        "select loaded_at from import_files where file_id = ?", [changing]
    )


def test_earliest_created_at_wins_and_undated_rows_date_from_the_load(rows):
    rows.contact_file(
        {"email": "early@example.com", "created_at": "2026-03-01T00:00:00Z"},
        {"email": "early@example.com", "created_at": "2026-02-01T00:00:00Z"},
        {"email": "undated@example.com"},
    )
    rows.contact_file(
        {"email": "early@example.com", "created_at": "2026-01-15T00:00:00Z"},
        {"email": "undated@example.com", "created_at": "2026-05-01T00:00:00Z"},
    )
    rows.merge()
    created = dict(rows.query("select email, created_at from staging.contacts"))
    assert created["early@example.com"] == dt.datetime(2026, 1, 15, tzinfo=dt.UTC)
    # created by a file without its date: from that load, until a row dates it earlier
    assert created["undated@example.com"] == dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    rows.contact_file({"email": "late@example.com"})
    rows.merge()
    assert rows.one("select created_at from staging.contacts where email = 'late@example.com'") == (
        CLOCK + dt.timedelta(minutes=2),
    )


def test_new_contacts_are_numbered_in_order_of_first_appearance(rows):
    rows.contact_file("b@example.com", "z@example.com", **SUPPRESS)  # merges into nothing: no contact yet
    rows.contact_file("c@example.com", "b@example.com")
    rows.event_file(
        ("a@example.com", "signup", "2026-02-01T10:00:00Z"), ("z@example.com", "open", "2026-02-01T10:00:00Z")
    )
    rows.contact_file("z@example.com")
    outcomes = rows.merge()
    assert rows.query("select contact_id, email from staging.contacts order by contact_id") == [
        (1, "c@example.com"),
        (2, "b@example.com"),
        (3, "a@example.com"),
        (4, "z@example.com"),
    ]
    assert [(o.contacts_created, o.rows_merged) for o in outcomes] == [(0, 0), (2, 0), (1, None), (1, 0)]


def test_event_files_create_contacts_by_signup_or_confirm_and_change_no_contact(rows):
    rows.contact_file(
        {"email": "known@example.com", "first_name": "Kim", "created_at": "2026-03-01T00:00:00Z"}
    )
    rows.event_file(
        event("known@example.com", "signup", "2026-01-01T10:00:00Z", list="newsletter"),
        event("new@example.com", "open", "2026-02-01T09:00:00Z"),
        event("new@example.com", "confirm", "2026-02-03T10:00:00Z"),
        event("new@example.com", "signup", "2026-02-02T10:00:00Z"),
        event("never@example.com", "click", "2026-02-01T10:00:00Z"),
    )
    rows.merge()
    contacts = {
        email: (first_name, created_at)
        for email, first_name, created_at in rows.query(
            "select email, first_name, created_at from staging.contacts"
        )
    }
    assert contacts == {
        # an event file adds nothing to a contact that exists, not even an earlier created_at
        "known@example.com": ("Kim", dt.datetime(2026, 3, 1, tzinfo=dt.UTC)),
        # dated by the address's first signup or confirm, not by other events
        "new@example.com": (None, dt.datetime(2026, 2, 2, 10, tzinfo=dt.UTC)),
    }


def test_the_pipeline_stages_what_the_rules_seed_and_gets_their_results(workspace, tmp_path):
    files = WITHIN_A_FILE + ACROSS_FILES + BLOCKED + ROW_STATUS + SUPPRESSED
    drop(workspace, files)
    workspace.run(only=INGEST_AND_MERGE)
    assert_seeding_matches(workspace, files, tmp_path / "seeded.duckdb")


def test_fold_provider_aliases_when_configured(workspace):
    config = workspace.paths.config_path
    config.write_text(config.read_text() + "rules:\n  fold_provider_aliases: true\n")
    workspace.drop("g.csv", "email\nJane.Doe+news@gmail.com\njanedoe@googlemail.com\nj.d+x@example.com\n")
    workspace.run(only=INGEST_AND_MERGE)
    assert sorted(e for (e,) in workspace.query("select email from contacts")) == [
        "j.d+x@example.com",
        "janedoe@gmail.com",
    ]
