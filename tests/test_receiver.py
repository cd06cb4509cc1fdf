"""`contacts receive`: each verifier with real signatures, bad input refused without a file, SNS subscription
confirmations recorded and not loaded; then a `contacts receive` process under load (every answered delivery
is one file, every event loads once) and killed with SIGKILL mid-load (every answered delivery is complete)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.testclient import TestClient  # needs httpx, which the lock has (through Dagster)

from assets.ingest.inbox import discover_files
from pipelines.config import ContactsConfig
from pipelines.receiver import (
    MAILTRAP_SIGNATURE,
    SENDGRID_SIGNATURE,
    SENDGRID_TIMESTAMP,
    ReceiverConfigError,
    build_app,
    build_verifiers,
)
from pipelines.settings import PROJECT_ROOT
from tests.conftest import INGEST_AND_MERGE

SERVICES = Path(__file__).parent / "data" / "services"
NOW = 1_780_000_000  # 2026-05-28: the receiver's clock in the in-process tests
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
MAILGUN_KEY = "mailgun-test-signing-key"
MAILTRAP_SECRET = "mailtrap-test-secret"
POSTMARK_AUTH = "postmark:test-password"
SES_TOKEN = "ses-test-token-1234"
MANDRILL_KEY = "mandrill-test-key"
MANDRILL_URL = "https://hooks.example.com/webhooks/mandrill"
MAILCHIMP_TOKEN = "mailchimp-test-token"
RECEIVER = {
    "sendgrid": {"public_key_env": "TEST_SENDGRID_KEY"},
    "mailgun": {"signing_key_env": "TEST_MAILGUN_KEY"},
    "mailtrap": {"signing_secret_env": "TEST_MAILTRAP_SECRET"},
    "postmark": {"basic_auth_env": "TEST_POSTMARK_AUTH"},
    "ses": {"token_env": "TEST_SES_TOKEN"},
    "mandrill": {"webhook_key_env": "TEST_MANDRILL_KEY", "url": MANDRILL_URL},
    "mailchimp": {"token_env": "TEST_MAILCHIMP_TOKEN"},
    "brevo": {"token_env": "TEST_BREVO_TOKEN"},
    "sparkpost": {"basic_auth_env": "TEST_SPARKPOST_AUTH"},
    "listmonk": {"token_env": "TEST_LISTMONK_TOKEN"},
}
RECEIVER_YAML = "receiver:\n" + "".join(f"  {name}: {json.dumps(spec)}\n" for name, spec in RECEIVER.items())


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


SECRETS = {
    "TEST_SENDGRID_KEY": public_key_b64(SENDGRID_KEY),
    "TEST_MAILGUN_KEY": MAILGUN_KEY,
    "TEST_MAILTRAP_SECRET": MAILTRAP_SECRET,
    "TEST_POSTMARK_AUTH": POSTMARK_AUTH,
    "TEST_SES_TOKEN": SES_TOKEN,
    "TEST_MANDRILL_KEY": MANDRILL_KEY,
    "TEST_MAILCHIMP_TOKEN": MAILCHIMP_TOKEN,
    "TEST_BREVO_TOKEN": "brevo-test-token",
    "TEST_SPARKPOST_AUTH": "sparkpost:test-password",
    "TEST_LISTMONK_TOKEN": "listmonk-test-token",
}


def sendgrid_headers(
    body: bytes, timestamp: int = NOW, key: ec.EllipticCurvePrivateKey = SENDGRID_KEY
) -> dict:
    signature = key.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {SENDGRID_SIGNATURE: base64.b64encode(signature).decode(), SENDGRID_TIMESTAMP: str(timestamp)}


def mailgun_body(event_data: dict, token: str, timestamp: int = NOW, key: str = MAILGUN_KEY) -> bytes:
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    payload = {"signature": {"timestamp": str(timestamp), "token": token, "signature": signature}}
    return json.dumps({**payload, "event-data": event_data}).encode()


def mailtrap_headers(body: bytes, secret: str = MAILTRAP_SECRET) -> dict:
    return {MAILTRAP_SIGNATURE: hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def mandrill_post(events: str, key: str = MANDRILL_KEY) -> tuple[bytes, dict]:
    """The form Mandrill posts, and its X-Mandrill-Signature."""
    signed = MANDRILL_URL + "mandrill_events" + events
    signature = base64.b64encode(hmac.new(key.encode(), signed.encode(), hashlib.sha1).digest()).decode()
    body = urllib.parse.urlencode({"mandrill_events": events}).encode()
    return body, {"X-Mandrill-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}


def mailchimp_form(payload: dict) -> bytes:
    """A parsed Mailchimp payload back into the form Mailchimp posts (`data[merges][FNAME]=...`)."""
    fields: list[tuple[str, str]] = []

    def flatten(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                flatten(f"{prefix}[{key}]" if prefix else key, item)
        else:
            fields.append((prefix, value))

    flatten("", payload)
    return urllib.parse.urlencode(fields).encode()


def basic(credentials: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def fixture_lines(relative: str) -> list[bytes]:
    return [line.encode() for line in (SERVICES / relative).read_text().splitlines() if line.strip()]


@pytest.fixture
def receiver(tmp_path: Path):
    """A TestClient on the receiver app with every test service configured, and the data directory."""
    config = ContactsConfig.model_validate({"receiver": {**RECEIVER, "max_body_size": 20_000}}).receiver
    app = build_app(config, build_verifiers(config, SECRETS, clock=lambda: NOW), tmp_path)
    with TestClient(app) as client:
        yield client, tmp_path


def inbox_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "inbox" / "events").iterdir())


def test_each_service_delivery_is_stored_as_delivered(receiver) -> None:
    client, data_dir = receiver
    sendgrid = (SERVICES / "sendgrid" / "webhook.json").read_bytes()
    mailtrap = (SERVICES / "mailtrap" / "webhook.json").read_bytes()
    postmark = fixture_lines("postmark/webhooks.jsonl")[0]
    ses = next(line for line in fixture_lines("amazon_ses/sns.jsonl") if b'"Notification"' in line)
    mailgun = mailgun_body(json.loads(fixture_lines("mailgun/webhooks.jsonl")[0])["event-data"], "tok-1")
    deliveries = [
        ("/webhooks/sendgrid", sendgrid, sendgrid_headers(sendgrid)),
        ("/webhooks/mailgun", mailgun, {}),
        ("/webhooks/mailtrap", mailtrap, mailtrap_headers(mailtrap)),
        ("/webhooks/postmark", postmark, basic(POSTMARK_AUTH)),
        (f"/webhooks/ses/{SES_TOKEN}", ses, {}),
    ]
    for path, body, headers in deliveries:
        response = client.post(path, content=body, headers=headers)
        assert response.status_code == 200, (path, response.text)
    files = inbox_files(data_dir)
    assert [path.name.split("-")[1] for path in files] == [
        "mailgun",
        "mailtrap",
        "postmark",
        "sendgrid",
        "ses",
    ]
    by_service = {path.name.split("-")[1]: path for path in files}
    for path, body, _ in deliveries:
        stored = by_service[path.split("/")[2]]
        assert stored.read_bytes() == body
        assert stored.name.endswith(f"-{hashlib.sha256(body).hexdigest()[:16]}.json")
    # the bearer form of the SES token works too
    assert client.post(
        "/webhooks/ses", content=ses, headers={"Authorization": f"Bearer {SES_TOKEN}"}
    ).is_success


def test_stored_deliveries_load_through_the_pipeline(receiver, workspace) -> None:
    """A delivery of every service, from its fixtures, stored by the receiver: each file loads, read as that
    service's payload."""
    client, data_dir = receiver
    deliveries: list[tuple[str, bytes, dict]] = []
    for service, headers in (("sendgrid", sendgrid_headers), ("mailtrap", mailtrap_headers)):
        body = (SERVICES / service / "webhook.json").read_bytes()
        deliveries.append((f"/webhooks/{service}", body, headers(body)))
    sparkpost = (SERVICES / "sparkpost" / "webhook.json").read_bytes()
    deliveries.append(("/webhooks/sparkpost", sparkpost, basic("sparkpost:test-password")))
    for number, line in enumerate(fixture_lines("mailgun/webhooks.jsonl")):
        signed = mailgun_body(json.loads(line)["event-data"], f"fixture-token-{number}")
        deliveries.append(("/webhooks/mailgun", signed, {}))
    for line in fixture_lines("amazon_ses/sns.jsonl"):
        deliveries.append((f"/webhooks/ses/{SES_TOKEN}", line, {}))
    for line in fixture_lines("postmark/webhooks.jsonl"):
        deliveries.append(("/webhooks/postmark", line, basic(POSTMARK_AUTH)))
    # (the fixtures' lines that are no webhook body, alone, are left out: a Brevo SMS event, which names no
    # address, and a listmonk subscriber record)
    for line in fixture_lines("brevo/webhooks.jsonl"):
        if b'"email"' in line:
            deliveries.append(("/webhooks/brevo", line, {"Authorization": "Bearer brevo-test-token"}))
    for line in fixture_lines("listmonk/bounces.jsonl"):
        if b'"source"' in line:
            deliveries.append(("/webhooks/listmonk/listmonk-test-token", line, {}))
    mandrill = json.loads((SERVICES / "mandrill" / "webhook.json").read_text())["mandrill_events"]
    deliveries.append(("/webhooks/mandrill", *mandrill_post(mandrill)))
    for line in fixture_lines("mailchimp/webhooks.jsonl"):
        if b'"fired_at"' in line:  # not the member record of the API, which no webhook posts
            deliveries.append(
                (f"/webhooks/mailchimp/{MAILCHIMP_TOKEN}", mailchimp_form(json.loads(line)), {})
            )
    for path, body, headers in deliveries:
        response = client.post(path, content=body, headers=headers)
        assert response.status_code == 200, (path, response.text)
    events = workspace.paths.event_inbox
    events.mkdir(parents=True)
    for path in inbox_files(data_dir):
        (events / path.name).write_bytes(path.read_bytes())
    workspace.run(only=INGEST_AND_MERGE)
    formats = workspace.query("select format, status, count(*) from import_files group by all order by all")
    statuses = {(name, status) for name, status, _ in formats}
    services = ("sendgrid", "mailtrap", "sparkpost", "mailgun", "amazon_ses", "postmark", "brevo", "listmonk")
    assert statuses == {(name, "loaded") for name in (*services, "mandrill", "mailchimp")}
    sns_lines = len(fixture_lines("amazon_ses/sns.jsonl"))
    confirmations = sum(
        b'"SubscriptionConfirmation"' in line for line in fixture_lines("amazon_ses/sns.jsonl")
    )
    assert dict(((name, count) for name, _, count in formats))["amazon_ses"] == sns_lines - confirmations


