"""Sidecar manifests (`<stem>.yaml` beside a contact file): what a file is for and whether it may load."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from pipelines.config import (
    ConfigError,
    ContactsConfig,
    _Strict,
    describe_validation_error,
    read_yaml_mapping,
)

Mode = Literal["subscribe", "unsubscribe", "suppress"]


class Manifest(_Strict):
    lists: list[str] = Field(default_factory=list)
    consent: Literal["confirmed"] | None = None
    mode: Mode = "subscribe"
    source: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)


def manifest_path_for(data_file: Path) -> Path:
    """`x.yaml` for `x.csv`, and also for `x.csv.gz`."""
    name = data_file.name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    stem = name.rsplit(".", 1)[0]
    return data_file.with_name(stem + ".yaml")


def parse_manifest(path: Path, config: ContactsConfig, known_fields: set[str]) -> Manifest:
    """Validate a manifest against the config: unknown lists and unknown target fields are errors."""
    raw = read_yaml_mapping(path)
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(path.name, exc, Manifest)) from None
    unknown_lists = [name for name in manifest.lists if name not in config.lists]
    if unknown_lists:
        raise ConfigError(
            f"{path.name}: key 'lists': unknown list {unknown_lists[0]!r}; "
            f"lists must be declared in contacts.yaml (known: {', '.join(sorted(config.lists)) or 'none'})"
        )
    for header, target in manifest.columns.items():
        if target not in known_fields:
            raise ConfigError(
                f"{path.name}: key 'columns.{header}': maps to unknown field {target!r} "
                f"(known: {', '.join(sorted(known_fields))})"
            )
    return manifest


def hold_reason(manifest: Manifest | None, manifest_name: str) -> str | None:
    """Why a contact file must wait for its owner, or None when it may load."""
    if manifest is None:
        return f"no manifest: add {manifest_name} beside the file (see README, 'Sidecar manifest')"
    if manifest.mode == "subscribe" and manifest.consent != "confirmed":
        return "mode subscribe needs `consent: confirmed` in the manifest"
    return None
