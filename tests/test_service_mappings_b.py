"""The mappings of Brevo, SparkPost, Mandrill, Mailchimp audience webhooks and listmonk bounces, on their
fixtures (tests/data/services/<module>/): pure Python, no Dagster, no DuckDB. The end-to-end check of
expected.json through the loader is elsewhere; here expected.json is checked against the mappings alone."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from assets.ingest.services import brevo, listmonk, mailchimp, mandrill, sparkpost
from assets.ingest.services.base import (
    NOT_AN_EVENT,
    UNMAPPED_EVENT,
    UNRECOGNISED_RECORD,
    RecordRejected,
    ServiceEvent,
)
from pipelines.vocabulary import EVENTS

DATA = Path(__file__).parent / "data" / "services"
MODULES = {
    "brevo": brevo,
    "sparkpost": sparkpost,
    "mandrill": mandrill,
    "mailchimp": mailchimp,
    "listmonk": listmonk,
}
# Our names, including the two the lead adds to vocabulary.EVENTS (events that change no status).
OUR_EVENTS = {*EVENTS, "dropped", "deferred"}
STATUS_OF = {
    "hard_bounce": "bounced",
    "complaint": "complained",
    "unsubscribe": "unsubscribed",
    "signup": "unconfirmed",
}
PRECEDENCE = ["unconfirmed", "subscribed", "unsubscribed", "bounced", "complained"]


def unwrap(value) -> list:
    """Records as the loader sees them: arrays and wrapper objects unwrapped, `mandrill_events` also as text."""
    if isinstance(value, list):
        return [record for item in value for record in unwrap(item)]
    if isinstance(value, dict):
        for key in ("events", "items", "mandrill_events"):
            if key in value and len(value) == 1:
                inner = value[key]
                return unwrap(json.loads(inner) if isinstance(inner, str) else inner)
    return [value]


def fixture_files(module: str) -> list[Path]:
    return sorted(
        path
        for path in (DATA / module).iterdir()
        if path.suffix in (".json", ".jsonl") and path.name != "expected.json"
    )


def records(path: Path) -> list:
    if path.suffix == ".jsonl":
        return [
            record
            for line in path.read_text().splitlines()
            if line.strip()
            for record in unwrap(json.loads(line))
        ]
    return unwrap(json.loads(path.read_text()))


def outcome(module: str, record) -> list[ServiceEvent] | RecordRejected:
    try:
        return MODULES[module].SERVICE.events(record)
    except RecordRejected as rejected:
        return rejected


def mapped(module: str, file: str) -> list[ServiceEvent | RecordRejected]:
    """Each record's events, or its rejection, in file order (a record here has one recipient)."""
    found = []
    for record in records(DATA / module / file):
        result = outcome(module, record)
        found.extend([result] if isinstance(result, RecordRejected) else result)
    return found


def by_service_event(module: str, file: str) -> dict[str, ServiceEvent]:
    return {
        item.service_event + "|" + (item.email or ""): item
        for item in mapped(module, file)
        if isinstance(item, ServiceEvent)
    }


ALL_RECORDS = [
    (module, path.name, index, record)
    for module in MODULES
    for path in fixture_files(module)
    for index, record in enumerate(records(path))
]


@pytest.mark.parametrize(("module", "file", "index", "record"), ALL_RECORDS, ids=lambda v: str(v)[:20])
def test_a_record_is_claimed_by_its_own_service_alone(module, file, index, record):
    claimants = [name for name, other in MODULES.items() if other.SERVICE.recognises(record)]
    result = outcome(module, record)
    if isinstance(result, RecordRejected) and result.reason == UNRECOGNISED_RECORD:
        assert claimants == []
    else:
        assert claimants == [module]


@pytest.mark.parametrize(("module", "file", "index", "record"), ALL_RECORDS, ids=lambda v: str(v)[:20])
def test_every_outcome_is_one_of_our_events_or_a_rejection_without_values(module, file, index, record):
    result = outcome(module, record)
    if isinstance(result, RecordRejected):
        assert result.reason in (UNRECOGNISED_RECORD, UNMAPPED_EVENT, NOT_AN_EVENT)
        assert "@" not in result.detail and "example" not in result.detail
    else:
        assert len(result) == 1
        assert {event.event for event in result} <= OUR_EVENTS
        assert all(event.occurred_at and event.occurred_at.endswith("Z") for event in result)