# SendGrid's own test vector: sendgrid/sendgrid-python, test/unit/test_eventwebhook.py (commit 1dcc378, MIT):
# their public key, a payload (with the trailing CRLF they sign) and its signature at their timestamp.
SENDGRID_VECTOR = {
    "key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==",
    "signature": "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=",
    "timestamp": "1600112502",
    "payload": json.dumps(
        [
            {
                "email": "hello@world.com",
                "event": "dropped",
                "reason": "Bounced Address",
                "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
                "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
                "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
                "timestamp": 1600112492,
            }
        ],
        sort_keys=True,
        separators=(",", ":"),
    )
    + "\r\n",
}


def test_sendgrid_own_test_vector_verifies(tmp_path: Path) -> None:
    config = ContactsConfig.model_validate({"receiver": {"sendgrid": RECEIVER["sendgrid"]}}).receiver
    secrets = {"TEST_SENDGRID_KEY": SENDGRID_VECTOR["key"]}
    clock = int(SENDGRID_VECTOR["timestamp"]) + 10
    app = build_app(config, build_verifiers(config, secrets, clock=lambda: clock), tmp_path)
    body = SENDGRID_VECTOR["payload"].encode()
    headers = {
        SENDGRID_SIGNATURE: SENDGRID_VECTOR["signature"],
        SENDGRID_TIMESTAMP: SENDGRID_VECTOR["timestamp"],
    }
    with TestClient(app) as client:
        assert client.post("/webhooks/sendgrid", content=body, headers=headers).status_code == 200
        assert client.post("/webhooks/sendgrid", content=body[:-2], headers=headers).status_code == 403
    assert [path.read_bytes() for path in inbox_files(tmp_path)] == [body]


