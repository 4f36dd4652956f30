"""Just enough Google- and NumPy-style docstring parsing to describe a tool's arguments.

A callable's summary becomes the skill description and its per-argument docs become the schema's
property descriptions, which is most of what routing can learn about a plain function.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from dataclasses import dataclass, field

__all__ = ["Docstring", "parse_docstring"]

_PARAMS = frozenset(
    {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments"}
    | {"other parameters"}
)
_RETURNS = frozenset({"returns", "return", "yields"})
_OTHER = frozenset(
    {"raises", "examples", "example", "notes", "note", "see also", "references", "attributes"}
    | {"warns", "warnings", "todo", "methods"}
)
_HEADERS = _PARAMS | _RETURNS | _OTHER
_ENTRY = re.compile(r"^\*{0,2}([A-Za-z_]\w*)\s*(?:\(([^)]*)\))?\s*(?::\s*(.*))?$")
_TYPE_PREFIX = re.compile(r"^[\w\[\], .|]+:\s+")


@dataclass(frozen=True)
class Docstring:
    """The parts of a docstring a skill uses."""

    summary: str = ""
    params: dict[str, str] = field(default_factory=dict)
    returns: str = ""


def _join(lines: list[str]) -> str:
    return " ".join(" ".join(lines).split())


def _split(text: str) -> tuple[list[str], list[tuple[str, bool, list[str]]]]:
    """Prose lines, and ``(header, is_numpy, body lines)`` per section."""
    lines = text.splitlines()
    prose: list[str] = []
    sections: list[tuple[str, bool, list[str]]] = []
    current: list[str] | None = None
    numpy = False
    i = 0
    while i < len(lines):
        line, stripped = lines[i], lines[i].strip()
        indented = line[:1] in (" ", "\t")
        underline = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if not indented and stripped.lower() in _HEADERS and re.fullmatch(r"-{3,}", underline):
            current, numpy = [], True
            sections.append((stripped.lower(), True, current))
            i += 2
            continue
        if not indented and stripped.endswith(":") and stripped[:-1].lower() in _HEADERS:
            current, numpy = [], False
            sections.append((stripped[:-1].lower(), False, current))
        elif current is not None and (numpy or indented or not stripped):
            current.append(line)
        else:
            current = None
            prose.append(line)
        i += 1
    return prose, sections


def _entries(body: list[str], numpy: bool) -> dict[str, str]:
    docs: dict[str, list[str]] = {}
    name = None
    for line in textwrap.dedent("\n".join(body)).splitlines():
        match = _ENTRY.match(line) if line[:1] not in (" ", "\t") else None
        if match:
            name = match.group(1)
            docs[name] = [] if numpy or not match.group(3) else [match.group(3)]
        elif name is not None and line.strip():
            docs[name].append(line.strip())
    return {k: _join(v) for k, v in docs.items()}


def _returns(body: list[str], numpy: bool) -> str:
    lines = textwrap.dedent("\n".join(body)).splitlines()
    if numpy:
        described = [ln for ln in lines if ln[:1] in (" ", "\t")]
        return _join(described or lines)
    return _TYPE_PREFIX.sub("", _join(lines), count=1)


def parse_docstring(doc: str | None) -> Docstring:
    """Summary (first paragraph), argument docs and the returns text of ``doc``."""
    prose, sections = _split(inspect.cleandoc(doc or ""))
    paragraph: list[str] = []
    for line in prose:
        if not line.strip():
            if paragraph:
                break
            continue
        paragraph.append(line)
    params: dict[str, str] = {}
    returns = ""
    for header, numpy, body in sections:
        if header in _PARAMS:
            params.update(_entries(body, numpy))
        elif header in _RETURNS and not returns:
            returns = _returns(body, numpy)
    return Docstring(_join(paragraph), params, returns)
