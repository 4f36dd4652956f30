"""Plan the cheapest healthy way from what is done to a goal.

Graphs whose nodes all take ``any`` predecessor are routed with networkx's multi-source Dijkstra
from every completed node, so a reroute never re-runs a finished step; given a ``GoalBound`` that
still holds, the same search runs on reduced weights, which makes it A*. Graphs with ``all`` or
``quorum`` joins are planned over their topological order: a join costs the steps its inputs need,
each paid once, and the plan is the set of steps that feeds the goal.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from orchestrator.errors import NoPathError
from orchestrator.graph._bound import GoalBound
from orchestrator.graph._graph import ToolGraph
from orchestrator.graph._weights import EdgeCost, Weights

__all__ = ["Plan", "plan_route"]


@dataclass(frozen=True)
class Plan:
    """The steps still to run to reach ``goal``, what each waits for, and why it is cheapest.

    ``steps`` are in dependency order and exclude completed nodes; ``needs[step]`` are the
    predecessors the step waits for; ``edges`` give the cost breakdown of every edge used.
    """

    goal: str
    steps: tuple[str, ...]
    needs: Mapping[str, tuple[str, ...]]
    edges: tuple[EdgeCost, ...]
    cost: float
    origin: tuple[str, ...] = field(default=())

    @property
    def path(self) -> tuple[str, ...]:
        """For a path plan: the completed node it starts from, then its steps."""
        return (*self.origin, *self.steps)

    def ready(self, done: Collection[str]) -> list[str]:
        """Steps not yet done whose every needed predecessor is done."""
        return [s for s in self.steps if s not in done and all(p in done for p in self.needs[s])]

    def explain(self) -> list[str]:
        """One line per edge, with its factors, then the total."""
        return [e.describe() for e in self.edges] + [f"total cost {self.cost:.4g}"]


def plan_route(
    graph: ToolGraph,
    weights: Weights,
    *,
    goal: str | None = None,
    done: Collection[str] = (),
    bound: GoalBound | None = None,
) -> Plan:
    """The cheapest plan from the completed nodes ``done`` (plus the start) to ``goal``.

    Parameters
    ----------
    graph
        The tool graph.
    weights
        The weight callable; masked tools are unreachable.
    goal
        Defaults to the graph's goal; pass a fallback goal after a demotion.
    done
        Nodes already completed; they cost nothing and are never planned again.
    bound
        Lower bounds on the cost to ``goal``. When they still hold for ``weights``
        (``bound.admits``), the search is A* and settles little beyond the route; otherwise it
        is plain Dijkstra; either way the path is the cheapest. Graphs with joins are planned
        without it: each node keeps its cheapest way in, and a step that several inputs of a
        join share is paid once. That is the cheapest plan, except where two branches would
        each be cheaper with a different way into a step they share.

    Raises
    ------
    NoPathError
        If no healthy plan reaches the goal (the trigger for escalation).

    Examples
    --------
    >>> g = ToolGraph(start="S", goal="G")
    >>> g.add_edge("S", "A", 1.0); g.add_edge("A", "G", 0.0)
    >>> plan_route(g, Weights(g)).steps
    ('A', 'G')
    """
    target = goal or graph.goal
    completed = {graph.start, *done}
    if target in completed:
        return Plan(goal=target, steps=(), needs={}, edges=(), cost=0.0)
    if bound is not None and bound.goal == target and bound.admits(weights, completed):
        return _plan_towards(graph, weights, bound, target, completed)
    if graph.has_joins:
        return _plan_joins(graph, weights, target, completed)
    try:
        cost, path = nx.multi_source_dijkstra(
            graph.digraph, completed, target=target, weight=weights
        )
    except nx.NetworkXNoPath:
        raise NoPathError(_no_path_message(graph, target, weights)) from None
    return _path_plan(weights, target, path, float(cost))


def _path_plan(weights: Weights, goal: str, path: list[str], cost: float | None = None) -> Plan:
    edges = tuple(weights.breakdown(path[i], path[i + 1]) for i in range(len(path) - 1))
    return Plan(
        goal=goal,
        steps=tuple(path[1:]),
        needs={path[i + 1]: (path[i],) for i in range(len(path) - 1)},
        edges=edges,
        cost=sum(e.weight for e in edges) if cost is None else cost,
        origin=(path[0],),
    )


def _plan_towards(
    graph: ToolGraph, weights: Weights, bound: GoalBound, goal: str, completed: set[str]
) -> Plan:
    """Multi-source A*: Dijkstra on weights reduced by the bound ``h``.

    An edge u -> v weighs w - h(u) + h(v), which a consistent bound keeps >= 0; an edge leaving a
    completed node weighs w + h(v), so every source starts at its own estimate and the distance
    settled at the goal is the route's true cost. Edges into completed nodes are hidden (no route
    needs them) and so are edges into nodes with no way to the goal.
    """
    h = bound.distance

    def reduced(u: str, v: str, data: Mapping[str, Any]) -> float | None:
        hv = h.get(v)
        if hv is None or v in completed:
            return None
        w = weights(u, v, data)
        if w is None:
            return None
        if u in completed:
            return w + hv
        # Rounding can leave an edge on a bounding route a hair below zero.
        return max(0.0, w - h[u] + hv)

    try:
        _, path = nx.multi_source_dijkstra(graph.digraph, completed, target=goal, weight=reduced)
    except nx.NetworkXNoPath:
        raise NoPathError(_no_path_message(graph, goal, weights)) from None
    # The settled distance is in reduced units; the plan's cost is the sum of its real weights.
    return _path_plan(weights, goal, path)


def _no_path_message(graph: ToolGraph, goal: str, weights: Weights) -> str:
    masked = ", ".join(sorted(weights.masked)) or "none"
    return f"no healthy path to {goal!r} in {graph.name or 'graph'} (masked tools: {masked})"


def _plan_joins(graph: ToolGraph, weights: Weights, goal: str, done: set[str]) -> Plan:
    """Join-aware planning over the topological order.

    Each node's plan is the set of edges that reaches it; a join takes the union of its inputs'
    sets, so a step two branches share (one fetch feeding a parser and a summary) is paid once,
    and a step is charged its price once however many inputs it waits for. Edge sets are
    compared by that true cost; a node that takes ``any`` predecessor keeps its cheapest one.
    """
    g = graph.digraph
    best: dict[str, frozenset[tuple[str, str]]] = {}
    choice: dict[str, tuple[str, ...]] = {}
    for v in nx.topological_sort(g):
        if v in done:
            best[v], choice[v] = frozenset(), ()
            continue
        feasible: list[tuple[float, str, frozenset[tuple[str, str]]]] = []
        for u, data in g.pred[v].items():
            if u in best and weights(u, v, data) is not None:
                reach = best[u] | {(u, v)}
                feasible.append((_edge_set_cost(graph, weights, reach), u, reach))
        feasible.sort(key=lambda f: (f[0], f[1]))
        node = graph.node(v)
        preds = len(g.pred[v])
        if node.join == "any":
            chosen = feasible[:1]
        elif node.join == "all":
            chosen = feasible if preds and len(feasible) == preds else []
        else:
            k = node.quorum or preds
            met = [f for f in feasible if f[1] in done]
            # Quorum already met by finished branches: wait for nothing else. Otherwise fan out
            # to every feasible branch at once, so up to n - k of them may still fail.
            chosen = met if len(met) >= k else feasible
            chosen = chosen if len(chosen) >= k else []
        if chosen:
            best[v] = frozenset().union(*(reach for _, _, reach in chosen))
            choice[v] = tuple(u for _, u, _ in chosen)
        if v == goal:
            break
    if goal not in best:
        raise NoPathError(_no_path_message(graph, goal, weights))
    needed: set[str] = set()
    stack = [goal]
    while stack:
        v = stack.pop()
        if v in needed or v in done:
            continue
        needed.add(v)
        stack.extend(choice[v])
    order = [v for v in nx.topological_sort(g) if v in needed]
    # The first input of a step carries its price; the others only their own edge cost.
    edges = tuple(
        weights.breakdown(u, v, price=i == 0) for v in order for i, u in enumerate(choice[v])
    )
    return Plan(
        goal=goal,
        steps=tuple(order),
        needs={v: choice[v] for v in order},
        edges=edges,
        cost=sum(e.weight for e in edges),
    )


def _edge_set_cost(graph: ToolGraph, weights: Weights, edges: frozenset[tuple[str, str]]) -> float:
    """The cost of running a set of edges: each edge's own cost, and each step it enters
    charged its price once, all times the step's latency, reliability and pressure factors."""
    base: dict[str, float] = {}
    for u, v in edges:
        base[v] = base.get(v, 0.0) + float(graph.digraph.edges[u, v]["cost"])
    total = 0.0
    for target, own in base.items():
        price, latency, reliability, pressure = weights.factors(target)
        total += weights.base(target, own, price) * latency * reliability * pressure
    return total