def test_mailtrap_sdk_fixture_verifies(tmp_path: Path) -> None:
    """The fixture every official Mailtrap SDK shares (mailtrap/mailtrap-python,
    tests/unit/test_webhook_signature.py, commit ab72eaa): the header is the hex HMAC of the raw body."""
    payload = (
        b'{"event":"delivery","sending_stream":"transactional","category":"welcome",'
        b'"message_id":"a8b1d8f6-1f8d-4a3c-9b2e-1a2b3c4d5e6f","email":"recipient@example.com",'
        b'"event_id":"f1e2d3c4-b5a6-7890-1234-567890abcdef","timestamp":1716070000}'
    )
    config = ContactsConfig.model_validate({"receiver": {"mailtrap": RECEIVER["mailtrap"]}}).receiver
    secrets = {"TEST_MAILTRAP_SECRET": "8d9a3c0e7f5b2d4a6c1e9f8b3a7d5c2e"}
    signature = "6d262e2611cd09be1f948382b5c611d63b0e585c4c9c5e40139d6ac3876d5433"
    with TestClient(build_app(config, build_verifiers(config, secrets), tmp_path)) as client:
        tampered = payload.replace(b"delivery", b"Delivery")
        assert (
            client.post(
                "/webhooks/mailtrap", content=tampered, headers={MAILTRAP_SIGNATURE: signature}
            ).status_code
            == 403
        )
        assert (
            client.post(
                "/webhooks/mailtrap", content=payload, headers={MAILTRAP_SIGNATURE: signature}
            ).status_code
            == 200
        )
    assert [path.read_bytes() for path in inbox_files(tmp_path)] == [payload]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({SENDGRID_TIMESTAMP: str(NOW)}, 401),
        ("other key", 403),
        ("tampered", 403),
        ("stale", 403),
        ("future", 403),
    ],
)
def test_sendgrid_refusals_write_nothing(receiver, headers, status) -> None:
    client, data_dir = receiver
    body = b'[{"email": "a@example.com", "event": "open", "sg_event_id": "x", "timestamp": 1}]'
    if headers == "other key":
        headers = sendgrid_headers(body, key=ec.generate_private_key(ec.SECP256R1()))
    elif headers == "tampered":
        headers = sendgrid_headers(body.replace(b"open", b"click"))
    elif headers == "stale":
        headers = sendgrid_headers(body, timestamp=NOW - 301)
    elif headers == "future":
        headers = sendgrid_headers(body, timestamp=NOW + 301)
    assert client.post("/webhooks/sendgrid", content=body, headers=headers).status_code == status
    assert inbox_files(data_dir) == []


