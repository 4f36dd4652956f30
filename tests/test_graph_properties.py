"""Property tests: routing with a goal bound (A*) is exactly as cheap as plain networkx Dijkstra.

Random graphs (cycles allowed), random masks, random completed steps, and observed conditions
that move weights up (the bound must still be used) or anywhere (it may be refused).
"""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.errors import NoPathError
from orchestrator.graph import GoalBound, GraphPolicy, ToolGraph, ToolStats, Weights, plan_route

POLICY = GraphPolicy()
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def graphs(draw: st.DrawFn) -> ToolGraph:
    tools = [f"T{i}" for i in range(draw(st.integers(min_value=1, max_value=9)))]
    graph = ToolGraph(start="S", goal="G", name="random")
    for tool in tools:
        graph.add_tool(
            tool,
            price=draw(unit),
            latency_ms=draw(st.floats(min_value=0.0, max_value=3000.0)),
            reliability=draw(st.floats(min_value=0.05, max_value=1.0)),
        )
    nodes = ["S", *tools, "G"]
    for source in nodes:
        for target in nodes:
            if source != target and target != "S" and source != "G" and draw(st.booleans()):
                graph.add_edge(source, target, draw(st.floats(min_value=0.0, max_value=5.0)))
    return graph


def observed(draw: st.DrawFn, tools: list[str]) -> dict[str, ToolStats]:
    return {
        t: ToolStats(
            latency_ms=draw(st.floats(min_value=0.0, max_value=3000.0)),
            failure_rate=draw(unit),
            pressure=draw(unit),
        )
        for t in tools
        if draw(st.booleans())
    }


def worse(draw: st.DrawFn, graph: ToolGraph, before: dict[str, ToolStats]) -> dict[str, ToolStats]:
    """Every tool's observations, each no better than ``before`` (or its declared prior)."""
    after = {}
    for tool in graph.tools():
        was = before.get(tool) or ToolStats.prior(graph.node(tool))
        after[tool] = ToolStats(
            latency_ms=was.latency_ms + draw(st.floats(min_value=0.0, max_value=2000.0)),
            failure_rate=min(1.0, was.failure_rate + draw(unit)),
            pressure=min(1.0, was.pressure + draw(unit)),
        )
    return after


def plain_cost(graph: ToolGraph, weights: Weights, done: set[str]) -> float | None:
    """The reference: networkx's own Dijkstra over the same weight callable."""
    sources = {graph.start, *done}
    try:
        if sources == {graph.start}:
            path = nx.dijkstra_path(graph.digraph, graph.start, graph.goal, weight=weights)
            return sum(weights.breakdown(u, v).weight for u, v in nx.utils.pairwise(path))
        cost, _ = nx.multi_source_dijkstra(graph.digraph, sources, graph.goal, weight=weights)
        return float(cost)
    except nx.NetworkXNoPath:
        return None


def routed_cost(
    graph: ToolGraph, weights: Weights, done: set[str], bound: GoalBound
) -> float | None:
    try:
        plan = plan_route(graph, weights, done=done, bound=bound)
    except NoPathError:
        return None
    # The plan's cost is the sum of its own edges' real weights, and they are the edges it runs.
    assert plan.cost == pytest.approx(sum(e.weight for e in plan.edges))
    assert all(e.target not in weights.masked for e in plan.edges)
    return plan.cost


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_bounded_route_costs_what_dijkstra_costs_when_weights_only_rise(
    data: st.DataObject,
) -> None:
    graph = data.draw(graphs())
    tools = graph.tools()
    before = observed(data.draw, tools)
    bound = GoalBound(graph, Weights(graph, POLICY, before))
    after = worse(data.draw, graph, before)
    masked = data.draw(st.sets(st.sampled_from(tools)))
    done = data.draw(st.sets(st.sampled_from(tools)))
    weights = Weights(graph, POLICY, after, masked)
    assert bound.admits(weights, {graph.start, *done})  # so the fast path is what is tested
    expected = plain_cost(graph, Weights(graph, POLICY, after, masked), done)
    got = routed_cost(graph, weights, done, bound)
    assert (got is None) == (expected is None)
    if expected is not None:
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_bounded_route_costs_what_dijkstra_costs_under_any_reweighting(
    data: st.DataObject,
) -> None:
    graph = data.draw(graphs())
    tools = graph.tools()
    bound = GoalBound(graph, Weights(graph, POLICY, observed(data.draw, tools)))
    after = observed(data.draw, tools)
    masked = data.draw(st.sets(st.sampled_from(tools)))
    done = data.draw(st.sets(st.sampled_from(tools)))
    expected = plain_cost(graph, Weights(graph, POLICY, after, masked), done)
    got = routed_cost(graph, Weights(graph, POLICY, after, masked), done, bound)
    assert (got is None) == (expected is None)
    if expected is not None:
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)
