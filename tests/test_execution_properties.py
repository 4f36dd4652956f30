"""Property tests: random graphs and random fault sets, checked against brute force.

Never a silent failure; no down tool reported as executed; ``completed`` exactly when a healthy
route exists; no step runs twice after a reroute.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.execution import Executor
from orchestrator.graph import ToolGraph
from orchestrator.policy import Policy
from orchestrator.scenarios import SIMULATED_OUTPUTS, FaultInjector, SimulatedInvoker
from orchestrator.scenarios._model import ScenarioSpec

FAST = Policy.model_validate(
    {"execution": {"retry": {"initial_s": 0.0, "max_s": 0.0, "jitter_s": 0.0, "max_attempts": 3}}}
)
# Faults that make a tool unusable for the whole run, and ones retries get through.
BROKEN = ("down", "error", "malformed")
FAULTS = (None, "down", "error", "malformed", "transient", "rate_limited")


@st.composite
def faulted_graphs(draw: st.DrawFn, joins: bool) -> tuple[ToolGraph, dict[str, str | None]]:
    n = draw(st.integers(min_value=2, max_value=7))
    tools = [f"T{i}" for i in range(n)]
    graph = ToolGraph(start="S", goal="G", name="random")
    for tool in tools:
        join = draw(st.sampled_from(["any", "all"])) if joins else "any"
        graph.add_tool(tool, join=join, outputs=SIMULATED_OUTPUTS)
    if joins:
        graph.add_state("G", join=draw(st.sampled_from(["any", "all"])))
    order = ["S", *tools, "G"]
    cost = st.floats(min_value=0.0, max_value=5.0, allow_nan=False)
    for i, source in enumerate(order[:-1]):
        for target in order[i + 1 :]:
            if (source, target) == ("S", "G"):
                continue
            if draw(st.booleans()):
                graph.add_edge(source, target, draw(cost))
    # Keep the goal reachable structurally so the graph is valid; faults decide the rest.
    if not nx.has_path(graph.digraph, "S", "G"):
        graph.add_edge("S", tools[0], draw(cost))
        graph.add_edge(tools[0], "G", draw(cost))
    for tool in tools:
        if graph.digraph.degree(tool) == 0:
            graph.digraph.remove_node(tool)
    if not _derivable(graph, set(graph.digraph)):
        # A join waits for an input nothing leads to (validation refuses that): one more way in.
        graph.add_tool("TZ", outputs=SIMULATED_OUTPUTS)
        graph.add_edge("S", "TZ", draw(cost))
        graph.add_edge("TZ", "G", draw(cost))
        graph.add_state("G")  # any of its inputs
    faults = {t: draw(st.sampled_from(FAULTS)) for t in graph.tools()}
    return graph, faults


def _injector(graph: ToolGraph, faults: dict[str, str | None]) -> FaultInjector:
    specs: list[dict[str, Any]] = []
    for tool, kind in faults.items():
        if kind == "transient":
            specs.append({"tool": tool, "kind": "error", "times": 2})
        elif kind == "rate_limited":
            specs.append({"tool": tool, "kind": "rate_limited", "times": 1, "retry_after_ms": 0})
        elif kind is not None:
            specs.append({"tool": tool, "kind": kind})
    spec = ScenarioSpec.model_validate(
        {"id": "p", "graph": {}, "faults": specs, "expect": {"outcome": "completed"}}
    )
    return FaultInjector(SimulatedInvoker(graph), spec.faults)


def _healthy(graph: ToolGraph, faults: dict[str, str | None]) -> set[str]:
    return {n for n in graph.digraph if not graph.node(n).is_tool or faults.get(n) not in BROKEN}


def _reachable_by_paths(graph: ToolGraph, healthy: set[str]) -> bool:
    return any(
        all(n in healthy for n in path)
        for path in nx.all_simple_paths(graph.digraph, graph.start, graph.goal)
    )


def _derivable(graph: ToolGraph, healthy: set[str]) -> bool:
    g = graph.digraph
    derived = {graph.start}
    for v in nx.topological_sort(g):
        preds = [u for u in g.predecessors(v)]
        if v == graph.start or v not in healthy or not preds:
            continue
        have = [u in derived for u in preds]
        if (graph.node(v).join == "all" and all(have)) or (
            graph.node(v).join == "any" and any(have)
        ):
            derived.add(v)
    return graph.goal in derived


def _check_run(graph: ToolGraph, faults: dict[str, str | None], healthy_route: bool) -> None:
    executor = Executor(graph, _injector(graph, faults), policy=FAST)
    result = anyio.run(executor.run)
    assert result.silent_failures() == []
    executed = [d.tool for d in result.log if d.action == "execute"]
    assert not {t for t in executed if faults.get(t) in BROKEN}
    assert not set(result.path) & {t for t, k in faults.items() if k in BROKEN}
    assert max(Counter(executed).values(), default=0) <= 1
    assert sorted(executed) == sorted(result.path)  # waves log in finishing order
    assert (result.outcome == "completed") == healthy_route
    if result.outcome != "completed":
        assert result.log.entries[-1].action == "escalate"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(faulted_graphs(joins=False))
def test_paths_complete_exactly_when_a_healthy_path_exists(
    case: tuple[ToolGraph, dict[str, str | None]],
) -> None:
    graph, faults = case
    _check_run(graph, faults, _reachable_by_paths(graph, _healthy(graph, faults)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(faulted_graphs(joins=True))
def test_joins_complete_exactly_when_a_healthy_plan_exists(
    case: tuple[ToolGraph, dict[str, str | None]],
) -> None:
    graph, faults = case
    _check_run(graph, faults, _derivable(graph, _healthy(graph, faults)))