def test_mailgun_signature_timestamp_and_replayed_token(receiver) -> None:
    client, data_dir = receiver
    data = {"event": "delivered", "timestamp": NOW, "recipient": "a@example.com"}
    good = mailgun_body(data, "token-a")
    assert client.post("/webhooks/mailgun", content=good).status_code == 200
    # the same token with another event: the signature covers only timestamp and token, so this is a replay
    replay = mailgun_body({**data, "event": "complained"}, "token-a")
    assert client.post("/webhooks/mailgun", content=replay).status_code == 403
    # the same bytes again (the answer was lost, Mailgun retries): answered, not stored twice
    assert client.post("/webhooks/mailgun", content=good).status_code == 200
    assert (
        client.post("/webhooks/mailgun", content=mailgun_body(data, "token-b", key="wrong")).status_code
        == 403
    )
    assert (
        client.post("/webhooks/mailgun", content=mailgun_body(data, "token-c", NOW - 400)).status_code == 403
    )
    assert client.post("/webhooks/mailgun", content=json.dumps({"event-data": data})).status_code == 401
    assert len(inbox_files(data_dir)) == 1


def test_mailtrap_and_basic_auth_and_token_refusals(receiver, caplog) -> None:
    client, data_dir = receiver
    body = (SERVICES / "mailtrap" / "webhook.json").read_bytes()[
        :1
    ]  # any JSON would do; the check comes first
    body = b'{"events": []}'
    assert client.post("/webhooks/mailtrap", content=body).status_code == 401
    assert (
        client.post("/webhooks/mailtrap", content=body, headers=mailtrap_headers(body, "x")).status_code
        == 403
    )
    missing = client.post("/webhooks/postmark", content=body)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Basic")
    assert client.post("/webhooks/postmark", content=body, headers=basic("postmark:wrong")).status_code == 403
    assert (
        client.post("/webhooks/postmark", content=body, headers={"Authorization": "Basic !!"}).status_code
        == 401
    )
    assert client.post("/webhooks/ses", content=body).status_code == 401
    assert client.post("/webhooks/ses/wrong-token", content=body).status_code == 403
    assert (
        client.post("/webhooks/ses", content=body, headers={"Authorization": "Bearer no"}).status_code == 403
    )
    assert client.post(f"/webhooks/postmark/{SES_TOKEN}", content=body).status_code == 404
    assert inbox_files(data_dir) == []
    # each refusal is logged with its reason, never with a credential or token, given or expected
    assert "403 wrong token" in caplog.text and "401 no basic auth credentials" in caplog.text
    assert not any(secret in caplog.text for secret in (*SECRETS.values(), "wrong-token", "postmark:wrong"))


