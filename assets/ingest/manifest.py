"""Sidecar manifests (`<stem>.yaml` beside an inbox file): what a contact file is for and whether it may
load, how another tool's contact export (a preset, status words and flags) or event log (columns, event names,
time format, a sending service's format) reads."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from assets.ingest.presets import presets
from assets.ingest.services import services
from pipelines.config import (
    ConfigError,
    ContactsConfig,
    _Strict,
    describe_validation_error,
    read_yaml_mapping,
    timezone_problem,
)
from pipelines.vocabulary import EVENT_HEADERS, EVENTS, STATUSES

Mode = Literal["subscribe", "unsubscribe", "suppress"]
# time_format: one of these words, or a strftime layout (it holds a `%`)
TIME_WORDS = ("epoch_s", "epoch_ms", "iso")


class Manifest(_Strict):
    """A contact file's manifest."""

    lists: list[str] = Field(default_factory=list)
    consent: Literal["confirmed"] | None = None
    mode: Mode = "subscribe"
    source: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    preset: str | None = None
    status_values: dict[str, str] = Field(default_factory=dict)
    status_flags: dict[str, str] = Field(default_factory=dict)
    status_if_filled: dict[str, str] = Field(default_factory=dict)
    tag_separator: str | None = None
    time_format: str | None = None
    timezone: str | None = None  # the zone of the file's naive times (default: contacts.yaml's timezone)


class EventManifest(_Strict):
    """An event file's manifest (optional): a sending service forced, or another tool's log mapped."""

    format: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    events: dict[str, str] = Field(default_factory=dict)
    time_format: str | None = None
    timezone: str | None = None


def manifest_path_for(data_file: Path) -> Path:
    """`x.yaml` for `x.csv`, and also for `x.csv.gz`."""
    name = data_file.name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    stem = name.rsplit(".", 1)[0]
    return data_file.with_name(stem + ".yaml")


def _validated(path: Path, model):
    raw = read_yaml_mapping(path)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(path.name, exc, model)) from None


def _check_targets(name: str, key: str, mapping: dict[str, str], allowed, what: str) -> None:
    for source, target in mapping.items():
        if target not in allowed:
            raise ConfigError(
                f"{name}: key '{key}.{source}': maps to unknown {what} {target!r} "
                f"(known: {', '.join(sorted(allowed))})"
            )


def _check_time_format(name: str, value: str | None) -> None:
    if value is not None and value not in TIME_WORDS and "%" not in value:
        raise ConfigError(
            f"{name}: key 'time_format': {value!r} is neither {', '.join(TIME_WORDS)} nor a strftime "
            "layout such as '%d/%m/%Y %H:%M'"
        )


def _check_timezone(name: str, value: str | None) -> None:
    problem = timezone_problem(value) if value is not None else None
    if problem:
        raise ConfigError(f"{name}: key 'timezone': {problem}")


def parse_manifest(path: Path, config: ContactsConfig, known_fields: set[str]) -> Manifest:
    """Validate a contact manifest against the config: unknown lists, fields, statuses and presets are errors."""
    manifest = _validated(path, Manifest)
    unknown_lists = [name for name in manifest.lists if name not in config.lists]
    if unknown_lists:
        raise ConfigError(
            f"{path.name}: key 'lists': unknown list {unknown_lists[0]!r}; "
            f"lists must be declared in contacts.yaml (known: {', '.join(sorted(config.lists)) or 'none'})"
        )
    _check_targets(path.name, "columns", manifest.columns, known_fields, "field")
    for key in ("status_values", "status_flags", "status_if_filled"):
        _check_targets(path.name, key, getattr(manifest, key), STATUSES, "status")
    if manifest.preset is not None and manifest.preset not in presets():
        raise ConfigError(
            f"{path.name}: key 'preset': unknown preset {manifest.preset!r} (known: {', '.join(presets())})"
        )
    if manifest.tag_separator == "":
        raise ConfigError(f"{path.name}: key 'tag_separator': must not be empty")
    _check_time_format(path.name, manifest.time_format)
    _check_timezone(path.name, manifest.timezone)
    return manifest


def parse_event_manifest(path: Path) -> EventManifest:
    """Validate an event file's manifest: a known service, known event fields and event names."""
    manifest = _validated(path, EventManifest)
    if manifest.format is not None and manifest.format not in services():
        raise ConfigError(
            f"{path.name}: key 'format': unknown sending service {manifest.format!r} "
            f"(known: {', '.join(services())})"
        )
    _check_targets(path.name, "columns", manifest.columns, set(EVENT_HEADERS), "event field")
    _check_targets(path.name, "events", manifest.events, EVENTS, "event")
    _check_time_format(path.name, manifest.time_format)
    _check_timezone(path.name, manifest.timezone)
    return manifest


def hold_reason(manifest: Manifest | None, manifest_name: str) -> str | None:
    """Why a contact file must wait for its owner, or None when it may load."""
    if manifest is None:
        return f"no manifest: add {manifest_name} beside the file (see README, 'Sidecar manifest')"
    if manifest.mode == "subscribe" and manifest.consent != "confirmed":
        return "mode subscribe needs `consent: confirmed` in the manifest"
    return None