OTHER_SERVICES = {
    "sendgrid": {
        "email": "x@example.com",
        "event": "bounce",
        "timestamp": 1513299569,
        "sg_event_id": "abc",
        "type": "bounce",
    },
    "mailgun": {
        "signature": {"timestamp": "1"},
        "event-data": {"event": "failed", "recipient": "x@example.com"},
    },
    "ses": {
        "eventType": "Bounce",
        "mail": {"destination": ["x@example.com"]},
        "bounce": {"bounceType": "Permanent"},
    },
    "ses_notification": {"notificationType": "Complaint", "mail": {}, "complaint": {}},
    "postmark": {
        "RecordType": "Bounce",
        "Email": "x@example.com",
        "Type": "HardBounce",
        "BouncedAt": "2019-11-05T16:33:54Z",
    },
    "mailtrap": {
        "event": "delivery",
        "email": "x@example.com",
        "message_id": "1",
        "sending_stream": "transactional",
        "timestamp": 1,
    },
    "plain_row": {"email": "x@example.com", "event": "unsubscribe", "occurred_at": "2024-05-01T10:22:33Z"},
    "plain_row_with_type": {"email": "x@example.com", "type": "hard", "occurred_at": "2024-05-01T10:22:33Z"},
}


@pytest.mark.parametrize("name", OTHER_SERVICES)
def test_records_of_other_services_are_claimed_by_none_of_these(name):
    assert [module for module, m in MODULES.items() if m.SERVICE.recognises(OTHER_SERVICES[name])] == []


@pytest.mark.parametrize("module", MODULES)
def test_expected_json_agrees_with_the_mappings(module):
    expected = json.loads((DATA / module / "expected.json").read_text())
    assert sorted(expected["files"]) == [path.name for path in fixture_files(module)]
    events: Counter[str] = Counter()
    facts: dict[str, list[tuple[str, int, str]]] = {}
    for file, counts in expected["files"].items():
        items = mapped(module, file)
        rejected = Counter(item.reason for item in items if isinstance(item, RecordRejected))
        accepted = [item for item in items if isinstance(item, ServiceEvent)]
        assert counts == {
            "rows_total": len(items),
            "rows_accepted": len(accepted),
            "rows_rejected": sum(rejected.values()),
            "rejected": dict(rejected),
        }
        events.update(item.event for item in accepted)
        for item in accepted:
            if item.event in STATUS_OF:
                status = STATUS_OF[item.event]
                facts.setdefault(item.email, []).append((item.occurred_at, PRECEDENCE.index(status), status))
    assert dict(events) == expected["events"]
    # no address has three soft bounces (nor a confirm): the last status fact decides, precedence breaking ties
    assert {email: max(found)[2] for email, found in facts.items()} == expected["statuses"]


# Per service: names, times, ids, tags, urls, machine opens.