def test_bad_input_writes_nothing(receiver) -> None:
    client, data_dir = receiver
    auth = basic(POSTMARK_AUTH)

    def chunks():
        yield b"["
        for _ in range(300):
            yield b" " * 100
        yield b"]"

    assert (
        client.post("/webhooks/postmark", content=b"{" + b" " * 20_000 + b"}", headers=auth).status_code
        == 413
    )
    assert client.post("/webhooks/postmark", content=chunks(), headers=auth).status_code == 413  # chunked
    assert client.post("/webhooks/postmark", content=b'{"RecordType": ', headers=auth).status_code == 400
    assert client.post("/webhooks/postmark", content=b"", headers=auth).status_code == 400
    assert client.post("/webhooks/postmark", content=b"42", headers=auth).status_code == 400
    assert client.post("/webhooks/postmark", content=b"\xff\xfe{", headers=auth).status_code == 400
    only_postmark = ContactsConfig.model_validate({"receiver": {"postmark": RECEIVER["postmark"]}}).receiver
    with TestClient(build_app(only_postmark, build_verifiers(only_postmark, SECRETS), data_dir)) as other:
        assert other.post("/webhooks/brevo", content=b"{}").status_code == 404  # not configured
    assert client.post("/webhooks/nosuch", content=b"{}").status_code == 404
    assert client.get("/webhooks/nosuch").status_code == 404  # whatever the method
    assert client.post("/other", content=b"{}").status_code == 404
    assert client.get("/webhooks/postmark", headers=auth).status_code == 405
    assert client.put("/webhooks/postmark", content=b"{}", headers=auth).status_code == 405
    assert inbox_files(data_dir) == []
    # JSON lines are a delivery too, stored as .jsonl
    lines = b'{"a": 1}\n{"b": 2}\n'
    assert client.post("/webhooks/postmark", content=lines, headers=auth).status_code == 200
    assert [path.suffix for path in inbox_files(data_dir)] == [".jsonl"]


def test_a_failed_write_answers_503_and_leaves_nothing(receiver, monkeypatch) -> None:
    client, data_dir = receiver

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    response = client.post(
        "/webhooks/postmark", content=b'{"RecordType": "Open"}', headers=basic(POSTMARK_AUTH)
    )
    assert response.status_code == 503  # the service retries later
    assert inbox_files(data_dir) == []  # neither a file nor a temp file
    # Mailgun's retry of the same bytes (the same token) is stored once the disk has room again
    mailgun = mailgun_body({"event": "delivered", "timestamp": NOW, "recipient": "a@example.com"}, "retried")
    assert client.post("/webhooks/mailgun", content=mailgun).status_code == 503
    monkeypatch.undo()
    assert client.post("/webhooks/mailgun", content=mailgun).status_code == 200
    assert [path.read_bytes() for path in inbox_files(data_dir)] == [mailgun]


