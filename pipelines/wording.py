"""Counts in words for messages people read: `1 row`, `2 rows`, `1 address`."""

from __future__ import annotations

IRREGULAR = {"address": "addresses", "was": "were", "copy": "copies"}


def counted(number: int, singular: str) -> str:
    plural = IRREGULAR.get(singular, singular + "s")
    return f"{number} {singular if number == 1 else plural}"
