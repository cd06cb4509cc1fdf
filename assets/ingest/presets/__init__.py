"""Presets for the contact exports people bring from other tools: one module each, exposing `PRESET`."""

from __future__ import annotations

from functools import cache

from assets.ingest.presets.base import Preset
from assets.ingest.registry import by_name

PRESET_MODULES = (
    "mailchimp",
    "listmonk",
    "mautic",
    "keila",
    "phplist",
    "mailpoet",
    "ghost",
    "substack",
    "beehiiv",
    "hubspot",
    "brevo",
    "klaviyo",
    "mailtrap",
)


@cache
def presets() -> dict[str, Preset]:
    """Every preset by its `preset:` name."""
    return by_name(__name__, PRESET_MODULES, "PRESET")
