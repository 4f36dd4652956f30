"""Reading catalog files into plain JSON values, with the line of any syntax error.

YAML is read by YAML 1.2's core schema, as OpenAPI asks: ``on``, ``off``, ``yes``, ``no``,
``y`` and ``n`` stay strings (PyYAML's YAML 1.1 rules made a Norwegian country code ``NO`` the
boolean false and an output named ``on`` the key ``true``, which crashed indexing), ``012`` is
the decimal 12, and a date in an example or front matter stays a string, so every skill stays
JSON-serialisable (its fingerprint and the JSONL writer depend on that). libyaml parses, where
installed: Stripe's 6 MB OpenAPI document in 2.0 s rather than PyYAML's 8.7 s (measured here).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from orchestrator._files import describe_yaml_error, json_lines
from orchestrator._files import read_text as _read_text
from orchestrator.errors import CatalogError

__all__ = ["files_below", "parse_yaml", "read_json", "read_jsonl", "read_text", "read_yaml"]


class _JsonSafeLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader resolving plain scalars by YAML 1.2's core schema (see the module)."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(self.construct_scalar(node))
        sign, digits = (-1, text[1:]) if text[:1] == "-" else (1, text.removeprefix("+"))
        base = 8 if digits.startswith("0o") else 16 if digits.startswith("0x") else 10
        try:
            return sign * int(digits[2:] if base != 10 else digits, base)
        except ValueError:
            # Only an explicit "!!int" tag gets here with other text: YAML 1.1's forms
            # ("0b101", "1_000") as before, or an error pointing at it.
            try:
                return int(super().construct_yaml_int(node))
            except (ValueError, IndexError) as exc:
                raise yaml.constructor.ConstructorError(
                    None, None, f"not an integer: {text!r}", node.start_mark
                ) from exc


_JsonSafeLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("merge", r"^(?:<<)$", "<"),  # not YAML 1.2, but OpenAPI files written by hand use it
):
    _JsonSafeLoader.add_implicit_resolver(
        f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first)
    )
_JsonSafeLoader.add_constructor("tag:yaml.org,2002:int", _JsonSafeLoader.construct_yaml_int)


def read_text(path: Path) -> str:
    """The file's text, or a ``CatalogError`` naming the file. A byte-order mark (as Windows
    editors write one) is not part of the text."""
    return _read_text(
        path, lambda problem: CatalogError(f"cannot read file ({problem})", source=str(path))
    )


def _decode_error(exc: json.JSONDecodeError, source: str, line: int | None = None) -> CatalogError:
    where = f"line {line if line is not None else exc.lineno}, column {exc.colno}"
    return CatalogError(f"invalid JSON: {exc.msg}", source=source, where=where)


def read_json(path: Path) -> Any:
    """One JSON document."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise _decode_error(exc, str(path)) from exc


def read_jsonl(path: Path) -> list[tuple[int, Any]]:
    """``(line number, value)`` for every non-blank line of a JSON Lines file."""
    records = []
    for number, line in enumerate(json_lines(read_text(path)), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise _decode_error(exc, str(path), number) from exc
    return records


def parse_yaml(text: str, source: str, first_line: int = 1) -> Any:
    """Parse YAML text starting on ``first_line`` of ``source`` (front matter starts on line 2)."""
    try:
        return yaml.load(text, Loader=_JsonSafeLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as exc:
        where, problem = describe_yaml_error(exc, text, first_line)
        raise CatalogError(f"invalid YAML: {problem}", source=source, where=where) from exc


def read_yaml(path: Path) -> Any:
    """One YAML document."""
    return parse_yaml(read_text(path), str(path))


def files_below(directory: Path) -> list[Path]:
    """Every file below ``directory``, sorted, through symlinked folders too (a skills tree
    often links in skills kept elsewhere, and ``Path.rglob`` skips those links), each real
    folder once, and without hidden folders or files (``.git``)."""
    found: list[Path] = []
    seen: set[str] = set()
    for root, folders, files in os.walk(directory, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            folders.clear()  # a link back up the tree
            continue
        seen.add(real)
        folders[:] = [f for f in folders if not f.startswith(".")]
        found.extend(Path(root, f) for f in files if not f.startswith("."))
    return sorted(found)
