"""How a contact file reads: its manifest's keys over the preset of the tool that exported it (named with
`preset:`, or recognised from the header when exactly one preset's signature matches)."""

from __future__ import annotations

from dataclasses import dataclass, field

from assets.ingest.headers import normalise_header
from assets.ingest.manifest import Manifest
from assets.ingest.parsed_file import FileFailed
from assets.ingest.presets import presets
from assets.ingest.presets.base import Preset


@dataclass(frozen=True)
class ContactReading:
    columns: dict[str, str] = field(default_factory=dict)  # header -> field, for map_header
    status_values: dict[str, str] = field(default_factory=dict)
    status_flags: dict[int, tuple[str, str]] = field(default_factory=dict)  # column index -> (header, status)
    status_if_filled: dict[int, tuple[str, str]] = field(default_factory=dict)
    tag_separator: str = ","
    time_format: str | None = None
    timezone: str | None = None  # of the file's naive times; None: the configured timezone
    preset: str | None = None
    recognised: bool = False  # the preset was recognised from the header, not named

    @property
    def format(self) -> str | None:
        """What the ledger records of it."""
        if self.preset is None:
            return None
        return f"preset {self.preset}" + (" (recognised from the header)" if self.recognised else "")


def recognised_preset(header: list[str]) -> Preset | None:
    """The one preset whose signature the header holds; None when none does, or more than one."""
    cells = {normalise_header(cell) for cell in header}
    matches = [
        preset
        for preset in presets().values()
        if preset.signature and all(normalise_header(name) in cells for name in preset.signature)
    ]
    return matches[0] if len(matches) == 1 else None


def _indexed(
    header: list[str], wanted: dict[str, str], key: str, required: bool
) -> dict[int, tuple[str, str]]:
    """`{column index: (header, status)}` for the named columns; a column the manifest names must exist."""
    positions = {normalise_header(cell): index for index, cell in enumerate(header)}
    indexed = {}
    for name, status in wanted.items():
        index = positions.get(normalise_header(name))
        if index is None:
            if required:
                raise FileFailed(
                    f"the manifest's `{key}` names column {name!r}, which the file does not have "
                    f"(headers: {', '.join(repr(cell) for cell in header)})"
                )
            continue
        indexed[index] = (name, status)
    return indexed


def contact_reading(header: list[str], manifest: Manifest | None) -> ContactReading:
    manifest = manifest or Manifest()
    preset = presets()[manifest.preset] if manifest.preset else recognised_preset(header)
    base = preset or Preset(name="", title="", signature=())
    flags = _indexed(header, base.status_flags, "status_flags", False) | _indexed(
        header, manifest.status_flags, "status_flags", True
    )
    filled = _indexed(header, base.status_if_filled, "status_if_filled", False) | _indexed(
        header, manifest.status_if_filled, "status_if_filled", True
    )
    return ContactReading(
        columns=base.columns | manifest.columns,
        status_values=base.status_values | manifest.status_values,
        status_flags=flags,
        status_if_filled=filled,
        tag_separator=manifest.tag_separator or base.tag_separator,
        time_format=manifest.time_format or base.time_format,
        timezone=manifest.timezone or base.timezone,
        preset=preset.name if preset else None,
        recognised=preset is not None and manifest.preset is None,
    )
