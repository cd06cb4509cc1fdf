"""Packages of one module per thing (a sending service, a tool's export preset), each exposing one object."""

from __future__ import annotations

import importlib
from typing import Any


def by_name(package: str, modules: tuple[str, ...], attribute: str) -> dict[str, Any]:
    """`{object.name: object}` of `package.<module>.<attribute>` for each module, in the modules' order."""
    found = {}
    for module in modules:
        thing = getattr(importlib.import_module(f"{package}.{module}"), attribute)
        found[thing.name] = thing
    return found
