"""Read the declarative files (policies, graphs, scenarios) with errors that name the file, and
write output files atomically.

One reader, so every kind of file fails the same way: the path, what it was meant to be, and
what went wrong, raised as the caller's own error class. One writer, so no reader ever sees a
half-written catalog, cache or trace.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import OrchestratorError

__all__ = ["read_document", "read_json_lines", "replace_dir", "write_text_atomic"]


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename, so
    the file is either the old one or the whole new one."""
    target = Path(path)
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def replace_dir(staging: Path, target: Path) -> None:
    """Swap the finished folder ``staging`` (a sibling of ``target``) in for ``target``: a
    reader finds the old folder or the whole new one, never a mix; the old one is deleted."""
    if not target.exists():
        os.replace(staging, target)
        return
    retired = target.with_name(f".{target.name}.old-{os.getpid()}-{time.monotonic_ns()}")
    os.replace(target, retired)
    os.replace(staging, target)
    shutil.rmtree(retired, ignore_errors=True)


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


def read_json_lines(path: Path, error: type[OrchestratorError], what: str) -> list[tuple[int, Any]]:
    """``(line number, value)`` for every non-blank line of a JSON Lines file; an unreadable file
    or a line that is not JSON raises ``error`` naming the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror})") from exc
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise error(f"{path}: line {number}: not valid JSON ({exc.msg})") from exc
    return records
