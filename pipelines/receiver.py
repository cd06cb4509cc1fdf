"""`contacts receive`: an HTTP endpoint per sending service that writes each authenticated delivery, as it
was delivered, as one file in `inbox/events/`; the sensor (or the next `contacts run`) loads it like any
event file, recognising the service from the content.

A delivery is answered 2xx only once its file is durable: written to a dotfile in the same folder (the inbox
scan ignores dotfiles), flushed, fsynced, renamed into place and the folder fsynced. A receiver killed at any
point loses only the deliveries it had not answered, which the services send again.

Nothing here logs an address, a body or a secret: a log line names the service, the answer and the reason.
This module imports neither Dagster nor anything from assets/, so the receiver starts in well under a second.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipelines.config import (
    MailgunReceiver,
    MailtrapReceiver,
    MandrillReceiver,
    Receiver,
    SendgridReceiver,
    SharedSecretReceiver,
)

log = logging.getLogger("contacts.receiver")

TEMP_PREFIX = ".webhook-"  # a dotfile: discover_files and the sensor never see it
TEMP_SUFFIX = ".tmp"
SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
MAILTRAP_SIGNATURE = "Mailtrap-Signature"
MANDRILL_SIGNATURE = "X-Mandrill-Signature"
# Services that post forms (application/x-www-form-urlencoded), not JSON: stored as the form's JSON.
FORM_SERVICES = ("mandrill", "mailchimp")
SNS_CONFIRMATIONS = ("SubscriptionConfirmation", "UnsubscribeConfirmation")


class ReceiverConfigError(ValueError):
    """A configured service whose secret cannot be used (unset variable, unreadable key)."""


class Refused(Exception):
    """A delivery not accepted: the HTTP status and a reason for the log (never a value from the body)."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


def _secret(environ: Mapping[str, str], service: str, key: str, variable: str) -> str:
    value = environ.get(variable, "")
    if not value:
        raise ReceiverConfigError(
            f"receiver.{service}.{key}: environment variable {variable} is not set (it holds the secret)"
        )
    return value


def _now() -> float:
    return time.time()


def _check_age(timestamp: str | None, max_age: int, now: float) -> None:
    try:
        moment = float(timestamp or "")
    except ValueError:
        raise Refused(403, "timestamp is not a number") from None
    if abs(now - moment) > max_age:
        raise Refused(403, f"timestamp more than {max_age} s from now (a replay, or a clock off)")


@dataclass
class Parsed:
    """A delivery's body: the bytes to store (as delivered; a form as its JSON), their JSON values (one, or
    one a line), the suffix, and a form's fields in their order (Mandrill's signature covers them)."""

    body: bytes
    values: list[Any]
    suffix: str
    fields: list[tuple[str, str]] | None = None


class Verifier:
    """How one service proves a delivery is its own. `before_body` runs on the headers (and the path token)
    before the body is read; `after_body` on the body and its parsed JSON."""

    def before_body(self, request: Request, token: str | None) -> None:
        if token is not None:
            raise Refused(404, "no such path")

    def after_body(self, request: Request, parsed: Parsed) -> None:
        return None

    def not_stored(self, parsed: Parsed) -> None:
        """The delivery passed but its file could not be written: forget what `after_body` remembered."""
        return None


@dataclass
class SendgridVerifier(Verifier):
    public_key: ec.EllipticCurvePublicKey
    max_age: int
    clock: Callable[[], float] = _now

    def before_body(self, request: Request, token: str | None) -> None:
        super().before_body(request, token)
        if not request.headers.get(SENDGRID_SIGNATURE) or not request.headers.get(SENDGRID_TIMESTAMP):
            raise Refused(401, f"no {SENDGRID_SIGNATURE} or {SENDGRID_TIMESTAMP} header")

    def after_body(self, request: Request, parsed: Parsed) -> None:
        timestamp = request.headers[SENDGRID_TIMESTAMP]
        try:
            signature = base64.b64decode(request.headers[SENDGRID_SIGNATURE], validate=True)
            self.public_key.verify(signature, timestamp.encode() + parsed.body, ec.ECDSA(hashes.SHA256()))
        except (binascii.Error, ValueError, InvalidSignature):
            raise Refused(403, "signature does not verify with the configured public key") from None
        _check_age(timestamp, self.max_age, self.clock())


