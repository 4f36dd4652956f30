"""Whether a JSON Schema is one, checked once per distinct schema.

A run validates every result against its tool's outputs schema, so the catalog loaders refuse a
skill whose outputs schema is broken and the tool graph refuses such a node. One cached check
serves both: a catalog checked as it loads costs nothing more when its plans are run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

__all__ = ["SchemaProblem", "schema_problem"]


class SchemaProblem(NamedTuple):
    """Where in a schema it breaks the meta-schema, the validator's words, and the value there."""

    path: tuple[str | int, ...]
    message: str
    value: Any


def schema_problem(schema: Mapping[str, Any]) -> SchemaProblem | None:
    """What makes ``schema`` no JSON Schema (draft 2020-12, as execution validates), or None."""
    return _problem(json.dumps(schema, sort_keys=True, default=str))


@lru_cache(maxsize=4096)
def _problem(schema: str) -> SchemaProblem | None:
    # Keyed by the JSON text: checking against the meta-schema takes about a millisecond or two
    # a schema, and a plan's graph is built for every run from the same skills.
    try:
        Draft202012Validator.check_schema(json.loads(schema))
    except SchemaError as exc:
        return SchemaProblem(tuple(exc.absolute_path), exc.message, exc.instance)
    return None