def test_sns_subscription_confirmation_is_recorded_not_stored(receiver) -> None:
    client, data_dir = receiver
    confirmation = next(
        line for line in fixture_lines("amazon_ses/sns.jsonl") if b"SubscriptionConfirmation" in line
    )
    response = client.post(f"/webhooks/ses/{SES_TOKEN}", content=confirmation)
    assert response.status_code == 200
    assert inbox_files(data_dir) == []
    [record] = [
        json.loads(line)
        for line in (data_dir / "receiver" / "sns_subscriptions.jsonl").read_text().splitlines()
    ]
    message = json.loads(confirmation)
    assert record["topic_arn"] == message["TopicArn"] and record["subscribe_url"] == message["SubscribeURL"]
    assert record["type"] == "SubscriptionConfirmation" and set(record) == {
        "received_at",
        "type",
        "topic_arn",
        "subscribe_url",
    }


def test_mandrill_and_mailchimp_forms_are_stored_as_the_json_the_loader_reads(receiver) -> None:
    client, data_dir = receiver
    events = json.loads((SERVICES / "mandrill" / "webhook.json").read_text())["mandrill_events"]
    body, headers = mandrill_post(events)
    assert client.post("/webhooks/mandrill", content=body, headers=headers).status_code == 200
    [stored] = inbox_files(data_dir)
    assert json.loads(stored.read_bytes()) == {"mandrill_events": events}
    assert (
        client.post("/webhooks/mandrill", content=body, headers=mandrill_post(events, "x")[1]).status_code
        == 403
    )
    assert client.post("/webhooks/mandrill", content=body).status_code == 401
    assert client.post("/webhooks/mandrill", content=b"a=%zz&&", headers=headers).status_code == 400
    assert client.head("/webhooks/mandrill").status_code == 200  # Mandrill's check when the webhook is added
    empty, empty_headers = mandrill_post("[]")  # Mandrill's test of the URL
    assert client.post("/webhooks/mandrill", content=empty, headers=empty_headers).status_code == 200
    assert len(inbox_files(data_dir)) == 1

    payload = json.loads(fixture_lines("mailchimp/webhooks.jsonl")[1])
    path = f"/webhooks/mailchimp/{MAILCHIMP_TOKEN}"
    assert client.post(path, content=mailchimp_form(payload)).status_code == 200
    assert json.loads(inbox_files(data_dir)[0].read_bytes()) == payload  # webhook-mailchimp-... sorts first
    assert client.get(path).status_code == 200  # Mailchimp's check when the webhook is added
    assert client.get("/webhooks/mailchimp/wrong").status_code == 403
    assert client.post("/webhooks/mailchimp/wrong", content=mailchimp_form(payload)).status_code == 403
    assert client.post(path, content=b'{"type": "unsubscribe"}').status_code == 400
    assert len(inbox_files(data_dir)) == 2


def test_config_errors_name_the_variable(tmp_path: Path, monkeypatch, capsys) -> None:
    config = ContactsConfig.model_validate({"receiver": RECEIVER}).receiver
    with pytest.raises(ReceiverConfigError, match="TEST_MAILTRAP_SECRET"):
        build_verifiers(
            config, {key: value for key, value in SECRETS.items() if key != "TEST_MAILTRAP_SECRET"}
        )
    with pytest.raises(ReceiverConfigError, match="TEST_SENDGRID_KEY is not the base64 public key"):
        build_verifiers(config, {**SECRETS, "TEST_SENDGRID_KEY": "bm90IGEga2V5"})
    with pytest.raises(ReceiverConfigError, match="TEST_POSTMARK_AUTH must hold user:password"):
        build_verifiers(config, {**SECRETS, "TEST_POSTMARK_AUTH": "nocolon"})
    with pytest.raises(ValueError, match="exactly one of basic_auth_env"):
        ContactsConfig.model_validate({"receiver": {"brevo": {}}})

    from pipelines.cli import main

    (tmp_path / "contacts.yaml").write_text(RECEIVER_YAML)
    monkeypatch.setenv("CONTACTS_CONFIG", str(tmp_path / "contacts.yaml"))
    monkeypatch.setenv("CONTACTS_DATA_DIR", str(tmp_path / "data"))
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TEST_SES_TOKEN")
    assert main(["receive"]) == 2
    assert "receiver.ses.token_env: environment variable TEST_SES_TOKEN is not set" in capsys.readouterr().err
    monkeypatch.setenv("TEST_SES_TOKEN", SES_TOKEN)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        assert main(["receive", "--port", str(taken.getsockname()[1])]) == 2
    assert "cannot serve on 127.0.0.1:" in capsys.readouterr().err
    (tmp_path / "contacts.yaml").write_text("receiver: {}\n")
    assert main(["receive"]) == 2
    assert "no service under `receiver:`" in capsys.readouterr().err