@dataclass
class MailgunVerifier(Verifier):
    """The signature covers the timestamp and token, not the event, so a token is accepted once: the same
    token again within the window is a replay (unless the body is the one already stored, which is a
    redelivery of it and is answered 200 without a second file). The tokens are kept in memory for the
    window (a restart forgets them; the timestamp check still bounds a replay to `max_age_seconds`)."""

    key: bytes
    max_age: int
    clock: Callable[[], float] = _now
    seen: dict[str, tuple[float, str]] = field(default_factory=dict)  # token -> (expires, body sha256)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def after_body(self, request: Request, parsed: Parsed) -> None:
        values = parsed.values
        signature = values[0].get("signature") if len(values) == 1 and isinstance(values[0], dict) else None
        if not isinstance(signature, dict):
            raise Refused(401, "no signature object in the body")
        timestamp, token, given = (str(signature.get(key, "")) for key in ("timestamp", "token", "signature"))
        if not (timestamp and token and given):
            raise Refused(401, "the signature object lacks timestamp, token or signature")
        expected = hmac.new(self.key, (timestamp + token).encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, given.lower()):
            raise Refused(403, "signature does not match the signing key")
        now = self.clock()
        _check_age(timestamp, self.max_age, now)
        digest = hashlib.sha256(parsed.body).hexdigest()
        with self.lock:
            # insertion order is expiry order (now + a constant): drop expired tokens from the front
            while self.seen and self.seen[oldest := next(iter(self.seen))][0] < now:
                del self.seen[oldest]
            before = self.seen.get(token)
            if before is not None:
                if before[1] == digest:
                    raise Refused(200, "a redelivery of a stored body (same token, same bytes): kept once")
                raise Refused(403, "token already used with another body (a replay)")
            self.seen[token] = (now + 2 * self.max_age, digest)

    def not_stored(self, parsed: Parsed) -> None:
        # so that Mailgun's retry of the same bytes is stored, not answered as a redelivery of nothing
        signature = parsed.values[0].get("signature") if isinstance(parsed.values[0], dict) else None
        token = str(signature.get("token", "")) if isinstance(signature, dict) else ""
        with self.lock:
            if self.seen.get(token, (0, ""))[1] == hashlib.sha256(parsed.body).hexdigest():
                del self.seen[token]


@dataclass
class MailtrapVerifier(Verifier):
    secret: bytes

    def before_body(self, request: Request, token: str | None) -> None:
        super().before_body(request, token)
        if not request.headers.get(MAILTRAP_SIGNATURE):
            raise Refused(401, f"no {MAILTRAP_SIGNATURE} header")

    def after_body(self, request: Request, parsed: Parsed) -> None:
        expected = hmac.new(self.secret, parsed.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers[MAILTRAP_SIGNATURE].strip().lower()):
            raise Refused(403, "signature does not match the signing secret")


