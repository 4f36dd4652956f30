"""A readable rendering of one OpenAPI operation, used as the skill's ``body``.

Routing reads ``body`` as the richest description of a skill, so it spells out the method, path,
server, every parameter and every response in plain text rather than as nested JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.catalog._origin import Origin

__all__ = ["Operation", "Parameter", "Payload", "render_operation", "type_label"]


@dataclass(frozen=True)
class Parameter:
    """A path, query or header parameter with its schema already inlined."""

    name: str
    location: str
    required: bool
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Payload:
    """A request body or a response: its media type, schema (if any) and prose."""

    media_type: str | None
    schema: dict[str, Any] | None
    description: str = ""
    required: bool = False
    status: str = ""
    # Where the schema was read, for errors about it (it is checked only if it becomes outputs).
    schema_origin: Origin | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Operation:
    """Everything about one operation that ends up in a skill."""

    method: str
    path: str
    server: str | None
    operation_id: str | None
    summary: str
    description: str
    parameters: list[Parameter] = field(default_factory=list)
    body: Payload | None = None
    responses: list[Payload] = field(default_factory=list)
    tags: tuple[str, ...] = ()
    deprecated: bool = False


def type_label(schema: Mapping[str, Any] | None) -> str:
    """A short type name: ``string``, ``array of Pet``, ``one of 'a', 'b'``."""
    if not schema:
        return "any"
    if "enum" in schema and isinstance(schema["enum"], list):
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return f"array of {type_label(schema.get('items'))}"
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    if kind == "object" or "properties" in schema:
        title = schema.get("title")
        return f"object {title}" if isinstance(title, str) else "object"
    for combinator in ("oneOf", "anyOf"):
        options = schema.get(combinator)
        if isinstance(options, list):
            return " or ".join(type_label(o) for o in options if isinstance(o, Mapping))
    return str(kind) if kind else str(schema.get("title", "any"))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _property_lines(schema: Mapping[str, Any], indent: str) -> list[str]:
    if schema.get("type") == "array" and isinstance(schema.get("items"), Mapping):
        schema = schema["items"]
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return []
    required = schema.get("required") or []
    lines = []
    for name, sub in properties.items():
        sub = sub if isinstance(sub, Mapping) else {}
        need = "required" if name in required else "optional"
        doc = _one_line(str(sub.get("description", "")))
        lines.append(f"{indent}- {name} ({type_label(sub)}, {need}){': ' + doc if doc else ''}")
    return lines


def render_operation(op: Operation) -> str:
    """The operation as plain text: header, prose, parameters, request body, responses."""
    lines = [f"{op.method.upper()} {op.path}"]
    if op.server:
        lines.append(f"Server: {op.server}")
    if op.operation_id:
        lines.append(f"Operation: {op.operation_id}")
    if op.tags:
        lines.append(f"Tags: {', '.join(op.tags)}")
    prose = [t.strip() for t in dict.fromkeys((op.summary, op.description)) if t.strip()]
    if prose:
        lines += ["", *prose]
    if op.parameters:
        lines += ["", "Parameters:"]
        for p in op.parameters:
            need = "required" if p.required else "optional"
            doc = _one_line(p.description)
            label = f"{p.location}, {type_label(p.schema)}, {need}"
            lines.append(f"- {p.name} ({label}){': ' + doc if doc else ''}")
    if op.body is not None:
        need = "required" if op.body.required else "optional"
        lines += ["", f"Request body ({op.body.media_type}, {need}): {type_label(op.body.schema)}"]
        if op.body.description:
            lines.append(_one_line(op.body.description))
        lines += _property_lines(op.body.schema or {}, "")
    if op.responses:
        lines += ["", "Responses:"]
        for r in op.responses:
            media = f" ({r.media_type})" if r.media_type else ""
            returns = f" -> {type_label(r.schema)}" if r.schema is not None else ""
            doc = _one_line(r.description)
            lines.append(f"- {r.status}{media}{': ' + doc if doc else ''}{returns}")
            if r.schema is not None and r.status.startswith("2"):
                lines += _property_lines(r.schema, "  ")
    return "\n".join(lines)
