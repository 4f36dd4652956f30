"""Python type hints as JSON Schema, for skills made from callables and LangChain tools.

Only the shapes a tool's arguments and results commonly take are mapped (scalars, containers,
unions, literals, enums, pydantic models, TypedDicts, dataclasses); anything else becomes ``{}``
(any value) rather than a guess, since a wrong schema misleads routing more than a missing one.
"""

from __future__ import annotations

import collections.abc as abc
import dataclasses
import enum
import types
import typing
from contextvars import ContextVar
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import BaseMetadata
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

__all__ = ["schema_for_annotation"]

_SCALARS: dict[Any, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    bytes: "string",
    type(None): "null",
    None: "null",
}
_ARRAYS = frozenset(
    {list, set, frozenset, abc.Sequence, abc.MutableSequence, abc.Iterable, abc.Collection}
    | {abc.Set, abc.MutableSet}
)
_OBJECTS = frozenset({dict, abc.Mapping, abc.MutableMapping})
# The records (TypedDicts, dataclasses) being described, innermost last: a recursive one stops.
_EXPANDING: ContextVar[tuple[Any, ...]] = ContextVar("expanding_records", default=())


def _json_type(value: Any) -> str | None:
    return next((name for tp, name in _SCALARS.items() if type(value) is tp), None)


def _enum_schema(values: list[Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {"enum": values}
    kinds = {_json_type(v) for v in values}
    if len(kinds) == 1 and None not in kinds:
        schema["type"] = kinds.pop()
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        out = {**schema, "type": [kind, "null"]}
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [schema, {"type": "null"}]}


def _union(args: tuple[Any, ...]) -> dict[str, Any]:
    present = [a for a in args if a is not type(None)]
    nullable = len(present) < len(args)
    if len(present) == 1:
        schema = schema_for_annotation(present[0])
        return _nullable(schema) if nullable and schema else schema
    options = [schema_for_annotation(a) for a in present]
    if any(not o for o in options):
        return {}
    return {"anyOf": options + ([{"type": "null"}] if nullable else [])}


def _sequence(container: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array"}
    if container is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            schema["items"] = schema_for_annotation(args[0])
        elif args:
            schema["prefixItems"] = [schema_for_annotation(a) for a in args]
            schema["minItems"] = schema["maxItems"] = len(args)
        return schema
    if args and (items := schema_for_annotation(args[0])):
        schema["items"] = items
    if container in (set, frozenset, abc.Set, abc.MutableSet):
        schema["uniqueItems"] = True
    return schema


def _record_schema(annotation: Any) -> dict[str, Any]:
    """A TypedDict's or dataclass's fields as an object schema (nested records inline); a record
    met again inside itself is just ``{"type": "object"}``."""
    expanding = _EXPANDING.get()
    if annotation in expanding:
        return {"type": "object"}
    token = _EXPANDING.set((*expanding, annotation))
    try:
        try:
            hints = typing.get_type_hints(annotation, include_extras=True)
        except (NameError, TypeError, AttributeError):  # an unresolvable forward reference
            return {"type": "object"}
        if typing.is_typeddict(annotation):
            names = list(hints)
            # The class's own key sets miss NotRequired[...] under postponed annotations (3.11).
            marked = {n: get_origin(h) for n, h in hints.items()}
            required = [
                n
                for n in names
                if marked[n] is typing.Required
                or (n in annotation.__required_keys__ and marked[n] is not typing.NotRequired)
            ]
            hints = {
                n: get_args(h)[0] if marked[n] in (typing.Required, typing.NotRequired) else h
                for n, h in hints.items()
            }
        else:
            fields = [f for f in dataclasses.fields(annotation) if f.init]
            names = [f.name for f in fields]
            missing = dataclasses.MISSING
            required = [
                f.name for f in fields if f.default is missing and f.default_factory is missing
            ]
        properties = {name: schema_for_annotation(hints.get(name, Any)) for name in names}
    finally:
        _EXPANDING.reset(token)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


# What pydantic's ``Field(...)`` and annotated-types constraints add to a value's schema.
_CONSTRAINTS = frozenset(
    {"description", "examples", "format", "pattern", "multipleOf", "uniqueItems"}
    | {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
    | {"minLength", "maxLength", "minItems", "maxItems"}
)


def _constraints(annotation: Any) -> dict[str, Any]:
    """The description and bounds an ``Annotated[int, Field(ge=1, le=100, description=...)]``
    writes, as pydantic renders them (FastMCP's and pydantic-ai's style): they had been lost,
    only a plain string annotation read."""
    try:
        schema = TypeAdapter(annotation).json_schema()
    except Exception:  # a type pydantic cannot render: the base schema stands
        return {}
    return {key: value for key, value in schema.items() if key in _CONSTRAINTS}


def _self_contained(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic model's schema with its ``$defs`` inlined: nested in a list, a mapping, a
    record or an argument, its ``#/$defs/Address`` pointed at a root that has no ``$defs``,
    and every output it described failed validation. A model met again inside itself is
    ``{"type": "object"}``, as a recursive record is."""
    defs = schema.get("$defs")
    if not isinstance(defs, dict):
        return schema

    def inline(node: Any, expanding: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [inline(v, expanding) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        rest = {k: inline(v, expanding) for k, v in node.items() if k not in ("$ref", "$defs")}
        if not (isinstance(ref, str) and ref.startswith("#/$defs/")):
            return rest if ref is None else {**rest, "$ref": ref}
        name = ref.removeprefix("#/$defs/")
        if name in expanding or name not in defs:
            return {"type": "object", **rest}
        return {**inline(defs[name], (*expanding, name)), **rest}

    inlined: dict[str, Any] = inline(schema, ())
    return inlined


def schema_for_annotation(annotation: Any) -> dict[str, Any]:
    """The JSON Schema of values of type ``annotation``; ``{}`` when it cannot be said."""
    if annotation in _SCALARS:
        return {"type": _SCALARS[annotation]}
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is typing.Annotated:
        schema = schema_for_annotation(args[0])
        doc = next((a for a in args[1:] if isinstance(a, str)), None)
        if any(isinstance(a, FieldInfo | BaseMetadata) for a in args[1:]):
            schema = {**schema, **_constraints(annotation)}
        return {**schema, "description": doc} if doc else schema
    if origin is Union or origin is types.UnionType:
        return _union(args)
    if origin is Literal:
        return _enum_schema(list(args))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _enum_schema([member.value for member in annotation])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _self_contained(annotation.model_json_schema())
    if typing.is_typeddict(annotation) or (
        isinstance(annotation, type) and dataclasses.is_dataclass(annotation)
    ):
        return _record_schema(annotation)
    container = origin or annotation
    if container is tuple or container in _ARRAYS:
        return _sequence(container, args)
    if container in _OBJECTS:
        mapping: dict[str, Any] = {"type": "object"}
        if len(args) == 2 and (values := schema_for_annotation(args[1])):
            mapping["additionalProperties"] = values
        return mapping
    return {}
