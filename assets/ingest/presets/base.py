"""What a preset states about another tool's contact export: how its headers, status words and flags,
tags and dates map to ours. One module per tool in this package, each exposing `PRESET`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Preset:
    name: str  # the manifest's `preset:` value, e.g. "mailchimp"
    title: str  # e.g. "Mailchimp audience export"
    # Headers (compared case- and space-insensitively) that all appear in this tool's export and, together,
    # in no other preset's: the file is recognised as this tool's without `preset:`. Empty: never recognised.
    signature: tuple[str, ...]
    # their header -> our field (email, first_name, last_name, tags, status, created_at, or a custom field)
    columns: dict[str, str] = field(default_factory=dict)
    # their status word (case-insensitive) -> ours (subscribed, unconfirmed, unsubscribed, bounced, complained)
    status_values: dict[str, str] = field(default_factory=dict)
    # a boolean column (true/yes/1/on) whose true value means a status
    status_flags: dict[str, str] = field(default_factory=dict)
    # a column whose any non-empty value means a status (Mailchimp's CLEAN_TIME: the address was cleaned)
    status_if_filled: dict[str, str] = field(default_factory=dict)
    tag_separator: str = ","
    # strftime layout of created_at when it is not ISO 8601 (e.g. "%Y-%m-%d %H:%M:%S %Z")
    time_format: str | None = None
    # the zone of the export's naive times, when the tool writes them in one (Mailchimp: UTC); None: the
    # configured timezone
    timezone: str | None = None
