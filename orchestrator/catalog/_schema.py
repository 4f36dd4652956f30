"""Repair the non-standard JSON Schema dialects found in real tool catalogs, and follow the
local references schemas generated from code are full of.

OpenAPI documents compose request bodies and responses with ``allOf`` (a base object and its
extension); the parts are merged into one object so its fields read as arguments and outputs.

BFCL writes Python type names ("dict", "float", "tuple", "any") where JSON Schema has "object",
"number", "array" and no type at all; OpenAPI 3.0 marks nullability with ``nullable: true`` and
exclusive bounds with a boolean flag beside them.
Pydantic and MCP SDK servers put nested models under ``$defs`` and point at them with ``$ref``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "merge_all_of",
    "normalise_bfcl_schema",
    "normalise_openapi_schema",
    "resolve_ref",
    "without_properties_marked",
]

_BFCL_TYPES = {"dict": "object", "float": "number", "tuple": "array"}

# Keywords whose value is a schema, a list of schemas, or a name -> schema mapping. Only these are
# walked, so an ``enum``, ``default`` or ``example`` that happens to contain "dict" is left alone.
_SCHEMA_KEYS = frozenset(
    {"items", "additionalProperties", "additionalItems", "not", "contains", "propertyNames"}
    | {"if", "then", "else", "unevaluatedItems", "unevaluatedProperties"}
    | {"anyOf", "oneOf", "allOf", "prefixItems"}
)
_SCHEMA_MAP_KEYS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
)

_Fix = Callable[[dict[str, Any]], dict[str, Any]]


def _walk(schema: Any, fix: _Fix) -> Any:
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_KEYS:
            out[key] = (
                [_walk(v, fix) for v in value] if isinstance(value, list) else _walk(value, fix)
            )
        elif key in _SCHEMA_MAP_KEYS and isinstance(value, Mapping):
            out[key] = {name: _walk(sub, fix) for name, sub in value.items()}
        else:
            out[key] = value
    return fix(out)


def _fix_bfcl_type(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        if kind == "any":
            del schema["type"]
        else:
            schema["type"] = _BFCL_TYPES.get(kind, kind)
    elif isinstance(kind, list):
        if "any" in kind:
            del schema["type"]
        else:
            schema["type"] = [_BFCL_TYPES.get(k, k) if isinstance(k, str) else k for k in kind]
    return schema


def _fix_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if schema.pop("nullable", False) is True:
        kind = schema.get("type")
        if isinstance(kind, str):
            schema["type"] = [kind, "null"]
        elif kind is None:  # a composition ("nullable: true, allOf: [$ref]"): null or it
            return {"anyOf": [schema, {"type": "null"}]}
        enum = schema.get("enum")
        if isinstance(enum, list) and None not in enum:
            schema["enum"] = [*enum, None]
    return schema


def _fix_exclusive_bounds(schema: dict[str, Any]) -> dict[str, Any]:
    # OpenAPI 3.0 (JSON Schema draft 4) makes a bound exclusive with a flag beside it
    # ("minimum: 0, exclusiveMinimum: true"); later drafts give the bound itself.
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        exclusive = schema.get(flag)
        if isinstance(exclusive, bool):
            del schema[flag]
            if exclusive and bound in schema:
                schema[flag] = schema.pop(bound)
    return schema


def normalise_bfcl_schema(schema: Any) -> Any:
    """Return ``schema`` with BFCL's Python type names replaced by JSON Schema ones, recursively."""
    return _walk(schema, _fix_bfcl_type)


def normalise_openapi_schema(schema: Any) -> Any:
    """Return ``schema`` with OpenAPI 3.0 ``nullable: true`` turned into a ``"null"`` type,
    its boolean ``exclusiveMinimum``/``exclusiveMaximum`` into the bounds later drafts write,
    and ``allOf`` compositions merged (see :func:`merge_all_of`), recursively."""
    return _walk(schema, lambda s: _fix_exclusive_bounds(_fix_nullable(dict(merge_all_of(s)))))


