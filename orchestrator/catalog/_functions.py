"""Function-calling catalogs: OpenAI tools, BFCL function docs and our native Skill records.

All three are JSON objects with ``name``/``description``/``parameters``; OpenAI wraps them in
``{"type": "function", "function": ...}`` and BFCL spells JSON Schema types as Python ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.catalog._origin import Loaded, Origin
from orchestrator.catalog._schema import normalise_bfcl_schema
from orchestrator.catalog._skill import Skill

__all__ = ["function_skill", "skills_from_functions"]

# OpenAI's "strict" flag says how the model must fill arguments, not what the tool does: keep it
# as metadata rather than rejecting it as an unknown field.
_METADATA_KEYS = frozenset({"strict"})
# Fields with a default that a record may give as null, as SDKs write a field left unset
# ("description": null): null reads as not given, not as a wrong type.
_NULL_IS_UNSET = frozenset(
    {"id", "description", "body", "tags", "price", "latency_ms", "reliability", "metadata"}
)


def function_skill(record: Any, origin: Origin) -> Loaded:
    """One OpenAI, BFCL or native function record as a skill."""
    obj = origin.mapping(record)
    placed: dict[str, Origin] = {}  # fields found beside "function": errors point there
    if "type" in obj:
        if obj["type"] != "function":
            raise origin.at("type").mismatch("'function'", obj["type"])
        if "function" in obj:
            # The fields OpenAI's format lacks (outputs, body, tags, cost hints) may sit beside
            # "function"; the function's own win.
            beside = {k: v for k, v in obj.items() if k not in ("type", "function")}
            record_origin, origin = origin, origin.at("function")
            own = origin.mapping(obj["function"])
            placed = {key: record_origin for key in beside if key not in own}
            obj = {**beside, **own}
        else:  # the Responses API puts the function fields next to "type"
            obj = {k: v for k, v in obj.items() if k != "type"}
    # Checked before pydantic, whose id-defaults-to-name step would report a bad name as a bad id.
    origin.string(obj, "name")
    # BFCL calls the result schema "response"; pointers keep naming the key the user wrote.
    keys = {"outputs": "response"} if "response" in obj and "outputs" not in obj else {}
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in obj.items():
        if value is None and key in _NULL_IS_UNSET:
            continue
        if key in _METADATA_KEYS:
            extra[key] = value
        else:
            fields["outputs" if keys and key == "response" else key] = value
    for key in ("parameters", "outputs"):
        if fields.get(key) is None:
            fields.pop(key, None)
        else:
            schema = placed.get(key, origin).at(keys.get(key, key)).mapping(fields[key])
            fields[key] = normalise_bfcl_schema(schema)
    if extra and isinstance(fields.get("metadata", {}), Mapping):
        fields["metadata"] = {**extra, **fields.get("metadata", {})}
    fields.setdefault("source", origin.location)
    return Loaded(origin.skill(fields, keys, placed=placed), origin)


def skills_from_functions(records: Sequence[Any], *, source: str = "<functions>") -> list[Skill]:
    """Skills from a list of OpenAI / BFCL / native function objects (already parsed JSON)."""
    root = Origin(source)
    return [function_skill(record, root.at(i)).skill for i, record in enumerate(records)]
