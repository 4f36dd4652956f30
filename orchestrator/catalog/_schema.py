"""Repair the non-standard JSON Schema dialects found in real tool catalogs, and follow the
local references schemas generated from code are full of.

BFCL writes Python type names ("dict", "float", "tuple", "any") where JSON Schema has "object",
"number", "array" and no type at all; OpenAPI 3.0 marks nullability with ``nullable: true``.
Pydantic and MCP SDK servers put nested models under ``$defs`` and point at them with ``$ref``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["normalise_bfcl_schema", "normalise_openapi_schema", "resolve_ref"]

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
        enum = schema.get("enum")
        if isinstance(enum, list) and None not in enum:
            schema["enum"] = [*enum, None]
    return schema


def normalise_bfcl_schema(schema: Any) -> Any:
    """Return ``schema`` with BFCL's Python type names replaced by JSON Schema ones, recursively."""
    return _walk(schema, _fix_bfcl_type)


def normalise_openapi_schema(schema: Any) -> Any:
    """Return ``schema`` with OpenAPI 3.0 ``nullable: true`` turned into a ``"null"`` type."""
    return _walk(schema, _fix_nullable)


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
