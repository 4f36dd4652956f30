"""Read a tool-graph definition (YAML or JSON, a file or a mapping) into a ``ToolGraph``.

The format is the one scenario files embed: ``start``, ``goal``, ``edges`` as ``[from, to, cost]``,
and optionally ``nodes`` (attributes of tools and states) and ``fallbacks`` (demotion goals).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator._files import field_path, read_document
from orchestrator.errors import GraphError
from orchestrator.graph._graph import ToolGraph

__all__ = ["graph_from_definition", "load_graph"]


class _NodeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["tool", "state"] = "tool"
    price: float = Field(default=0.0, ge=0.0)
    latency_ms: float = Field(default=100.0, ge=0.0)
    reliability: float = Field(default=0.99, gt=0.0, le=1.0)
    outputs: dict[str, Any] | None = None
    join: Literal["any", "all", "quorum"] = "any"
    quorum: int | None = Field(default=None, ge=1)
    timeout_ms: float | None = Field(default=None, gt=0.0)
    risk: float = Field(default=0.0, ge=0.0, le=1.0)
    description: str = ""
    idempotent: bool = True  # false: never repeated after a timeout or a lost connection


class _FallbackSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    goal: str = Field(min_length=1)
    description: str = ""


# A node's name: an empty one ("") had loaded, a tool nobody could name in a scenario or a log.
_Name = Annotated[str, Field(min_length=1)]


class _GraphSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    topology: Literal["linear", "dag", "fanout"] | None = None
    description: str = ""
    start: str = Field(min_length=1)
    goal: str = Field(min_length=1)
    nodes: dict[str, _NodeSpec] = Field(default_factory=dict)
    edges: list[tuple[_Name, _Name, float] | tuple[_Name, _Name]] = Field(min_length=1)
    fallbacks: list[_FallbackSpec] = Field(default_factory=list)


def graph_from_definition(data: Any, *, source: str = "<graph>") -> ToolGraph:
    """Build and validate a ``ToolGraph`` from a parsed definition.

    Raises
    ------
    GraphError
        If a field is missing, unknown or of the wrong type, or the structure is invalid; the
        message names ``source`` and the field.
    """
    if not isinstance(data, dict):
        raise GraphError(f"{source}: expected a mapping with start, goal and edges")
    try:
        spec = _GraphSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise GraphError(f"{source}: field {field_path(first['loc'])}: {first['msg']}") from exc
    graph = ToolGraph(start=spec.start, goal=spec.goal, name=spec.name or source)
    states = {spec.start, spec.goal, *(f.goal for f in spec.fallbacks)}
    _check_nodes(spec, states, source)
    try:
        for name, node in spec.nodes.items():
            attrs = node.model_dump(exclude={"kind", "timeout_ms"})
            attrs["timeout_s"] = node.timeout_ms / 1000.0 if node.timeout_ms else None
            if node.kind == "state" or name in states:
                graph.add_state(name, join=node.join, quorum=node.quorum)
            else:
                graph.add_tool(name, **attrs)
        for state in states - set(spec.nodes):
            graph.add_state(state)
        for i, edge in enumerate(spec.edges):
            source_node, target = edge[0], edge[1]
            cost = edge[2] if len(edge) == 3 else 1.0
            if graph.digraph.has_edge(source_node, target):
                raise GraphError(f"field edges.{i}: duplicate edge {source_node} -> {target}")
            if source_node == target:  # validate() refuses it too; here the field is known
                raise GraphError(f"field edges.{i}: {source_node} -> {target} leads nowhere")
            graph.add_edge(source_node, target, cost)
        for i, fallback in enumerate(spec.fallbacks):
            if graph.fallback(fallback.goal) is not None:
                raise GraphError(f"field fallbacks.{i}: goal {fallback.goal!r} is declared twice")
            problem = graph.fallback_problem(fallback.goal)  # as validate(), with the field
            if problem is not None:
                raise GraphError(f"field fallbacks.{i}: goal {fallback.goal!r} {problem}")
            graph.add_fallback(fallback.goal, fallback.description)
        graph.validate()
    except GraphError as exc:
        # An unnamed graph is labelled by its source already.
        message = str(exc)
        raise GraphError(
            message if message.startswith(f"{source}: ") else f"{source}: {message}"
        ) from exc
    return graph


_TOOL_ONLY = ("price", "latency_ms", "reliability", "outputs", "timeout_ms", "risk", "idempotent")


def _check_nodes(spec: _GraphSpec, states: set[str], source: str) -> None:
    """A declared node no edge names is a typo on one side (``Stripe`` declared, ``Strpie``
    wired: the run used a default ``Strpie`` and ignored the declared hints). The start, goal
    and fallbacks are states, so tool hints on them would be dropped."""
    wired = {name for edge in spec.edges for name in edge[:2]}
    for name, node in spec.nodes.items():
        if name not in wired:
            near = difflib.get_close_matches(name, sorted(wired), n=1)
            hint = f"; did you mean the edges' {near[0]!r}?" if near else ""
            raise GraphError(f"{source}: field nodes.{name}: no edge names this node{hint}")
        hints = sorted(node.model_fields_set & set(_TOOL_ONLY))
        if hints and (name in states or node.kind == "state"):
            verb = "applies" if len(hints) == 1 else "apply"
            raise GraphError(
                f"{source}: field nodes.{name}: {', '.join(hints)} only {verb} to tools, and "
                f"{name} is a state (the start, the goal, a fallback, or kind: state)"
            )


def load_graph(path: str | Path) -> ToolGraph:
    """Load a graph definition from a ``.yaml``/``.yml`` or ``.json`` file."""
    file = Path(path)
    data = read_document(file, GraphError, "graph definition")
    return graph_from_definition(data, source=str(file))
