"""Presets for the contact exports people bring from other tools: one module each, exposing `PRESET`."""

from __future__ import annotations

import importlib
from functools import cache

from assets.ingest.presets.base import Preset

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
    found = {}
    for module in PRESET_MODULES:
        preset = importlib.import_module(f"assets.ingest.presets.{module}").PRESET
        found[preset.name] = preset
    return found
