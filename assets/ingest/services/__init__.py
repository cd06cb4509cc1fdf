"""The sending services whose event payloads load as delivered: one module each, exposing `SERVICE`."""

from __future__ import annotations

from functools import cache

from assets.ingest.registry import by_name
from assets.ingest.services.base import Service

# The order recognition tries them in; each recogniser is specific enough that at most one claims a record
# (tests/test_service_payloads.py checks every fixture against every service).
SERVICE_MODULES = (
    "sendgrid",
    "amazon_ses",
    "mailgun",
    "postmark",
    "mailtrap",
    "brevo",
    "sparkpost",
    "mandrill",
    "mailchimp",
    "listmonk",
)


@cache
def services() -> dict[str, Service]:
    """Every service by its `format:` name, in recognition order."""
    return by_name(__name__, SERVICE_MODULES, "SERVICE")
