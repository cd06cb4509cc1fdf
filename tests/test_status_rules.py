"""Every status transition of DESIGN 5.3, table-driven, tested by rows: each case seeds the files it lists
(a ledger row and the staged rows ingest would write, tests/model_rows.py) on a warehouse of its own, then
runs the merge and the status replay (assets/contacts/merge.py) as the contacts asset does, and checks the status,
the history, the blocked resubscribes and the suppressions. One pipeline run over a few of the cases checks
that ingest stages exactly what the cases seed, and that the pipeline's results are the models' results.

Each case lists its inputs in the order they are dropped (files load in name order): contact imports
(`mode`, optional `created_at`) and events (`occurred_at`). Imports without a date happen, in business
time, when they are loaded (today), which is after every event below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.conftest import INGEST_AND_MERGE, TEST_CONFIG
from tests.model_rows import File, Rows, assert_seeding_matches, config_from_yaml, drop, event, seed

EMAIL = "pat@example.com"
CLOSED = ("unsubscribed", "bounced", "complained")


@dataclass
class Case:
    name: str
    steps: list[tuple]  # ("import", mode, created_at | None) or ("event", event, occurred_at)
    status: str
    history: list[str]
    blocked: int = 0
    config: dict = field(default_factory=dict)


CASES = [
    Case("import subscribes", [("import", "subscribe", None)], "subscribed", ["subscribed"]),
    Case(
        "unsubscribe event after import",
        [("import", "subscribe", "2026-01-01"), ("event", "unsubscribe", "2026-02-01T10:00:00Z")],
        "unsubscribed",
        ["subscribed", "unsubscribed"],
    ),
    Case(
        "import never resubscribes",
        [("event", "unsubscribe", "2026-02-01T10:00:00Z"), ("import", "subscribe", None)],
        "unsubscribed",
        ["unsubscribed"],
        blocked=1,
    ),
    Case(
        "unsubscribe import then subscribe import is blocked",
        [
            ("import", "subscribe", "2026-01-01"),
            ("import", "unsubscribe", None),
            ("import", "subscribe", None),
        ],
        "unsubscribed",
        ["subscribed", "unsubscribed"],
        blocked=1,
    ),
    Case(
        "later confirm resubscribes",
        [
            ("import", "subscribe", "2026-01-01"),
            ("event", "unsubscribe", "2026-02-01T10:00:00Z"),
            ("event", "confirm", "2026-03-01T10:00:00Z"),
        ],
        "subscribed",
        ["subscribed", "unsubscribed", "subscribed"],
    ),
    Case(
        "signup then confirm resubscribes",
        [
            ("import", "subscribe", "2026-01-01"),
            ("event", "complaint", "2026-02-01T10:00:00Z"),
            ("event", "signup", "2026-03-01T10:00:00Z"),
            ("event", "confirm", "2026-03-01T10:05:00Z"),
        ],
        "subscribed",
        ["subscribed", "complained", "subscribed"],
    ),
    Case(
        "signup alone does not resubscribe",
        [
            ("import", "subscribe", "2026-01-01"),
            ("event", "unsubscribe", "2026-02-01T10:00:00Z"),
            ("event", "signup", "2026-03-01T10:00:00Z"),
        ],
        "unsubscribed",
        ["subscribed", "unsubscribed"],
    ),
    Case(
        "confirm earlier than the unsubscribe does not resubscribe",
        [
            ("import", "subscribe", "2026-01-01"),
            ("event", "unsubscribe", "2026-03-01T10:00:00Z"),
            ("event", "confirm", "2026-02-01T10:00:00Z"),
        ],
        "unsubscribed",
        ["subscribed", "unsubscribed"],
    ),
    Case(
        "business time, not arrival order",
        [
            ("import", "subscribe", "2026-01-01"),
            ("event", "unsubscribe", "2026-05-01T10:00:00Z"),
            ("event", "hard_bounce", "2026-04-01T10:00:00Z"),
        ],
        "unsubscribed",
        ["subscribed", "bounced", "unsubscribed"],
    ),
    Case(
        "same instant: complained beats unsubscribed",
        [
            ("import", "subscribe", "2026-01-01"),
            ("event", "complaint", "2026-02-01T10:00:00Z"),
            ("event", "unsubscribe", "2026-02-01T10:00:00Z"),
        ],
        "complained",
        ["subscribed", "complained"],
    ),
    Case(
        "same instant: bounced beats unsubscribed",
        [
            ("import", "subscribe", "2026-01-01"),
            ("event", "unsubscribe", "2026-02-01T10:00:00Z"),
            ("event", "hard_bounce", "2026-02-01T10:00:00Z"),
        ],
        "bounced",
        ["subscribed", "bounced"],
    ),
    Case(
        "same instant: unsubscribed beats confirm",
        [
            ("import", "subscribe", "2026-01-01"),
            ("event", "confirm", "2026-02-01T10:00:00Z"),
            ("event", "unsubscribe", "2026-02-01T10:00:00Z"),
        ],
        "unsubscribed",
        ["subscribed", "unsubscribed"],
    ),
    Case(
        "hard bounce",
        [("import", "subscribe", "2026-01-01"), ("event", "hard_bounce", "2026-02-01T10:00:00Z")],
        "bounced",
        ["subscribed", "bounced"],
    ),
    Case(
        "complaint",
        [("import", "subscribe", "2026-01-01"), ("event", "complaint", "2026-02-01T10:00:00Z")],
        "complained",
        ["subscribed", "complained"],
    ),
    Case(
        "soft bounces inside the window reach the limit",
        [
            ("import", "subscribe", "2026-01-01"),
            ("event", "soft_bounce", "2026-02-01T10:00:00Z"),
            ("event", "soft_bounce", "2026-02-15T10:00:00Z"),
            ("event", "soft_bounce", "2026-03-02T10:00:00Z"),
        ],
        "bounced",
        ["subscribed", "bounced"],
    ),
    Case(
        "soft bounces spread outside the window do not",
        [
            ("import", "subscribe", "2026-01-01"),
            ("event", "soft_bounce", "2026-02-01T10:00:00Z"),
            ("event", "soft_bounce", "2026-02-15T10:00:00Z"),
            ("event", "soft_bounce", "2026-03-04T10:00:00Z"),
        ],
        "subscribed",
        ["subscribed"],
    ),
    Case(
        "soft-bounce limit from the config",
        [
            ("import", "subscribe", "2026-01-01"),
            ("event", "soft_bounce", "2026-02-01T10:00:00Z"),
            ("event", "soft_bounce", "2026-02-02T10:00:00Z"),
        ],
        "bounced",
        ["subscribed", "bounced"],
        config={"soft_bounce_limit": 2},
    ),
    Case(
        "a confirm restarts the soft-bounce count",
        [
            ("import", "subscribe", "2026-01-01"),
            ("event", "soft_bounce", "2026-02-01T10:00:00Z"),
            ("event", "soft_bounce", "2026-02-02T10:00:00Z"),
            ("event", "confirm", "2026-02-03T10:00:00Z"),
            ("event", "soft_bounce", "2026-02-04T10:00:00Z"),
        ],
        "subscribed",
        ["subscribed"],
    ),
    Case(
        "suppressed before it is a contact",
        [("event", "hard_bounce", "2026-02-01T10:00:00Z"), ("import", "subscribe", None)],
        "bounced",
        ["bounced"],
        blocked=1,
    ),
    Case(
        "manual suppression of a non-contact",
        [("import", "suppress", None), ("import", "subscribe", None)],
        "unsubscribed",
        ["unsubscribed"],
        blocked=1,
    ),
    Case(
        "signup alone is unconfirmed",
        [("event", "signup", "2026-02-01T10:00:00Z")],
        "unconfirmed",
        ["unconfirmed"],
    ),
    Case(
        "confirm alone subscribes",
        [("event", "confirm", "2026-02-01T10:00:00Z")],
        "subscribed",
        ["subscribed"],
    ),
]


def case_email(index: int) -> str:
    return EMAIL.replace("@", f"{index}@")


def case_files(index: int, case: Case) -> list[File]:
    """The case's files, under names that keep its own order (files load in name order) beside other cases."""
    email, files = case_email(index), []
    for position, step in enumerate(case.steps, start=1):
        name = f"{position:02d}-{index:02d}.csv"
        if step[0] == "import":
            _, mode, created_at = step
            row = {"email": email, "created_at": created_at}
            files.append(File("contacts", name, [row], mode=mode, source=None, lists=()))
        else:
            _, event_name, occurred_at = step
            files.append(File("events", name, [event(email, event_name, occurred_at)]))
    return files


