"""Simulated tools: an invoker that answers every tool of a graph or catalog with a schema-valid
output."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import anyio

from orchestrator._json_schema import schema_validator
from orchestrator.catalog import Skill
from orchestrator.catalog._schema import resolve_ref
from orchestrator.errors import ToolNotServedError
from orchestrator.execution import ArgumentRefusal, step_inputs
from orchestrator.graph import ToolGraph

__all__ = ["SimulatedInvoker", "sample_output"]

_SAMPLES: dict[str, Any] = {
    "string": "simulated",
    "integer": 1,
    "number": 1.0,
    "boolean": True,
    "array": [],
    "object": {},
    "null": None,
}
_MAX_DEPTH = 8  # a recursive schema (a tree of nodes) is sampled this deep at most
_FULL_DEPTH = 2  # to here (a result, its records) all properties are sampled, arrays get one item


def sample_output(tool: str, schema: Mapping[str, Any] | None) -> Any:
    """A value ``schema`` accepts: every property of the result and of its records sampled (only
    required ones deeper), through local ``$ref`` s, unions (the first option that is not
    null), arrays of one item near the top (else ``minItems``) and numeric bounds. An
    object gets ``"ok": true`` and ``"tool"`` too where it allows more properties; no schema
    gets just those."""
    marker: dict[str, Any] = {"ok": True, "tool": tool}
    if not schema:
        return marker
    value = _sample(schema, schema, 0, full=True)
    wrong = _errors(schema, value)
    if wrong and isinstance(value, dict):
        if any(not path for path in wrong):  # the object as a whole (maxProperties, ...)
            value = _sample(schema, schema, 0, full=False)
        else:  # fields the sampler cannot satisfy (a pattern): left out if they may be
            needed = set(schema.get("required") or ())
            value = {k: v for k, v in value.items() if k in needed or (k,) not in wrong}
    if not isinstance(value, dict) or schema.get("additionalProperties", True) is False:
        return value
    marked = {**marker, **value}
    return marked if _valid(schema, marked) else value


def _valid(schema: Mapping[str, Any], value: Any) -> bool:
    return not _errors(schema, value)


def _errors(schema: Mapping[str, Any], value: Any) -> set[tuple[Any, ...]]:
    """Where ``value`` breaks ``schema``: the top-level field of each error (``()`` for the
    value as a whole); none for a schema the validator cannot read (nor can the executor)."""
    try:
        errors = schema_validator(schema).iter_errors(value)
        return {tuple(error.absolute_path)[:1] for error in errors}
    except Exception:
        return set()


def _sample(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int, *, full: bool) -> Any:
    schema = resolve_ref(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for union in ("oneOf", "anyOf"):
        options = [resolve_ref(o, root) for o in schema.get(union) or ()]
        if options:
            # A value rather than null, until deep in a recursive schema, where null ends it.
            typed = [o for o in options if o.get("type") != "null"]
            if typed and (depth < _MAX_DEPTH // 2 or len(typed) == len(options)):
                return _sample(typed[0], root, depth, full=full)
            return None
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            part = resolve_ref(part, root)
            merged["properties"] = {**merged.get("properties", {}), **part.get("properties", {})}
            merged["required"] = [*merged.get("required", []), *part.get("required", [])]
            merged.setdefault("type", part.get("type"))
        return _sample({k: v for k, v in merged.items() if v is not None}, root, depth, full=full)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        if depth >= _MAX_DEPTH:
            return {}
        properties = schema.get("properties") or {}
        # Near the top every property, so the fields a plan binds a next step's inputs from
        # are there even where the schema requires none (as OpenAPI responses seldom do).
        names = list(schema.get("required") or ())
        if full and depth <= _FULL_DEPTH:
            names += [n for n, spec in properties.items() if n not in names and spec is not False]
        return {
            name: _sample(_schema_of(properties.get(name)), root, depth + 1, full=full)
            for name in names
        }
    if kind == "array":
        count = int(schema.get("minItems", 0))
        if full and depth <= _FULL_DEPTH and schema.get("maxItems", 1) >= 1:
            count = max(count, 1)  # one record for a plan to read ("orders.id")
        items = schema.get("items")
        # A tuple (2020-12's prefixItems, draft-07's list of items): one value per position,
        # as its minItems asks; sampled as [], it had failed its own schema.
        positions = items if isinstance(items, list) else schema.get("prefixItems")
        if isinstance(positions, list) and depth < _MAX_DEPTH:
            return [_sample(_schema_of(p), root, depth + 1, full=full) for p in positions]
        if not count or not isinstance(items, Mapping) or depth >= _MAX_DEPTH:
            return []
        return [_sample(items, root, depth + 1, full=full)] * count
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    if kind == "string":
        length = int(schema.get("minLength", 0))
        text = _SAMPLES["string"]
        return text.ljust(length, "x")[: schema.get("maxLength", None)]
    return _SAMPLES.get(kind, "simulated")


def _schema_of(spec: Any) -> Mapping[str, Any]:
    """A property's schema; ``true`` (anything) and a missing one are ``{}``."""
    return spec if isinstance(spec, Mapping) else {}