@dataclass
class MandrillVerifier(Verifier):
    """Base64 HMAC-SHA1, with the webhook key, of the webhook URL followed by each POST field's name and value
    in name order (Mandrill's "Authenticating webhook requests")."""

    key: bytes
    url: str

    def before_body(self, request: Request, token: str | None) -> None:
        super().before_body(request, token)
        if request.method == "POST" and not request.headers.get(MANDRILL_SIGNATURE):
            raise Refused(401, f"no {MANDRILL_SIGNATURE} header")

    def after_body(self, request: Request, parsed: Parsed) -> None:
        signed = self.url + "".join(name + value for name, value in sorted(parsed.fields or []))
        expected = base64.b64encode(hmac.new(self.key, signed.encode(), hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(expected, request.headers[MANDRILL_SIGNATURE].strip()):
            raise Refused(403, "signature does not match the webhook key and URL")


@dataclass
class SharedSecretVerifier(Verifier):
    """Basic auth (`user:password`), or a token as `Authorization: Bearer` or the path's last part."""

    basic: bytes | None = None
    token: bytes | None = None

    def before_body(self, request: Request, token: str | None) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if self.basic is not None:
            if token is not None:
                raise Refused(404, "no such path")
            challenge = {"WWW-Authenticate": 'Basic realm="contacts receiver"'}
            if scheme.lower() != "basic" or not credentials:
                # SNS and some HTTP clients send credentials only after this challenge
                raise Refused(401, "no basic auth credentials", challenge)
            try:
                given = base64.b64decode(credentials.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise Refused(401, "basic auth credentials are not base64", challenge) from None
            if not hmac.compare_digest(given, self.basic):
                raise Refused(403, "wrong basic auth credentials")
            return
        assert self.token is not None
        if token is None and scheme.lower() == "bearer" and credentials:
            token = credentials.strip()
        if token is None:
            raise Refused(401, "no token (path or bearer)")
        if not hmac.compare_digest(token.encode(), self.token):
            raise Refused(403, "wrong token")


def build_verifiers(
    receiver: Receiver, environ: Mapping[str, str], clock: Callable[[], float] = _now
) -> dict[str, Verifier]:
    """A verifier per configured service, with its secret from the environment; an unset variable or a
    key that cannot be read raises ReceiverConfigError naming the variable."""
    verifiers: dict[str, Verifier] = {}
    for name, spec in receiver.services.items():
        if isinstance(spec, SendgridReceiver):
            value = _secret(environ, name, "public_key_env", spec.public_key_env)
            try:
                key = serialization.load_der_public_key(base64.b64decode(value.strip(), validate=True))
            except (binascii.Error, ValueError):
                key = None
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise ReceiverConfigError(
                    f"receiver.sendgrid.public_key_env: {spec.public_key_env} is not the base64 public key "
                    "(an EC key in DER) that the SendGrid UI shows"
                )
            verifiers[name] = SendgridVerifier(key, receiver.max_age_seconds, clock)
        elif isinstance(spec, MailgunReceiver):
            value = _secret(environ, name, "signing_key_env", spec.signing_key_env)
            verifiers[name] = MailgunVerifier(value.encode(), receiver.max_age_seconds, clock)
        elif isinstance(spec, MailtrapReceiver):
            value = _secret(environ, name, "signing_secret_env", spec.signing_secret_env)
            verifiers[name] = MailtrapVerifier(value.encode())
        elif isinstance(spec, MandrillReceiver):
            value = _secret(environ, name, "webhook_key_env", spec.webhook_key_env)
            verifiers[name] = MandrillVerifier(value.encode(), spec.url)
        elif isinstance(spec, SharedSecretReceiver):
            if spec.basic_auth_env is not None:
                value = _secret(environ, name, "basic_auth_env", spec.basic_auth_env)
                if ":" not in value:
                    raise ReceiverConfigError(
                        f"receiver.{name}.basic_auth_env: {spec.basic_auth_env} must hold user:password"
                    )
                verifiers[name] = SharedSecretVerifier(basic=value.encode())
            else:
                assert spec.token_env is not None
                value = _secret(environ, name, "token_env", spec.token_env)
                verifiers[name] = SharedSecretVerifier(token=value.encode())
    return verifiers


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to pass `limit` (from Content-Length, or while
    streaming a chunked body): never more than `limit` bytes are held."""
    declared = request.headers.get("Content-Length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise Refused(413, f"Content-Length {declared} is over receiver.max_body_size ({limit})")
        except ValueError:
            raise Refused(400, "Content-Length is not a number") from None
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refused(413, f"body over receiver.max_body_size ({limit})")
            chunks.append(chunk)
    except ClientDisconnect:
        raise Refused(400, "the client went away before the body ended") from None
    return b"".join(chunks)


def parse_body(body: bytes) -> Parsed:
    """One JSON object or array (`.json`), or JSON lines (`.jsonl`) of objects or arrays; else 400."""
    if not body.strip():
        raise Refused(400, "empty body")
    try:
        value = json.loads(body)
        values, suffix = [value], ".json"
    except (ValueError, UnicodeDecodeError):
        try:
            values = [json.loads(line) for line in body.splitlines() if line.strip()]
        except (ValueError, UnicodeDecodeError):
            raise Refused(400, "body is neither JSON nor JSON lines") from None
        suffix = ".jsonl"
    if not all(isinstance(value, (dict, list)) for value in values):
        raise Refused(400, "body is JSON but not an object or array")
    return Parsed(body, values, suffix)


def _nest(target: dict, name: str, value: str) -> None:
    """`data[merges][FNAME]=x` -> target["data"]["merges"]["FNAME"] = "x", as PHP's $_POST or qs read it."""
    head, _, rest = name.partition("[")
    keys = [head] + [part.rstrip("]") for part in rest.split("[")] if rest else [head]
    for key in keys[:-1]:
        child = target.get(key)
        if not isinstance(child, dict):
            child = target[key] = {}
        target = child
    target[keys[-1]] = value


def parse_form(service: str, body: bytes) -> Parsed:
    """A form post as JSON the loader reads: Mandrill's `{"mandrill_events": "[...]"}` (the events stay the
    text Mandrill sent), Mailchimp's fields nested by their brackets (every value a string); else 400."""
    try:
        fields = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "body is not a form (application/x-www-form-urlencoded)") from None
    if service == "mandrill":
        events = dict(fields).get("mandrill_events")
        try:
            batch = json.loads(events) if events is not None else None
        except ValueError:
            batch = None
        if not isinstance(batch, list):
            raise Refused(400, "no mandrill_events field holding a JSON array")
        value: dict[str, Any] = {"mandrill_events": events}
    else:
        value = {}
        for name, text in fields:
            _nest(value, name, text)
        if not isinstance(value.get("type"), str) or not isinstance(value.get("data"), dict):
            raise Refused(400, "no type and data[...] fields in the form")
    stored = json.dumps(value, ensure_ascii=False).encode()
    return Parsed(stored, [value], ".json", fields)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store(inbox: Path, service: str, body: bytes, suffix: str, now: dt.datetime | None = None) -> Path:
    """Write one delivery as `webhook-<service>-<UTC time>-<sha256[:16]><suffix>`, atomically and durably."""
    now = now or dt.datetime.now(dt.UTC)
    digest = hashlib.sha256(body).hexdigest()[:16]
    name = f"webhook-{service}-{now:%Y%m%dT%H%M%S.%f}Z-{digest}{suffix}"
    target = inbox / name
    temp = inbox / f"{TEMP_PREFIX}{service}-{os.getpid()}-{threading.get_ident()}-{digest}{TEMP_SUFFIX}"
    try:
        with open(temp, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)  # a full disk, say: no half-written temp file is left behind
        raise
    _fsync_dir(inbox)
    return target


def record_sns_confirmation(path: Path, message: Mapping[str, Any]) -> None:
    """Append an SNS (un)subscription confirmation: its type, topic, time and URL (no address is in it)."""
    record = {
        "received_at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        "type": message.get("Type"),
        "topic_arn": message.get("TopicArn"),
        "subscribe_url": message.get("SubscribeURL"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _sns_confirmation(parsed: Parsed) -> Mapping[str, Any] | None:
    if len(parsed.values) != 1 or not isinstance(parsed.values[0], dict):
        return None
    message = parsed.values[0]
    if message.get("Type") in SNS_CONFIRMATIONS and "TopicArn" in message:
        return message
    return None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def remove_leftover_temp_files(inbox: Path) -> int:
    """Temp files of a receiver that died mid-write (they are never loaded: dotfiles), removed at start; a
    temp file of a receiver still running on the same inbox (its pid is in the name) is left to it."""
    removed = 0
    for path in inbox.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        parts = path.name.removeprefix(TEMP_PREFIX).split("-")
        pid = int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None
        if pid is not None and pid != os.getpid() and _process_alive(pid):
            continue
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def build_app(receiver: Receiver, verifiers: Mapping[str, Verifier], data_dir: Path) -> Starlette:
    inbox = data_dir / "inbox" / "events"
    inbox.mkdir(parents=True, exist_ok=True)
    sns_log = data_dir / "receiver" / "sns_subscriptions.jsonl"
    limit = int(receiver.max_body_size)

    async def receive(request: Request) -> Response:
        service = request.path_params["service"]
        token = request.path_params.get("token")
        verifier = verifiers.get(service)
        try:
            if verifier is None:
                raise Refused(404, "no such service configured")
            verifier.before_body(request, token)
            body = await read_body(request, limit)
            parsed = parse_form(service, body) if service in FORM_SERVICES else parse_body(body)
            verifier.after_body(request, parsed)
            if service == "mandrill" and not json.loads(parsed.values[0]["mandrill_events"]):
                raise Refused(200, "an empty batch: nothing to store")
            confirmation = _sns_confirmation(parsed) if service == "ses" else None
            if confirmation is not None:
                await run_in_threadpool(record_sns_confirmation, sns_log, confirmation)
                log.warning(
                    "ses: SNS %s for topic %s recorded in %s; to confirm, open its SubscribeURL "
                    "(the receiver makes no outbound requests)",
                    confirmation["Type"],
                    confirmation.get("TopicArn"),
                    sns_log,
                )
                return JSONResponse({"status": "recorded"})
            try:
                path = await run_in_threadpool(store, inbox, service, parsed.body, parsed.suffix)
            except OSError as exc:  # a full disk, say: the service retries later
                verifier.not_stored(parsed)
                raise Refused(503, f"cannot write to {inbox}: {exc.strerror}") from None
        except Refused as refused:
            level = logging.INFO if refused.status < 400 else logging.WARNING
            # a name from the path is logged only when it is a configured service's (no injected text)
            log.log(level, "%s: %d %s", service if verifier else "?", refused.status, refused.reason)
            status = "accepted" if refused.status < 400 else "refused"
            return JSONResponse({"status": status}, status_code=refused.status, headers=refused.headers)
        log.info("%s: 200 stored %s (%d bytes)", service, path.name, len(parsed.body))
        return JSONResponse({"status": "stored"})

    async def probe(request: Request) -> Response:
        """Mandrill (HEAD) and Mailchimp (GET) check that the URL answers when the webhook is added."""
        service = request.path_params["service"]
        verifier = verifiers.get(service)
        try:
            if verifier is None:  # not a configured service: not a webhook path, whatever the method
                raise Refused(404, "not a configured service")
            if service not in FORM_SERVICES:
                raise Refused(405, f"{request.method} (only POST)", {"Allow": "POST"})
            verifier.before_body(request, request.path_params.get("token"))
        except Refused as refused:
            log.warning("%s: %d %s", service if verifier else "?", refused.status, refused.reason)
            return JSONResponse({"status": "refused"}, status_code=refused.status, headers=refused.headers)
        log.info("%s: 200 %s (the service checking the URL)", service, request.method)
        return JSONResponse({"status": "ready"})

    async def not_found(request: Request, exc: Exception) -> Response:
        log.warning("404 %s", "not a webhook path")
        return JSONResponse({"status": "not found"}, status_code=404)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        log.warning("405 %s", request.method)
        return JSONResponse({"status": "method not allowed"}, status_code=405, headers={"Allow": "POST"})

    routes = [
        Route("/webhooks/{service}", receive, methods=["POST"]),
        Route("/webhooks/{service}/{token}", receive, methods=["POST"]),
        Route("/webhooks/{service}", probe, methods=["GET", "HEAD"]),
        Route("/webhooks/{service}/{token}", probe, methods=["GET", "HEAD"]),
    ]
    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})


def serve(
    receiver: Receiver, verifiers: Mapping[str, Verifier], data_dir: Path, host: str, port: int
) -> None:
    import uvicorn

    inbox = data_dir / "inbox" / "events"
    inbox.mkdir(parents=True, exist_ok=True)
    removed = remove_leftover_temp_files(inbox)
    if removed:
        log.warning("removed %d temp file(s) left by a receiver that stopped mid-write", removed)
    app = build_app(receiver, verifiers, data_dir)
    log.warning(
        "receiving %s at http://%s:%d/webhooks/<service> into %s",
        ", ".join(sorted(verifiers)),
        host,
        port,
        inbox,
    )
    # Bound here, so that a port in use is an OSError for the CLI to report (uvicorn would exit on its own).
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # No access log: a path token would be in it. The receiver logs each request itself, without secrets.
    config = uvicorn.Config(app, access_log=False, log_level="warning", lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