def config_of(case: Case):
    rules = "".join(f"  {name}: {value}\n" for name, value in case.config.items())
    return config_from_yaml(TEST_CONFIG + ("rules:\n" + rules if rules else ""))


def assert_case(query, contacts: str, index: int, case: Case) -> None:
    """The case's outcome in a warehouse: `contacts` is the table of contacts (the pipeline's public view, or
    the working table the models write)."""
    email, paths = case_email(index), [file.path for file in case_files(index, case)]
    if query(f"select 1 from {contacts} where email = ?", [email]):
        assert query(f"select status from {contacts} where email = ?", [email]) == [(case.status,)]
    else:
        assert case.status in CLOSED  # a suppressed non-contact
    history = [
        status
        for (status,) in query(
            "select status from status_history where email = ? order by valid_from", [email]
        )
    ]
    assert history == case.history
    assert query(
        "select coalesce(sum(resubscribe_blocked), 0) from import_files where list_contains(?, path)", [paths]
    ) == [(case.blocked,)]
    assert bool(query("select 1 from suppressions where email = ?", [email])) == (case.status in CLOSED)


@pytest.fixture
def rows(tmp_path):
    with Rows(tmp_path / "warehouse.duckdb", config_from_yaml(TEST_CONFIG)) as warehouse:
        yield warehouse


