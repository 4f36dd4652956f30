"""Read the declarative files (policies, graphs, scenarios) with errors that name the file.

One reader, so every kind of file fails the same way: the path, what it was meant to be, and
what went wrong, raised as the caller's own error class.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import OrchestratorError

__all__ = ["read_document"]


def read_document(path: Path, error: type[OrchestratorError], what: str) -> Any:
    """Parse ``path`` as JSON (``.json``) or YAML (anything else); ``what`` names the file's
    role in messages ("policy file", "scenario", ...). An empty YAML file reads as ``None``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror})") from exc
    is_json = path.suffix.lower() == ".json"
    try:
        return json.loads(text) if is_json else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise error(f"{path}: not valid {'JSON' if is_json else 'YAML'}: {exc}") from exc