def test_sparkpost():
    got = by_service_event("sparkpost", "webhook.json")
    sent = got["injection|sp-sent@example.com"]
    assert (sent.event, sent.occurred_at, sent.message_id) == (
        "sent",
        "2016-02-02T19:50:00Z",
        "65832150921904138",
    )
    assert (sent.campaign_id, sent.tags, sent.machine_open) == ("Example Campaign Name", ("male", "US"), None)
    assert got["delivery|sp-delivered@example.com"].event == "delivered"  # rcpt_to, not the raw mixed case
    assert got["bounce/10|sp-bounce@example.com"].event == "hard_bounce"
    assert got["bounce/10|sp-bounce@example.com"].occurred_at == "2016-06-01T23:42:28Z"
    assert got["bounce/22|sp-soft@example.com"].event == "soft_bounce"
    assert got["bounce/51|sp-block@example.com"].event == "soft_bounce"
    assert got["out_of_band/1|sp-oob@example.com"].event == "soft_bounce"
    assert got["delay|sp-deferred@nomx.example.com"].event == "deferred"
    assert got["spam_complaint|sp-complaint@example.com"].event == "complaint"
    assert got["list_unsubscribe|sp-unsub@example.com"].event == "unsubscribe"
    assert got["link_unsubscribe|sp-unsub-link@example.com"].event == "unsubscribe"
    assert {
        got[key].event
        for key in (
            "open|sp-open@example.com",
            "initial_open|sp-open@example.com",
            "amp_open|sp-amp@example.com",
        )
    } == {"open"}
    click = got["click|sp-click@example.com"]
    assert (click.event, click.url, click.occurred_at) == (
        "click",
        "http://example.com",
        "2016-02-02T19:50:12Z",
    )
    assert got["policy_rejection|sp-policy@example.com"].event == "dropped"
    assert got["generation_rejection|sp-suppressed@example.com"].event == "dropped"
    assert got["generation_failure|sp-genfail@example.com"].occurred_at == "2018-10-11T23:24:45Z"
    assert sparkpost.BOUNCE_CLASSES["90"] == "hard_bounce" and sparkpost.BOUNCE_CLASSES["25"] == "dropped"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"msys": {}}, NOT_AN_EVENT),
        (
            {"msys": {"message_event": {"type": "bounce", "bounce_class": "80", "rcpt_to": "a@example.com"}}},
            UNMAPPED_EVENT,
        ),
        ({"msys": {"message_event": {"type": "sms_status", "rcpt_to": "a@example.com"}}}, UNMAPPED_EVENT),
        ({"msys": {"message_event": "a@example.com"}}, UNRECOGNISED_RECORD),
        ({"cust": {"id": "1"}}, UNRECOGNISED_RECORD),
        ({"msys": {"sms_event": {"type": "sms_status"}}}, UNMAPPED_EVENT),
        ({"msys": {"other": {}}}, UNRECOGNISED_RECORD),
    ],
)
def test_sparkpost_rejections(record, reason):
    with pytest.raises(RecordRejected) as caught:
        sparkpost.SERVICE.events(record)
    assert caught.value.reason == reason and "@" not in caught.value.detail


def test_mandrill_events_arrive_as_a_json_string():
    assert isinstance(json.loads((DATA / "mandrill" / "webhook.json").read_text())["mandrill_events"], str)


def test_mandrill():
    got = by_service_event("mandrill", "webhook.json")
    sent = got["send|md-sent@example.com"]
    assert (sent.event, sent.occurred_at, sent.message_id) == (
        "sent",
        "2016-04-19T19:47:26Z",
        "abcdef012345789abcdef012345789",
    )
    assert sent.tags == ("tag1", "tag2")
    assert got["hard_bounce|md-bounce@example.com"].event == "hard_bounce"
    assert got["soft_bounce|md-soft@example.com"].event == "soft_bounce"
    assert got["deferral|md-deferred@example.com"].event == "deferred"
    assert got["open|md-open@example.com"].machine_open is None
    click = got["click|md-click@example.com"]
    assert (click.event, click.url, click.occurred_at) == (
        "click",
        "http://example.com",
        "2016-04-19T19:47:28Z",
    )
    assert got["spam|md-complaint@example.com"].event == "complaint"
    assert got["unsub|md-unsub@example.com"].event == "unsubscribe"
    assert got["reject|md-reject@example.com"].event == "dropped"
    rejected = [item for item in mapped("mandrill", "events.jsonl")]
    assert [(item.reason, item.detail) for item in rejected[:2]] == [
        (UNMAPPED_EVENT, "Mandrill webhook event 'blacklist/add' has no counterpart here"),
        (UNMAPPED_EVENT, "Mandrill webhook event 'inbound' has no counterpart here"),
    ]
    assert rejected[2].reason == UNRECOGNISED_RECORD and "@" not in rejected[2].detail