@pytest.mark.parametrize("index", range(len(CASES)), ids=[case.name for case in CASES])
def test_status_transition(tmp_path, index):
    case = CASES[index]
    with Rows(tmp_path / "warehouse.duckdb", config_of(case)) as rows:
        seed(rows, case_files(index, case))
        rows.merge()
        assert_case(rows.query, "staging.contacts", index, case)


PAST_DAY = [
    File("contacts", "01.csv", [{"email": EMAIL, "created_at": "2026-01-01"}]),
    File(
        "events",
        "02.csv",
        [
            event(EMAIL, "unsubscribe", "2026-03-01T10:00:00Z"),
            event(EMAIL, "confirm", "2026-04-01T10:00:00Z"),
        ],
    ),
]


def test_status_on_any_past_day(rows):
    seed(rows, PAST_DAY)
    rows.merge()
    at = "select status from status_at(?::timestamptz) where email = ?"
    assert rows.query(at, ["2025-12-31 00:00+00", EMAIL]) == []
    assert rows.one(at, ["2026-02-15 00:00+00", EMAIL]) == ("subscribed",)
    assert rows.one(at, ["2026-03-15 00:00+00", EMAIL]) == ("unsubscribed",)
    assert rows.one(at, ["2026-04-15 00:00+00", EMAIL]) == ("subscribed",)
    reasons = rows.query(
        "select status, reason, source from status_history where email = ? order by valid_from", [EMAIL]
    )
    assert reasons == [
        ("subscribed", "import", "test form"),
        ("unsubscribed", "unsubscribe", "event file"),
        ("subscribed", "confirm", "event file"),
    ]


CONSENT = [
    File(
        "contacts", "consent.csv", [{"email": "imported@example.com", "created_at": "2026-01-05T08:00:00Z"}]
    ),
    File(
        "events",
        "consent.csv",
        [
            event("double@example.com", "signup", "2026-02-01T10:00:00Z", list="newsletter"),
            event("double@example.com", "confirm", "2026-02-01T10:05:00Z", list="newsletter"),
            event("single@example.com", "confirm", "2026-02-02T10:00:00Z", list="newsletter"),
        ],
    ),
]


def test_consent_record(rows):
    seed(rows, CONSENT)
    rows.merge()
    consent = {
        email: (source, str(at), method)
        for email, source, at, method in rows.query(
            "select email, consent_source, consent_at at time zone 'UTC', consent_method from staging.contacts"
        )
    }
    assert consent == {
        "imported@example.com": ("test form", "2026-01-05 08:00:00", "import"),
        "double@example.com": ("list newsletter", "2026-02-01 10:05:00", "double_opt_in"),
        "single@example.com": ("list newsletter", "2026-02-02 10:00:00", "single_opt_in"),
    }


# Run end to end as well, beside the files of the two tests above: imports dated and not, an unsubscribe and
# a suppress import, blocked resubscribes, events before and after the contact exists, a contact made by an event.
END_TO_END = [
    "unsubscribe import then subscribe import is blocked",
    "signup then confirm resubscribes",
    "suppressed before it is a contact",
    "manual suppression of a non-contact",
    "confirm alone subscribes",
]


def test_the_pipeline_stages_what_the_cases_seed_and_gets_their_results(workspace, tmp_path):
    indexes = [index for index, case in enumerate(CASES) if case.name in END_TO_END]
    assert len(indexes) == len(END_TO_END)
    files = [file for index in indexes for file in case_files(index, CASES[index])] + PAST_DAY + CONSENT
    drop(workspace, files)
    workspace.run(only=INGEST_AND_MERGE)
    for index in indexes:
        assert_case(workspace.query, "contacts", index, CASES[index])
    assert_seeding_matches(workspace, files, tmp_path / "seeded.duckdb")
