"""ToolGraph: a ``networkx.DiGraph`` whose nodes are tools and states and whose edges carry a cost.

Tools are what execution invokes; states (the start, the goal, fallback goals, join points) are
reached without a call. A node's ``join`` says how many of its predecessors it needs: one of
them (``any``, a path), every one (``all``, a dependency join) or ``quorum`` of them (a fan-out).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import networkx as nx

from orchestrator._json_schema import schema_problem
from orchestrator.errors import GraphError

if TYPE_CHECKING:
    from orchestrator.catalog import Skill

__all__ = ["Fallback", "Join", "NodeKind", "ToolGraph", "ToolNode"]

NodeKind = Literal["tool", "state"]
Join = Literal["any", "all", "quorum"]


@dataclass(frozen=True)
class ToolNode:
    """One node: a tool with its declared cost hints, or a state reached without a call.

    ``idempotent`` says whether the tool is safe to call again after an ambiguous failure (a
    timeout, a connection lost mid-call). Graph tools are assumed to be; a tool that may change
    the world (an MCP tool not marked read-only or idempotent) sets it false, and then such a
    failure escalates instead of being retried or rerouted.
    """

    name: str
    kind: NodeKind = "tool"
    price: float = 0.0
    latency_ms: float = 100.0
    reliability: float = 0.99
    outputs: Mapping[str, Any] | None = None
    join: Join = "any"
    quorum: int | None = None
    timeout_s: float | None = None
    risk: float = 0.0
    description: str = ""
    idempotent: bool = True

    @property
    def is_tool(self) -> bool:
        return self.kind == "tool"


@dataclass(frozen=True)
class Fallback:
    """A lesser goal the task may be demoted to when the goal cannot be reached."""

    goal: str
    description: str = ""


@dataclass
class ToolGraph:
    """A tool graph: a start state, a goal state, tools between them and fallback goals.

    Build it from code (``add_tool``, ``add_edge``) or from a definition with ``load_graph``.

    Examples
    --------
    >>> g = ToolGraph(start="Start", goal="Done")
    >>> g.add_tool("Search", price=0.01)
    >>> g.add_edge("Start", "Search", 0.1)
    >>> g.add_edge("Search", "Done", 0.0)
    >>> g.validate()
    """

    start: str
    goal: str
    name: str = ""
    fallbacks: list[Fallback] = field(default_factory=list)
    digraph: nx.DiGraph = field(default_factory=nx.DiGraph, repr=False)

    def __post_init__(self) -> None:
        for state in (self.start, self.goal):
            if state not in self.digraph:
                self.add_state(state)

    # -- building -------------------------------------------------------------------------------

    def add_tool(self, tool: str | Skill, **attributes: Any) -> None:
        """Add (or replace) a tool; a ``Skill`` contributes its name, cost hints and outputs."""
        if isinstance(tool, str):
            node = ToolNode(name=tool, **attributes)
        else:
            hints: dict[str, Any] = {
                "price": tool.price,
                "latency_ms": tool.latency_ms,
                "reliability": tool.reliability,
                "outputs": tool.outputs,
                "description": tool.description,
                "idempotent": tool.repeatable,
            }
            node = ToolNode(name=tool.id, **{**hints, **attributes})
        self._put(node)

    def add_state(self, name: str, *, join: Join = "any", quorum: int | None = None) -> None:
        """Add a state: a node reached without a call (a join point, a goal)."""
        self._put(ToolNode(name=name, kind="state", join=join, quorum=quorum))

    def add_edge(self, source: str, target: str, cost: float = 1.0) -> None:
        """Add an edge; unknown endpoints become tools with default cost hints."""
        if not (math.isfinite(cost) and cost >= 0):
            raise GraphError(
                f"edge {source} -> {target}: cost must be a finite number >= 0, got {cost}"
            )
        for name in (source, target):
            if name not in self.digraph:
                self.add_tool(name)
        self.digraph.add_edge(source, target, cost=float(cost))

    def add_fallback(self, goal: str, description: str = "") -> None:
        """Declare a fallback goal the task may be demoted to; a goal is a state, never a tool."""
        if goal not in self.digraph or self.node(goal).is_tool:
            self.add_state(goal)
        self.fallbacks.append(Fallback(goal=goal, description=description))

    def _put(self, node: ToolNode) -> None:
        if node.join == "quorum" and (node.quorum is None or node.quorum < 1):
            raise GraphError(f"node {node.name}: join 'quorum' needs quorum >= 1")
        if node.join != "quorum" and node.quorum is not None:
            raise GraphError(f"node {node.name}: quorum is only valid with join 'quorum'")
        if not 0.0 < node.reliability <= 1.0:
            raise GraphError(f"node {node.name}: reliability must be in (0, 1]")
        for hint in ("price", "latency_ms"):
            value = getattr(node, hint)
            if not (math.isfinite(value) and value >= 0):
                raise GraphError(
                    f"node {node.name}: {hint} must be a finite number >= 0, got {value}"
                )
        if node.outputs is not None:
            _check_outputs(node.name, node.outputs)
        self.digraph.add_node(node.name, node=node)

    # -- reading --------------------------------------------------------------------------------

    def node(self, name: str) -> ToolNode:
        """The node called ``name``."""
        try:
            found: ToolNode = self.digraph.nodes[name]["node"]
        except KeyError:
            raise GraphError(f"graph {self.name or '?'}: no node {name!r}") from None
        return found

    def nodes(self) -> Iterator[ToolNode]:
        for _, data in self.digraph.nodes(data=True):
            yield data["node"]

    def tools(self) -> list[str]:
        """Names of the tool nodes, in insertion order."""
        return [n.name for n in self.nodes() if n.is_tool]

    def predecessors(self, name: str) -> list[str]:
        return list(self.digraph.predecessors(name))

    def fallback(self, goal: str) -> Fallback | None:
        return next((f for f in self.fallbacks if f.goal == goal), None)

    @property
    def has_joins(self) -> bool:
        """Whether any node needs more than one predecessor, so plans are sets, not paths."""
        return any(n.join != "any" for n in self.nodes())

    def fallback_problem(self, goal: str) -> str | None:
        """Why ``goal`` cannot be a fallback of this graph (None when it can): a demotion to
        the goal itself, or to the start, is none, and no handler was asked, with no word why."""
        if goal not in (self.goal, self.start):
            return None
        which = "goal" if goal == self.goal else "start"
        return f"is the graph's {which}; a fallback is a lesser goal than the goal"

    def validate(self) -> None:
        """Check the structure; raise ``GraphError`` naming what is wrong."""
        label = self.name or "graph"
        if self.goal == self.start:
            # Dijkstra would answer "not reachable" (it found no edge from the start to itself).
            raise GraphError(f"{label}: goal and start are the same node {self.start!r}")
        if self.digraph.in_degree(self.start) and self.node(self.start).join != "any":
            raise GraphError(f"{label}: start {self.start!r} cannot be a join")
        for source, target in nx.selfloop_edges(self.digraph):
            raise GraphError(f"{label}: edge {source} -> {target} leads nowhere")
        for fallback in self.fallbacks:
            problem = self.fallback_problem(fallback.goal)
            if problem is not None:
                raise GraphError(f"{label}: fallback {fallback.goal!r} {problem}")
        for node in self.nodes():
            if node.join == "quorum" and (node.quorum or 0) > self.digraph.in_degree(node.name):
                raise GraphError(
                    f"{label}: node {node.name}: quorum {node.quorum} exceeds its "
                    f"{self.digraph.in_degree(node.name)} predecessors"
                )
        if self.has_joins and not nx.is_directed_acyclic_graph(self.digraph):
            raise GraphError(f"{label}: a graph with 'all' or 'quorum' joins must be acyclic")
        reachable, blocked = self._reachable()
        for goal in [self.goal, *(f.goal for f in self.fallbacks)]:
            if goal not in reachable:
                why = f" ({blocked[0]})" if blocked else ""
                raise GraphError(
                    f"{label}: goal {goal!r} is not reachable from {self.start!r}{why}"
                )

    def _reachable(self) -> tuple[set[str], list[str]]:
        """Nodes some run from the start can reach, and why joins on the way cannot run: an
        ``all`` join needs every predecessor reached, a quorum ``quorum`` of them. A join behind
        a step nothing leads to can never run; the run had found out only when it started."""
        if not self.has_joins:
            return set(nx.descendants(self.digraph, self.start)), []
        reached, blocked = {self.start}, []
        for name in nx.topological_sort(self.digraph):
            preds = list(self.digraph.predecessors(name))
            if name == self.start or not preds:
                continue
            node = self.node(name)
            missing = [p for p in preds if p not in reached]
            need = {"any": 1, "all": len(preds)}.get(node.join, node.quorum or len(preds))
            if len(preds) - len(missing) >= need:
                reached.add(name)
            elif node.join != "any" and len(missing) < len(preds):
                blocked.append(
                    f"join {name!r} needs {need} of its inputs, and "
                    f"{', '.join(map(repr, missing))} cannot be reached"
                )
        reached.discard(self.start)
        return reached, blocked


def _check_outputs(name: str, outputs: Mapping[str, Any]) -> None:
    """Refuse an outputs schema that is not JSON Schema. Execution validates every result
    against it, and a broken schema made each good result fail: the tool was retried,
    rerouted and held unhealthy for the schema's fault, its side effects repeated."""
    problem = schema_problem(outputs)
    if problem is not None:
        where = "".join(f"/{part}" for part in problem.path)
        raise GraphError(
            f"node {name}: field outputs{where}: not a valid JSON Schema: {problem.message}"
        )
