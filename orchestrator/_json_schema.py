"""Whether a JSON Schema is one, checked once per distinct schema.

A run validates every result against its tool's outputs schema, so the catalog loaders refuse a
skill whose outputs schema is broken and the tool graph refuses such a node. One cached check
serves both: a catalog checked as it loads costs nothing more when its plans are run.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator

__all__ = ["JSON_TYPES", "SchemaProblem", "schema_problem", "schema_validator", "validator_class"]


class SchemaProblem(NamedTuple):
    """Where in a schema it breaks the meta-schema, the validator's words, and the value there."""

    path: tuple[str | int, ...]
    message: str
    value: Any


def validator_class(schema: Mapping[str, Any] | bool) -> type[Validator]:
    """The validator of the draft ``schema`` names in ``$schema`` (draft-07, as MCP servers
    written with zod emit it, with tuples as ``items: [...]``), else draft 2020-12: every
    tuple schema of such a server had been refused, and its whole catalog with it."""
    if not isinstance(schema, Mapping) or not isinstance(schema.get("$schema", ""), str):
        return Draft202012Validator  # whose meta-schema says what is wrong with a $schema of 7
    with warnings.catch_warnings():  # an unknown $schema: 2020-12, without a warning
        warnings.simplefilter("ignore", DeprecationWarning)
        found: type[Validator] = validators.validator_for(schema, default=Draft202012Validator)
    return found


def schema_validator(schema: Mapping[str, Any] | bool) -> Validator:
    """A validator of values against ``schema``, by its draft (``validator_class``)."""
    return validator_class(schema)(schema)


def schema_problem(schema: Mapping[str, Any]) -> SchemaProblem | None:
    """What makes ``schema`` no JSON Schema (by its ``$schema`` draft, else 2020-12, as
    execution validates), or None.

    A schema written with the common keywords only, each of the right kind, is valid without
    asking the meta-schema (``_plainly_valid``): that check takes a millisecond a schema, and
    catalog loaders make it for every skill's outputs on every load (a 259-skill catalog
    loaded in 221 ms instead of 12 ms). Anything else is checked against the meta-schema."""
    if _plainly_valid(schema, 0):
        return None
    return _problem(json.dumps(schema, sort_keys=True, default=str))


# The JSON Schema types, as the meta-schema lists them.
JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")
_TYPES = frozenset(JSON_TYPES)


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_type(value: Any) -> bool:
    if isinstance(value, list):
        return (
            bool(value)
            and len(set(map(str, value))) == len(value)
            and all(isinstance(v, str) and v in _TYPES for v in value)
        )
    return isinstance(value, str) and value in _TYPES  # not "in" first: {"a": 1} is unhashable


def _is_names(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(isinstance(v, str) for v in value)
        and (len(set(value)) == len(value))
    )


# Keywords whose value is no subschema, and what kind of value the meta-schema allows them.
_VALUE_KINDS: dict[str, Any] = {
    "type": _is_type,
    "description": _is_text,
    "title": _is_text,
    "$comment": _is_text,
    "format": _is_text,
    "required": _is_names,
    "enum": lambda v: isinstance(v, list),
    "const": lambda v: True,
    "default": lambda v: True,
    "examples": lambda v: isinstance(v, list),
    "readOnly": lambda v: isinstance(v, bool),
    "writeOnly": lambda v: isinstance(v, bool),
    "deprecated": lambda v: isinstance(v, bool),
    "uniqueItems": lambda v: isinstance(v, bool),
    "minimum": _is_number,
    "maximum": _is_number,
    "exclusiveMinimum": _is_number,
    "exclusiveMaximum": _is_number,
    "minLength": _is_count,
    "maxLength": _is_count,
    "minItems": _is_count,
    "maxItems": _is_count,
}
_SUBSCHEMA = frozenset({"items", "additionalProperties", "not"})
_SUBSCHEMA_MAPS = frozenset({"properties", "$defs"})
_SUBSCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf"})


def _plainly_valid(schema: Any, depth: int) -> bool:
    """Whether ``schema`` is sure to be a valid JSON Schema: a boolean, or an object of the
    keywords above only, each of its kind, its subschemas so too (64 deep at most). False
    says nothing: the meta-schema decides."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, Mapping) or depth > 64:
        return False
    for key, value in schema.items():
        kind = _VALUE_KINDS.get(key)
        if kind is not None:
            ok = kind(value)
        elif key in _SUBSCHEMA:
            ok = _plainly_valid(value, depth + 1)
        elif key in _SUBSCHEMA_MAPS:
            ok = isinstance(value, Mapping) and all(
                _plainly_valid(v, depth + 1) for v in value.values()
            )
        elif key in _SUBSCHEMA_LISTS:
            ok = (
                isinstance(value, list)
                and bool(value)
                and all(_plainly_valid(v, depth + 1) for v in value)
            )
        else:
            ok = False  # a keyword not listed here: the meta-schema decides
        if not ok:
            return False
    return True


@lru_cache(maxsize=4096)
def _problem(schema: str) -> SchemaProblem | None:
    # Keyed by the JSON text: checking against the meta-schema takes about a millisecond or two
    # a schema, and a plan's graph is built for every run from the same skills.
    document = json.loads(schema)
    try:
        validator_class(document).check_schema(document)
    except SchemaError as exc:
        return SchemaProblem(tuple(exc.absolute_path), exc.message, exc.instance)
    return None