def without_properties_marked(schema: Any, flag: str) -> Any:
    """``schema`` without the properties whose schema sets ``flag`` (``readOnly``,
    ``writeOnly``) to true, at every depth, and without them in ``required``.

    OpenAPI reuses one schema for a resource both ways: a ``readOnly`` property (a server-made
    id) is never sent in a request, and a ``writeOnly`` one (a password) never comes back, and
    either one's ``required`` applies only to the direction it travels in.
    """

    def drop(part: dict[str, Any]) -> dict[str, Any]:
        props = part.get("properties")
        if not isinstance(props, Mapping):
            return part
        hidden = {n for n, p in props.items() if isinstance(p, Mapping) and p.get(flag) is True}
        if hidden:
            part["properties"] = {n: p for n, p in props.items() if n not in hidden}
            required = part.get("required")
            if isinstance(required, list):
                kept = [r for r in required if r not in hidden]
                if kept:
                    part["required"] = kept
                else:
                    del part["required"]
        return part

    return _walk(schema, drop)


# Keywords that describe a value without constraining its shape: a part made of these alone
# (``{"$ref": ...}`` beside ``{"description": ...}``, as generators write) merges into any other.
_ANNOTATIONS = frozenset(
    {"title", "description", "default", "example", "examples", "deprecated", "readOnly"}
    | {"writeOnly", "nullable", "$comment"}
)
# Keywords that make a part more than a plain object: such parts are left composed.
_NOT_PLAIN_OBJECT = frozenset({"$ref", "items", "enum", "const", "anyOf", "oneOf", "allOf", "not"})


# How deep allOf compositions are merged through references: a schema composed of itself
# ("Node: allOf: [$ref: Node]") ends here instead of recursing forever.
_MAX_MERGE_DEPTH = 16


def merge_all_of(
    schema: Mapping[str, Any], root: Mapping[str, Any] | None = None, *, _depth: int = 0
) -> Mapping[str, Any]:
    """``schema`` with its ``allOf`` merged into one schema, where that loses nothing a caller
    reads: every part a plain object (properties and required lists joined, the first
    declaration of a property kept), or one part of any kind beside annotation-only ones
    (``description``, ``title``, ...). Local references of the parts are followed in ``root``
    when given. Any other composition is returned as it is."""
    parts = schema.get("allOf")
    if not isinstance(parts, list) or not parts or _depth >= _MAX_MERGE_DEPTH:
        return schema
    resolved = []
    for part in parts:
        if not isinstance(part, Mapping):
            return schema
        part = resolve_ref(part, root) if root is not None else part
        resolved.append(merge_all_of(part, root, _depth=_depth + 1) if "allOf" in part else part)
    own = {k: v for k, v in schema.items() if k != "allOf"}
    shaped = [p for p in resolved if not set(p) <= _ANNOTATIONS]
    notes = {k: v for p in resolved if set(p) <= _ANNOTATIONS for k, v in p.items()}
    if len(shaped) <= 1 and not (shaped and set(shaped[0]) & {"properties", "required"}):
        return {**(shaped[0] if shaped else {}), **notes, **own}
    if any(p.get("type", "object") != "object" or set(p) & _NOT_PLAIN_OBJECT for p in shaped):
        return schema
    properties: dict[str, Any] = {}
    required: list[str] = []
    merged: dict[str, Any] = {}
    for part in [*resolved, own]:
        props, needed = part.get("properties"), part.get("required")
        for name, spec in props.items() if isinstance(props, Mapping) else ():
            properties.setdefault(name, spec)
        required += [r for r in needed if r not in required] if isinstance(needed, list) else []
        merged.update({k: v for k, v in part.items() if k not in ("properties", "required")})
    merged["type"] = "object"
    merged["properties"] = properties
    if required:
        merged["required"] = required
    return merged


def resolve_ref(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """``schema``, or what its local ``$ref`` (``#``, ``#/$defs/Name``) points to in ``root``,
    followed through chains of references; ``{}`` (any value) for a reference that leads
    nowhere. Remote references are left as they are."""
    for _ in range(32):  # a cycle of references ends here, not in a hang
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#"):
            return schema
        target: Any = root
        for part in filter(None, ref[1:].split("/")):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                return {}
            target = target[part]
        schema = target if isinstance(target, Mapping) else {}
    return {}
