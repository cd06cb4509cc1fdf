"""The sending services whose event payloads load as delivered: one module each, exposing `SERVICE`."""

from __future__ import annotations

import importlib
from functools import cache

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
    found = {}
    for module in SERVICE_MODULES:
        service = importlib.import_module(f"assets.ingest.services.{module}").SERVICE
        found[service.name] = service
    return found
