"""Import a package's public names on first use.

Routing pulls in torch and faiss, planning the router's text processing, MCP its SDK: their
packages name what they export and where it lives, and load it only when asked, so
``import orchestrator`` and ``orchestrator --help`` stay fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``where[name]`` is the module holding ``name``
    (relative, like ``"_router"``, or absolute); each name is imported once, then cached."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        target = f"{package}.{module}" if module.startswith("_") else module
        value = getattr(importlib.import_module(target), name)
        setattr(importlib.import_module(package), name, value)
        return value

    return __getattr__
