"""Every status transition of DESIGN 5.3, table-driven, through the real pipeline.

Each case lists its inputs in the order they are dropped (files load in name order): contact imports
(`mode`, optional `created_at`) and events (`occurred_at`). Imports without a date happen, in business
time, when they are loaded (today), which is after every event below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.conftest import make_workspace

EMAIL = "pat@example.com"


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


def drop_case(workspace, index: int, case: Case) -> list[str]:
    """The case's files, under names that keep its own order (files load in name order) beside other cases."""
    email, names = case_email(index), []
    for position, step in enumerate(case.steps, start=1):
        name = f"{position:02d}-{index:02d}.csv"
        if step[0] == "import":
            _, mode, created_at = step
            manifest = f"mode: {mode}\n" + ("consent: confirmed\n" if mode == "subscribe" else "")
            workspace.drop(name, f"email,created_at\n{email},{created_at or ''}\n", manifest=manifest)
            names.append(f"inbox/contacts/{name}")
        else:
            _, event, occurred_at = step
            workspace.drop(name, f"email,event,occurred_at\n{email},{event},{occurred_at}\n", folder="events")
            names.append(f"inbox/events/{name}")
    return names


def case_email(index: int) -> str:
    return EMAIL.replace("@", f"{index}@")


@pytest.fixture(scope="module")
def cases_run(tmp_path_factory):
    """Every case in one run per config (each case has an address of its own), rather than a run per case."""
    workspaces, files = {}, {}
    for index, case in enumerate(CASES):
        key = tuple(sorted(case.config.items()))
        if key not in workspaces:
            workspace = make_workspace(tmp_path_factory.mktemp("cases"))
            if case.config:
                rules = "".join(f"  {name}: {value}\n" for name, value in case.config.items())
                workspace.paths.config_path.write_text(
                    workspace.paths.config_path.read_text() + "rules:\n" + rules
                )
            workspaces[key] = workspace
        files[index] = drop_case(workspaces[key], index, case)
    for workspace in workspaces.values():
        workspace.run()
    return {
        index: (workspaces[tuple(sorted(case.config.items()))], files[index])
        for index, case in enumerate(CASES)
    }


@pytest.mark.parametrize("index", range(len(CASES)), ids=[case.name for case in CASES])
def test_status_transition(cases_run, index):
    case = CASES[index]
    workspace, files = cases_run[index]
    email = case_email(index)
    if workspace.query("select 1 from contacts where email = ?", [email]):
        assert workspace.one("select status from contacts where email = ?", [email]) == (case.status,)
    else:
        assert case.status in ("unsubscribed", "bounced", "complained")  # a suppressed non-contact
    history = [
        status
        for (status,) in workspace.query(
            "select status from status_history where email = ? order by valid_from", [email]
        )
    ]
    assert history == case.history
    assert workspace.one(
        "select coalesce(sum(resubscribe_blocked), 0) from import_files where list_contains(?, path)", [files]
    ) == (case.blocked,)
    closed = case.status in ("unsubscribed", "bounced", "complained")
    assert bool(workspace.query("select 1 from suppressions where email = ?", [email])) == closed


def test_status_on_any_past_day(workspace):
    workspace.drop("01.csv", f"email,created_at\n{EMAIL},2026-01-01\n")
    workspace.drop(
        "02.csv",
        f"email,event,occurred_at\n{EMAIL},unsubscribe,2026-03-01T10:00:00Z\n{EMAIL},confirm,2026-04-01T10:00:00Z\n",
        folder="events",
    )
    workspace.run()
    at = "select status from status_at(?::timestamptz) where email = ?"
    assert workspace.query(at, ["2025-12-31 00:00+00", EMAIL]) == []
    assert workspace.one(at, ["2026-02-15 00:00+00", EMAIL]) == ("subscribed",)
    assert workspace.one(at, ["2026-03-15 00:00+00", EMAIL]) == ("unsubscribed",)
    assert workspace.one(at, ["2026-04-15 00:00+00", EMAIL]) == ("subscribed",)
    reasons = workspace.query(
        "select status, reason, source from status_history where email = ? order by valid_from", [EMAIL]
    )
    assert reasons == [
        ("subscribed", "import", "test form"),
        ("unsubscribed", "unsubscribe", "event file"),
        ("subscribed", "confirm", "event file"),
    ]


def test_consent_record(workspace):
    workspace.drop("01.csv", "email,created_at\nimported@example.com,2026-01-05T08:00:00Z\n")
    workspace.drop(
        "02.csv",
        "email,event,occurred_at,list\n"
        "double@example.com,signup,2026-02-01T10:00:00Z,newsletter\ndouble@example.com,confirm,2026-02-01T10:05:00Z,newsletter\n"
        "single@example.com,confirm,2026-02-02T10:00:00Z,newsletter\n",
        folder="events",
    )
    workspace.run()
    consent = {
        email: (source, str(at), method)
        for email, source, at, method in workspace.query(
            "select email, consent_source, consent_at at time zone 'UTC', consent_method from contacts"
        )
    }
    assert consent == {
        "imported@example.com": ("test form", "2026-01-05 08:00:00", "import"),
        "double@example.com": ("list newsletter", "2026-02-01 10:05:00", "double_opt_in"),
        "single@example.com": ("list newsletter", "2026-02-02 10:00:00", "single_opt_in"),
    }