# --- a `contacts receive` process ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_receiver(workspace, port: int) -> subprocess.Popen:
    config = workspace.paths.config_path
    if "receiver:" not in config.read_text():
        config.write_text(config.read_text() + RECEIVER_YAML)
    env = {
        **os.environ,
        **SECRETS,
        "CONTACTS_CONFIG": str(config),
        "CONTACTS_DATA_DIR": str(workspace.paths.data_dir),
    }
    log = open(workspace.paths.data_dir.parent / "receiver.log", "ab")  # a pipe would fill and block it
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "receive", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    log.close()
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            assert process.poll() is None, (workspace.paths.data_dir.parent / "receiver.log").read_text()
            assert time.monotonic() < deadline, "the receiver did not come up"
            time.sleep(0.05)


def delivery(i: int) -> tuple[str, bytes, dict]:
    """Delivery `i`: a SendGrid, Mailgun or Postmark payload with its own address and message id, signed
    for now (the process's clock is the real one)."""
    now = int(time.time())
    occurred = 1_780_000_000 + i  # late May 2026, before the runs' as-of date
    email = f"load-{i}@example.com"
    if i % 3 == 0:
        body = json.dumps(
            [
                {
                    "email": email,
                    "timestamp": occurred,
                    "event": "delivered",
                    "sg_event_id": f"sg-ev-{i}",
                    "sg_message_id": f"msg-{i}",
                }
            ]
        ).encode()
        return "/webhooks/sendgrid", body, {**sendgrid_headers(body, now), "Content-Type": "application/json"}
    if i % 3 == 1:
        data = {
            "event": "delivered",
            "timestamp": occurred,
            "recipient": email,
            "id": f"mg-{i}",
            "message": {"headers": {"message-id": f"msg-{i}"}},
        }
        return (
            "/webhooks/mailgun",
            mailgun_body(data, f"token-{i}-{now}", now),
            {"Content-Type": "application/json"},
        )
    body = json.dumps(
        {
            "RecordType": "Delivery",
            "ServerID": 1,
            "MessageID": f"msg-{i}",
            "Recipient": email,
            "DeliveredAt": f"2026-06-0{1 + i % 9}T10:00:00Z",
        }
    ).encode()
    return "/webhooks/postmark", body, {**basic(POSTMARK_AUTH), "Content-Type": "application/json"}


