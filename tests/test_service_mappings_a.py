"""The event mappings of SendGrid, Amazon SES, Mailgun, Postmark and Mailtrap on their fixtures
(tests/data/services/<module>/): pure Python, no Dagster, no DuckDB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assets.ingest.services import amazon_ses, mailgun, mailtrap, postmark, sendgrid
from assets.ingest.services.base import NOT_AN_EVENT, UNMAPPED_EVENT, UNRECOGNISED_RECORD, RecordRejected

DATA = Path(__file__).parent / "data" / "services"
MODULES = {
    "sendgrid": sendgrid,
    "amazon_ses": amazon_ses,
    "mailgun": mailgun,
    "postmark": postmark,
    "mailtrap": mailtrap,
}
WRAPPERS = ("events", "items", "mandrill_events")


def records(path: Path) -> list:
    """The records of a fixture as the loader sees them: arrays and wrapper objects unwrapped."""
    if path.suffix == ".jsonl":
        data = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    else:
        data = json.loads(path.read_text())

    def unwrap(value):
        if isinstance(value, list):
            for item in value:
                yield from unwrap(item)
        elif isinstance(value, dict) and any(isinstance(value.get(key), list) for key in WRAPPERS):
            for key in WRAPPERS:
                if isinstance(value.get(key), list):
                    yield from unwrap(value[key])
        else:
            yield value

    return list(unwrap(data))


def fixture(module: str, name: str) -> list:
    return records(DATA / module / name)


def by_email(module, items) -> dict:
    found = {}
    for record in items:
        try:
            for event in module.SERVICE.events(record):
                found[event.email] = event
        except RecordRejected:
            pass
    return found


FILES = [
    (name, path)
    for name in MODULES
    for path in sorted((DATA / name).glob("*.json*"))
    if path.name != "expected.json"
]


@pytest.mark.parametrize(("name", "path"), FILES, ids=[f"{n}/{p.name}" for n, p in FILES])
def test_each_record_is_claimed_by_its_own_service_only(name, path):
    for record in records(path):
        claimed = [other for other, module in MODULES.items() if module.SERVICE.recognises(record)]
        assert claimed == [name], record


def test_our_own_event_rows_are_claimed_by_none():
    row = {"email": "someone@example.com", "event": "open", "occurred_at": "2024-05-01T10:22:33Z"}
    assert not any(module.SERVICE.recognises(row) for module in MODULES.values())
    for module in MODULES.values():
        with pytest.raises(RecordRejected) as rejected:
            module.SERVICE.events(row)
        assert rejected.value.reason == UNRECOGNISED_RECORD
        assert "@" not in rejected.value.detail


@pytest.mark.parametrize(("name", "path"), FILES, ids=[f"{n}/{p.name}" for n, p in FILES])
def test_rejections_name_no_address(name, path):
    for record in records(path):
        try:
            MODULES[name].SERVICE.events(record)
        except RecordRejected as rejected:
            assert rejected.reason in (UNRECOGNISED_RECORD, NOT_AN_EVENT, UNMAPPED_EVENT)
            assert "@" not in rejected.detail


def test_sendgrid():
    found = by_email(sendgrid, fixture("sendgrid", "webhook.json"))
    assert {email: event.event for email, event in found.items()} == {
        "sg-sent@example.com": "sent",
        "sg-deferred@example.com": "deferred",
        "sg-delivered@example.com": "delivered",
        "sg-bounce@example.com": "hard_bounce",
        "sg-blocked@example.com": "soft_bounce",
        "sg-dropped@example.com": "dropped",
        "sg-open@example.com": "open",
        "sg-machine-open@example.com": "open",
        "sg-click@example.com": "click",
        "sg-spam@example.com": "complaint",
        "sg-unsub@example.com": "unsubscribe",
        "sg-group-unsub@example.com": "unsubscribe",
        "sg-campaign@example.com": "sent",
    }
    bounce = found["sg-bounce@example.com"]
    assert bounce.occurred_at == "2017-12-15T00:59:29Z"
    assert bounce.service_event == "bounce/bounce/Invalid Address"
    assert bounce.message_id == "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"
    assert bounce.tags == ("cat facts",)
    assert found["sg-blocked@example.com"].service_event == "bounce/blocked"
    assert found["sg-open@example.com"].machine_open is False
    assert found["sg-machine-open@example.com"].machine_open is True
    assert found["sg-delivered@example.com"].machine_open is None
    assert found["sg-click@example.com"].url == "http://www.sendgrid.com/"
    assert found["sg-group-unsub@example.com"].list == "10"
    assert found["sg-unsub@example.com"].list is None
    campaign = found["sg-campaign@example.com"]
    assert (campaign.campaign_id, campaign.occurred_at, campaign.tags) == (
        "12345",
        "2015-09-15T20:37:08Z",
        (),
    )


def test_sendgrid_unmapped():
    items = fixture("sendgrid", "webhook.json")
    for name in ("group_resubscribe", "account_status_change"):
        (record,) = [item for item in items if item["event"] == name]
        with pytest.raises(RecordRejected) as rejected:
            sendgrid.SERVICE.events(record)
        assert rejected.value.reason == UNMAPPED_EVENT and name in rejected.value.detail


def test_amazon_ses_event_publishing():
    found = by_email(amazon_ses, fixture("amazon_ses", "event_publishing.json"))
    assert {email: event.event for email, event in found.items()} == {
        "ses-ep-bounce@example.com": "hard_bounce",
        "ses-ep-soft@example.com": "soft_bounce",
        "ses-ep-complaint@example.com": "complaint",
        "ses-ep-delivered@example.com": "delivered",
        "ses-ep-sent@example.com": "sent",
        "ses-ep-reject@example.com": "dropped",
        "ses-ep-open@example.com": "open",
        "ses-ep-click@example.com": "click",
        "ses-ep-render@example.com": "dropped",
        "ses-ep-delay@example.com": "deferred",
        "ses-ep-unsub@example.com": "unsubscribe",
    }
    bounce = found["ses-ep-bounce@example.com"]
    assert (bounce.occurred_at, bounce.service_event) == (
        "2017-08-05T00:41:02.669000Z",
        "Bounce/Permanent/General",
    )
    assert bounce.message_id == "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
    assert found["ses-ep-soft@example.com"].service_event == "Bounce/Transient/MailboxFull"
    click = found["ses-ep-click@example.com"]
    assert click.url == "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html"
    assert click.tags == ("myCustomTag1:myCustomValue1", "myCustomTag2:myCustomValue2")
    assert click.occurred_at == "2017-08-09T23:51:25.570000Z"
    assert found["ses-ep-delay@example.com"].service_event == "DeliveryDelay/TransientCommunicationFailure"
    unsubscribe = found["ses-ep-unsub@example.com"]
    assert (unsubscribe.list, unsubscribe.service_event) == ("ContactListName", "Subscription/unsubscribeAll")
    assert found["ses-ep-sent@example.com"].occurred_at == "2016-10-14T05:02:16.645000Z"  # mail.timestamp


def test_amazon_ses_sns():
    items = fixture("amazon_ses", "sns.jsonl")
    with pytest.raises(RecordRejected) as rejected:
        amazon_ses.SERVICE.events(items[0])
    assert rejected.value.reason == NOT_AN_EVENT
    bounces = amazon_ses.SERVICE.events(items[1])  # one notification, two bounced recipients of three
    assert [event.email for event in bounces] == ["ses-bounce-1@example.com", "ses-bounce-2@example.com"]
    assert {(event.event, event.occurred_at) for event in bounces} == {
        ("hard_bounce", "2016-01-27T14:59:38.237000Z")
    }
    (complaint,) = amazon_ses.SERVICE.events(items[2])
    assert (complaint.email, complaint.event, complaint.service_event) == (
        "ses-complaint@example.com",
        "complaint",
        "Complaint/abuse",
    )
    (delivered,) = amazon_ses.SERVICE.events(items[3])
    assert (delivered.email, delivered.event) == ("ses-delivered@example.com", "delivered")
    assert delivered.message_id == "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000"
    for record, reason in ((items[4], UNMAPPED_EVENT), (items[5], UNRECOGNISED_RECORD)):
        with pytest.raises(RecordRejected) as rejected:
            amazon_ses.SERVICE.events(record)
        assert rejected.value.reason == reason and "@" not in rejected.value.detail


def test_amazon_ses_judgment_calls():
    (record,) = [
        item for item in fixture("amazon_ses", "event_publishing.json") if item["eventType"] == "Open"
    ]
    shared = dict(record, mail=dict(record["mail"], destination=["a@example.com", "b@example.com"]))
    assert [event.email for event in amazon_ses.SERVICE.events(shared)] == [None]  # who opened is not known
    (complaint,) = [
        item for item in fixture("amazon_ses", "event_publishing.json") if item["eventType"] == "Complaint"
    ]
    not_spam = dict(complaint, complaint=dict(complaint["complaint"], complaintFeedbackType="not-spam"))
    with pytest.raises(RecordRejected) as rejected:
        amazon_ses.SERVICE.events(not_spam)
    assert rejected.value.reason == UNMAPPED_EVENT


def test_mailgun_webhooks():
    found = by_email(mailgun, fixture("mailgun", "webhooks.jsonl"))
    assert {email: event.event for email, event in found.items()} == {
        "mg-delivered@example.com": "delivered",
        "mg-bounce@example.com": "hard_bounce",
        "mg-temporary@nomx.example.com": "deferred",
        None: "dropped",  # `rejected` names no recipient: the loader rejects it as missing_email
        "mg-complaint@example.com": "complaint",
        "mg-unsub@example.com": "unsubscribe",
        "mg-open@example.com": "open",
        "mg-click@example.com": "click",
    }
    delivered = found["mg-delivered@example.com"]
    assert delivered.occurred_at == "2018-08-12T21:17:17.153125Z"
    assert delivered.message_id == "20180812211713.1.DF5966851B4BAA99@example.org"
    assert found["mg-bounce@example.com"].service_event == "failed/permanent/bounce"
    assert found["mg-temporary@nomx.example.com"].service_event == "failed/temporary/generic"
    assert found["mg-open@example.com"].tags == ("welcome", "variation-A")
    assert found["mg-open@example.com"].machine_open is None  # no client-info.bot in this older event
    assert found["mg-click@example.com"].url == "https://example.com/test"


def test_mailgun_events_api():
    found = by_email(mailgun, fixture("mailgun", "events_api.json"))
    assert {email: event.event for email, event in found.items()} == {
        "mg-api-accepted@example.com": "sent",
        "mg-api-delivered@example.com": "delivered",
        "mg-api-suppressed@example.com": "dropped",
        "mg-api-bounce@example.com": "hard_bounce",
        "mg-api-temporary@example.com": "deferred",
        "mg-api-open@example.com": "open",
        "mg-api-machine-open@example.com": "open",
        "mg-api-click@example.com": "click",
    }
    assert found["mg-api-suppressed@example.com"].service_event == "failed/permanent/suppress-bounce"
    assert found["mg-api-bounce@example.com"].occurred_at == "2022-10-19T21:15:38.404668Z"
    assert found["mg-api-open@example.com"].machine_open is False
    assert found["mg-api-machine-open@example.com"].machine_open is True
    assert found["mg-api-click@example.com"].url == "http://example.com/signup"
    (stored,) = [item for item in fixture("mailgun", "events_api.json") if item["event"] == "stored"]
    with pytest.raises(RecordRejected) as rejected:
        mailgun.SERVICE.events(stored)
    assert rejected.value.reason == UNMAPPED_EVENT


def test_mailgun_out_of_retries_is_a_soft_bounce():
    (record,) = [
        item for item in fixture("mailgun", "events_api.json") if item.get("severity") == "temporary"
    ]
    (event,) = mailgun.SERVICE.events(dict(record, severity="permanent", reason="old"))
    assert (event.event, event.service_event) == ("soft_bounce", "failed/permanent/old")


def test_postmark():
    found = by_email(postmark, fixture("postmark", "webhooks.jsonl"))
    assert {email: event.event for email, event in found.items()} == {
        "pm-hard@example.com": "hard_bounce",
        "pm-soft@example.com": "soft_bounce",
        "pm-delivered@example.com": "delivered",
        "pm-open@example.com": "open",
        "pm-click@example.com": "click",
        "pm-spam@example.com": "complaint",
        "pm-unsub@example.com": "unsubscribe",
        "pm-suppressed-bounce@example.com": "hard_bounce",
        None: "unsubscribe",  # an Unsubscribe-request bounce without an address: missing_email
    }
    hard = found["pm-hard@example.com"]
    assert (hard.occurred_at, hard.service_event) == ("2016-04-27T20:28:50.396393Z", "Bounce/HardBounce")
    assert hard.message_id == "2706ee8a-737c-4285-b032-ccd317af53ed"
    assert found["pm-delivered@example.com"].occurred_at == "2014-08-01T17:28:10.273539Z"
    assert found["pm-delivered@example.com"].tags == ("welcome-email",)
    assert found["pm-click@example.com"].url == "https://example.com/click/me"
    assert found["pm-click@example.com"].occurred_at == "2017-10-25T15:21:11.906561Z"
    assert found["pm-unsub@example.com"].service_event == "SubscriptionChange/ManualSuppression"
    assert found["pm-unsub@example.com"].occurred_at == "2022-06-05T17:17:32Z"
    items = fixture("postmark", "webhooks.jsonl")
    for record in (items[7], items[10]):  # a resubscribe, an AutoResponder bounce
        with pytest.raises(RecordRejected) as rejected:
            postmark.SERVICE.events(record)
        assert rejected.value.reason == UNMAPPED_EVENT and "@" not in rejected.value.detail


def test_mailtrap():
    found = by_email(mailtrap, fixture("mailtrap", "webhook.json"))
    assert {email: event.event for email, event in found.items()} == {
        "mt-delivered@example.com": "delivered",
        "mt-open@example.com": "open",
        "mt-click@example.com": "click",
        "mt-bounce@example.com": "hard_bounce",
        "mt-soft@example.com": "soft_bounce",
        "mt-spam@example.com": "complaint",
        "mt-unsub@example.com": "unsubscribe",
        "mt-suspended@example.com": "deferred",
        "mt-reject@example.com": "dropped",
    }
    delivered = found["mt-delivered@example.com"]
    assert delivered.occurred_at == "2017-06-22T01:05:27Z"
    assert (delivered.message_id, delivered.tags) == (
        "1df37d17-0286-4d8b-8edf-bc4ec5be86e6",
        ("password-reset",),
    )
    assert found["mt-bounce@example.com"].service_event == "bounce/hard"
    assert found["mt-soft@example.com"].service_event == "soft bounce/unavailable"
    assert found["mt-click@example.com"].url == "http://example.com/anymail"
    record = dict(fixture("mailtrap", "webhook.json")[0], event="sending")
    with pytest.raises(RecordRejected) as rejected:
        mailtrap.SERVICE.events(record)
    assert rejected.value.reason == UNMAPPED_EVENT


@pytest.mark.parametrize("name", MODULES)
def test_expected_json_matches_the_mappings(name):
    """expected.json's event counts and statuses are what the mappings give (the loader adds the warehouse)."""
    expected = json.loads((DATA / name / "expected.json").read_text())
    counts, statuses = {}, {}
    for _, path in [item for item in FILES if item[0] == name]:
        for record in records(path):
            try:
                produced = MODULES[name].SERVICE.events(record)
            except RecordRejected:
                continue
            for event in produced:
                if event.email is None:
                    continue
                counts[event.event] = counts.get(event.event, 0) + 1
                status = {"hard_bounce": "bounced", "complaint": "complained", "unsubscribe": "unsubscribed"}
                if event.event in status:
                    statuses[event.email] = status[event.event]
    assert (counts, statuses) == (expected["events"], expected["statuses"])
