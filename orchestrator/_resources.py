"""Locate the declarative files (policies/, skills/, graphs/) the package ships.

A wheel carries them under ``orchestrator/_data``; an editable checkout reads them from the
repository root, so edits to ``policies/`` take effect without reinstalling.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["data_path"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_path(*parts: str) -> Path:
    """Return the path of a shipped data file, e.g. ``data_path("policies", "default.yaml")``."""
    for root in (_PACKAGE_DIR / "_data", _PACKAGE_DIR.parent):
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    return _PACKAGE_DIR.parent.joinpath(*parts)