def _number(schema: Mapping[str, Any], *, integer: bool) -> int | float:
    """A number within the schema's bounds (inclusive or exclusive): the default sample when
    it fits, else the lowest integer above the lower bound, else a value just inside."""
    low, high = schema.get("minimum"), schema.get("maximum")
    low_open, high_open = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")

    def inside(x: float) -> bool:
        return (
            (low is None or x >= low)
            and (high is None or x <= high)
            and (low_open is None or x > low_open)
            and (high_open is None or x < high_open)
        )

    floor = max((b for b in (low, low_open) if b is not None), default=None)
    ceiling = min((b for b in (high, high_open) if b is not None), default=None)
    candidates: list[float] = [1]
    if floor is not None:
        candidates += [math.ceil(floor), math.floor(floor) + 1]
    if ceiling is not None:
        candidates += [math.floor(ceiling), math.ceil(ceiling) - 1]
    if not integer and floor is not None and ceiling is not None:
        candidates.append((floor + ceiling) / 2)
    value = next((c for c in candidates if inside(c)), candidates[-1])
    return int(value) if integer else float(value)


class SimulatedInvoker:
    """Every tool of ``tools`` succeeds at once (``latency_scale`` > 0 sleeps for a fraction of
    its declared latency), returning ``sample_output`` for its outputs schema.

    ``tools`` is a tool graph (its tool nodes) or a catalog's skills (whatever graph a plan makes
    of them); a tool's output is built on its first call. A skill called without some of its
    required arguments still answers (a dry run goes on), and ``lacking`` records which.
    """

    def __init__(self, tools: ToolGraph | Iterable[Skill], *, latency_scale: float = 0.0) -> None:
        if isinstance(tools, ToolGraph):
            nodes = [tools.node(t) for t in tools.tools()]
            described = [(n.name, n.outputs, n.latency_ms) for n in nodes]
            required: dict[str, tuple[str, ...]] = {}
        else:
            skills = list(tools)
            described = [(s.id, s.outputs, s.latency_ms) for s in skills]
            required = {s.id: tuple(s.required_parameters()) for s in skills}
        self._schemas = {name: outputs for name, outputs, _ in described}
        self._latency_ms = {name: latency for name, _, latency in described}
        self._required = required
        self._outputs: dict[str, dict[str, Any]] = {}
        self.latency_scale = latency_scale
        # The required arguments each simulated skill was called without, by skill id.
        self.lacking: dict[str, tuple[str, ...]] = {}

    def refusal(self, tool: str, names: Collection[str]) -> ArgumentRefusal | None:
        """Any arguments will do for a simulated tool; a tool not simulated cannot be called."""
        return None if tool in self._schemas else ArgumentRefusal.not_served("not a simulated tool")

    async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        if tool not in self._schemas:
            raise ToolNotServedError("not a simulated tool", tool=tool)
        given = step_inputs(arguments)
        missing = tuple(name for name in self._required.get(tool, ()) if name not in given)
        if missing:
            self.lacking[tool] = missing
        output = self._outputs.get(tool)
        if output is None:
            output = self._outputs[tool] = sample_output(tool, self._schemas[tool])
        if self.latency_scale > 0:
            await anyio.sleep(self._latency_ms[tool] * self.latency_scale / 1000.0)
        return dict(output)
