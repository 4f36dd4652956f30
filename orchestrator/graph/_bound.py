"""Lower bounds on the cost to a goal, so routing can search towards it (A*) instead of around.

A ``GoalBound`` is one reverse Dijkstra from the goal over the unmasked graph with the weights of
the moment (ALT with the goal as its only landmark). It stays an admissible and consistent A*
heuristic for any later weights that are no lower on the edges a route may still use; ``admits``
checks that, and ``plan_route`` falls back to plain Dijkstra when it does not hold.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import networkx as nx

from orchestrator.errors import GraphError
from orchestrator.graph._graph import ToolGraph
from orchestrator.graph._weights import Weights

__all__ = ["GoalBound"]


class GoalBound:
    """The cheapest cost from every node to ``goal`` under the weights it was computed with.

    Masking a tool hides edges and worse observed latency, failure rate or rate-limit pressure
    only raise weights, so the distances remain lower bounds after either. A tool's factors that
    drop below the snapshot (it got faster or more reliable) break the bound unless the tool is
    already completed: routes never enter completed nodes, so their edges are not searched.
    Compute a new bound after changing the graph's structure.

    Parameters
    ----------
    graph
        A path graph (every node joins ``any``); joins are planned over the topological order.
    weights
        The weights of the moment; its mask is ignored.
    goal
        Defaults to the graph's goal.

    Raises
    ------
    GraphError
        If the graph has ``all`` or ``quorum`` joins.

    Examples
    --------
    >>> g = ToolGraph(start="S", goal="G")
    >>> g.add_edge("S", "A", 1.0); g.add_edge("A", "G", 0.0)
    >>> bound = GoalBound(g, Weights(g))
    >>> bound.admits(Weights(g, masked={"A"}))
    True
    """

    def __init__(self, graph: ToolGraph, weights: Weights, goal: str | None = None) -> None:
        if graph.has_joins:
            raise GraphError(
                f"{graph.name or 'graph'}: a goal bound needs a path graph; "
                "graphs with 'all' or 'quorum' joins are planned over their topological order"
            )
        self.graph = graph
        self.goal = goal or graph.goal
        self.policy = weights.policy
        unmasked = Weights(graph, weights.policy, weights.stats)

        def reverse(v: str, u: str, data: Mapping[str, Any]) -> float | None:
            return unmasked(u, v, data)

        self.distance: dict[str, float] = nx.single_source_dijkstra_path_length(
            graph.digraph.reverse(copy=False), self.goal, weight=reverse
        )
        # Snapshot values, not the ToolStats objects: execution updates those in place.
        self.factors = {node: unmasked.factors(node) for node in self.distance}
        self._observed = {
            t: (s.latency_ms, s.failure_rate, s.pressure) for t, s in weights.stats.items()
        }

    def admits(self, weights: Weights, done: Collection[str] = ()) -> bool:
        """Whether the bound is still a lower bound under ``weights`` for routes from ``done``.

        True when every tool not masked and not completed weighs at least what it weighed when
        the bound was computed (each factor of the formula compared separately). Costs one
        comparison per tool with observed stats. When it holds, ``weights`` is told to take the
        snapshot's factors for every tool whose observations did not change.
        """
        if weights.graph is not self.graph or weights.policy != self.policy:
            return False
        holds = True
        for tool in self._observed.keys() | weights.stats.keys():
            then = self.factors.get(tool)
            if then is None:
                continue  # no route from it to the goal: routes never enter it
            stats = weights.stats.get(tool)
            now_observed = (stats.latency_ms, stats.failure_rate, stats.pressure) if stats else None
            if now_observed == self._observed.get(tool):
                continue
            now = weights.factors(tool)  # computed here, so the snapshot is never assumed for it
            if tool not in weights.masked and tool not in done:
                holds = holds and all(a >= b for a, b in zip(now, then, strict=True))
        if holds:
            weights.assume(self.factors)
        return holds