def send_all(port: int, numbers: list[int], answered: list, stop: threading.Event) -> None:
    """POST each delivery on one kept-alive connection; record (i, body) of every 2xx; stop at the first
    connection error (the receiver was killed) or when `stop` is set."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for i in numbers:
            if stop.is_set():
                return
            path, body, headers = delivery(i)
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                return
            if 200 <= response.status < 300:
                answered.append((i, body))
            else:
                raise AssertionError(f"delivery {i} to {path}: {response.status}")
    finally:
        connection.close()


def load(port: int, total: int, clients: int, stop: threading.Event | None = None) -> list:
    answered: list = []
    stop = stop or threading.Event()
    threads = [
        threading.Thread(target=send_all, args=(port, list(range(k, total, clients)), answered, stop))
        for k in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answered


def test_thousands_of_deliveries_each_one_file_each_event_once(workspace) -> None:
    port = free_port()
    receiver = start_receiver(workspace, port)
    total = 2400
    try:
        started = time.monotonic()
        answered = load(port, total, clients=4)
        elapsed = time.monotonic() - started
    finally:
        receiver.terminate()
        receiver.wait(timeout=30)
    print(f"{total} deliveries in {elapsed:.1f} s: {total / elapsed:.0f} per second")
    assert len(answered) == total
    log = (workspace.paths.data_dir.parent / "receiver.log").read_text()
    assert log.count(": 200 stored webhook-") == total  # a line per delivery, naming the file
    assert "@" not in log and not any(secret in log for secret in SECRETS.values())
    files = discover_files(workspace.paths.event_inbox)
    assert len(files) == total
    stored = {hashlib.sha256(path.read_bytes()).hexdigest() for path in files}
    assert stored == {hashlib.sha256(body).hexdigest() for _, body in answered}

    # The pipeline costs 50-70 ms per file (ledger transaction, validation), so 2,400 files take two
    # minutes to load: every twelfth here, every one with CONTACTS_RECEIVER_LOAD_ALL=1.
    if not os.environ.get("CONTACTS_RECEIVER_LOAD_ALL"):
        aside = workspace.paths.data_dir.parent / "not-loaded"
        aside.mkdir()
        for number, path in enumerate(files):
            if number % 12:  # every twelfth file stays: SendGrid, Mailgun and Postmark alike
                path.rename(aside / path.name)
    loading = len(discover_files(workspace.paths.event_inbox))
    started = time.monotonic()
    workspace.run(only=INGEST_AND_MERGE)
    print(f"ingest of {loading} files: {time.monotonic() - started:.1f} s")
    loaded = workspace.one("select count(*), count(distinct path) from import_files where status = 'loaded'")
    assert loaded == (loading, loading)
    events = workspace.one("select count(*), count(distinct message_id), count(distinct email) from events")
    assert events == (loading, loading, loading)
    assert workspace.one("select count(distinct format) from import_files") == (3,)
    assert workspace.one("select count(*) from rejected_rows") == (0,)


def test_killed_receiver_loses_only_unanswered_deliveries(workspace) -> None:
    port = free_port()
    receiver = start_receiver(workspace, port)
    stop = threading.Event()
    answered: list = []
    sender = threading.Thread(target=lambda: answered.extend(load(port, 100_000, clients=3, stop=stop)))
    sender.start()
    deadline = time.monotonic() + 30
    events = workspace.paths.event_inbox
    while len(discover_files(events)) < 120 and time.monotonic() < deadline:
        time.sleep(0.01)
    receiver.send_signal(signal.SIGKILL)
    receiver.wait(timeout=30)
    sender.join(timeout=60)
    stop.set()
    assert not sender.is_alive()
    assert len(answered) >= 90

    by_digest = {path.name.rsplit("-", 1)[1].split(".")[0]: path for path in discover_files(events)}
    for _, body in answered:  # every answered delivery is there, complete
        assert by_digest[hashlib.sha256(body).hexdigest()[:16]].read_bytes() == body
    for path in discover_files(events):  # and every file is a whole delivery (at most a few unanswered)
        json.loads(path.read_bytes())
    assert len(by_digest) - len(answered) <= 3  # one in flight per client at most
    print(f"killed after {len(answered)} answered deliveries, {len(by_digest)} files")

    # a temp file left by a kill mid-write is never loaded, and the next start removes it
    leftover = events / f".webhook-sendgrid-{receiver.pid}-2-0123456789abcdef.tmp"
    leftover.write_bytes(b'[{"email": "half')
    assert leftover not in discover_files(events)
    workspace.run(only=INGEST_AND_MERGE)
    assert workspace.one("select count(*) from import_files where status <> 'loaded'") == (0,)
    assert workspace.one("select count(*) from import_files") == (len(by_digest),)
    assert workspace.one("select count(*) from events") == (len(by_digest),)
    restarted = start_receiver(workspace, port)
    try:
        assert not leftover.exists()
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)


def test_the_receiver_imports_no_dagster() -> None:
    """`contacts receive` starts without Dagster (about 1.5 s an import) and without the assets."""
    code = "import sys, pipelines.cli, pipelines.receiver; print(sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'assets')))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