def test_brevo():
    got = by_service_event("brevo", "webhooks.jsonl")
    sent = got["request|br-sent@example.com"]
    # ts_epoch (ms, UTC), not ts/ts_event, which this live capture has nine hours off
    assert (sent.event, sent.occurred_at) == ("sent", "2018-03-06T19:10:23Z")
    assert (sent.message_id, sent.tags) == (
        "<201803062010.27287306012@smtp-relay.mailin.fr>",
        ("tag1", "tag2"),
    )
    assert got["hard_bounce|br-bounce@example.com"].tags == ("header-tag",)
    assert got["soft_bounce|br-soft@no-mx.example.com"].event == "soft_bounce"
    assert {
        got[key].event
        for key in (
            "blocked|br-blocked@example.com",
            "invalid_email|br-invalid@example.com",
            "error|br-error@example.com",
        )
    } == {"dropped"}
    assert got["error|br-error@example.com"].occurred_at == "2020-11-09T14:53:43Z"  # ts_epoch in seconds
    assert got["complaint|br-complaint@example.com"].occurred_at == "2020-11-09T14:54:14Z"  # ts_event
    assert got["spam|br-spam@example.com"].event == "complaint"
    assert got["deferred|br-deferred@example.com"].event == "deferred"
    assert [
        got[key].machine_open for key in ("opened|br-open@example.com", "unique_opened|br-open@example.com")
    ] == [False, False]
    proxy = got["proxy_open|br-proxy@example.com"]
    assert (proxy.event, proxy.machine_open, proxy.occurred_at, proxy.tags) == (
        "open",
        True,
        "2018-08-17T06:18:02Z",
        ("transactionalTag",),
    )
    assert got["unique_proxy_open|br-proxy@example.com"].machine_open is True
    assert got["click|br-click@example.com"].url == "https://example.com/click/me"
    assert got["unsubscribe|br-unsub@example.com"].event == "unsubscribe"
    spam = got["spam|br-mkt-spam@example.com"]
    assert (spam.event, spam.campaign_id, spam.occurred_at, spam.tags) == (
        "complaint",
        "12",
        "2020-11-09T14:55:37Z",
        (),
    )
    unsub = got["unsubscribe|br-mkt-unsub@example.com"]
    assert (unsub.event, unsub.list) == ("unsubscribe", "3")
    assert got["click|br-mkt-click@example.com"].url == "https://example.com/offer"
    assert got["click|br-mkt-click@example.com"].message_id is None


def test_mailchimp():
    got = by_service_event("mailchimp", "webhooks.jsonl")
    signup = got["subscribe|mc-signup@example.com"]
    assert (signup.event, signup.occurred_at, signup.list) == ("signup", "2009-03-26T21:35:57Z", "a6b5da1054")
    unsub = got["unsubscribe/unsub|mc-unsub@example.com"]
    assert (unsub.event, unsub.campaign_id, unsub.list) == ("unsubscribe", "cb398d21d2", "a6b5da1054")
    assert got["cleaned/hard|mc-bounce@example.com"].event == "hard_bounce"
    assert got["cleaned/abuse|mc-abuse@example.com"].event == "complaint"
    details = [
        item.detail for item in mapped("mailchimp", "webhooks.jsonl") if isinstance(item, RecordRejected)
    ]
    assert details[:4] == [
        f"Mailchimp audience webhook event {name!r} has no counterpart here"
        for name in ("unsubscribe/delete", "profile", "upemail", "campaign")
    ]
    with pytest.raises(RecordRejected) as caught:
        mailchimp.SERVICE.events(
            {
                "type": "cleaned",
                "fired_at": "2009-03-26 22:01:00",
                "data": {"reason": "other", "email": "a@example.com"},
            }
        )
    assert caught.value.reason == UNMAPPED_EVENT and "@" not in caught.value.detail
    # a fired_at that is no date-time comes back as it was, for the loader to reject as bad_timestamp
    assert (
        mailchimp.SERVICE.events(
            {"type": "subscribe", "fired_at": "soon", "data": {"email": "a@example.com"}}
        )[0].occurred_at
        == "soon"
    )


def test_listmonk():
    got = by_service_event("listmonk", "bounces.jsonl")
    hard = got["bounce/hard|lm-hard@example.com"]
    assert (hard.event, hard.occurred_at, hard.campaign_id) == (
        "hard_bounce",
        "2024-08-20T23:54:22.851858Z",
        "9f86b50d-5711-41c8-ab03-bc91c43d711b",
    )
    assert (
        got["bounce/soft|lm-soft@example.com"].occurred_at == "2024-08-20T23:54:22.123456Z"
    )  # +02:00, 7 digits
    assert got["bounce/complaint|lm-complaint@example.com"].event == "complaint"
    assert got["bounce/hard|lm-export@example.com"].campaign_id == "1"
    assert (
        listmonk.SERVICE.events({"email": "a@example.com", "source": "api", "type": "hard"})[0].occurred_at
        is None
    )
    with pytest.raises(RecordRejected) as caught:
        listmonk.SERVICE.events({"email": "a@example.com", "source": "api", "type": "transient"})
    assert caught.value.reason == UNMAPPED_EVENT and "@" not in caught.value.detail
