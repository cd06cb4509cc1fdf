"""Map a file's header cells to contact fields: manifest `columns` first, then names and aliases."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.vocabulary import CONTACT_HEADERS

BUILTIN_FIELDS = tuple(CONTACT_HEADERS)


def normalise_header(cell: str) -> str:
    """Case- and space-insensitive form: `  E-Mail   Address ` -> `e-mail address`."""
    return re.sub(r"\s+", " ", cell.replace("\ufeff", "")).strip().lower()


@dataclass(frozen=True)
class HeaderMapping:
    field_to_index: dict[str, int]
    ignored: list[str]  # header cells not used, with why when it is not obvious


def contact_aliases(custom_fields: list[str]) -> dict[str, tuple[str, ...]]:
    """Built-in contact fields with their aliases, then each custom field by its own name."""
    return CONTACT_HEADERS | {name: (name,) for name in custom_fields if name not in CONTACT_HEADERS}


def map_header(
    header: list[str], field_aliases: dict[str, tuple[str, ...]], manifest_columns: dict[str, str]
) -> HeaderMapping:
    aliases: dict[str, str] = {}
    for field_name, names in field_aliases.items():
        for name in names:
            aliases.setdefault(normalise_header(name), field_name)
    explicit = {normalise_header(source): target for source, target in manifest_columns.items()}

    field_to_index: dict[str, int] = {}
    ignored: list[str] = []
    # Two passes so that an explicit mapping wins over an alias wherever the columns sit.
    for use_explicit in (True, False):
        for index, cell in enumerate(header):
            key = normalise_header(cell)
            target = explicit.get(key) if use_explicit else (None if key in explicit else aliases.get(key))
            if target is None:
                continue
            if target in field_to_index:
                if field_to_index[target] != index:
                    ignored.append(f"{cell} (duplicate of column {field_to_index[target] + 1} for {target})")
                continue
            field_to_index[target] = index
    used = set(field_to_index.values())
    for index, cell in enumerate(header):
        if index in used or any(entry.startswith(f"{cell} (duplicate") for entry in ignored):
            continue
        ignored.append(cell if cell.strip() else f"(blank header, column {index + 1})")
    return HeaderMapping(field_to_index, ignored)
