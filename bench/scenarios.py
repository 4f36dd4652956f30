"""Benchmark: the self-healing router against two baselines on every scenario, plus routing and
executor overhead timings. Prints tables and writes bench/results/scenarios.json.

    python bench/scenarios.py [--repeat N]

Baselines run in the same process on the same scenario files and fault injector:
a ReAct-style agent (one scripted-LLM call per routing step and per failure) and a static
workflow (fixed stages with one fallback each, skipping a stage when both fail).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio

from orchestrator.execution import CallableInvoker, Executor
from orchestrator.graph import GoalBound, ToolGraph, ToolStats, Weights, plan_route
from orchestrator.policy import Policy
from orchestrator.scenarios import CONTROLLERS, load_scenario, run_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "tests" / "scenarios").glob("*.yaml"))
RESULTS = ROOT / "bench" / "results"


async def scenario_table() -> list[dict[str, Any]]:
    scenarios = [load_scenario(p) for p in SCENARIOS]
    rows: list[dict[str, Any]] = []
    for controller in CONTROLLERS:
        per: dict[str, dict[str, Any]] = {}
        started = time.perf_counter()
        for scenario in scenarios:
            result = await run_scenario(scenario, controller)
            for key in (scenario.topology, "total"):
                row = per.setdefault(
                    key,
                    {
                        "controller": controller,
                        "topology": key,
                        "scenarios": 0,
                        "correct_outcome": 0,
                        "all_expectations": 0,
                        "llm_calls": 0,
                        "llm_calls_on_completed": 0,
                        "reroutes": 0,
                        "retries": 0,
                        "silent_failures": 0,
                    },
                )
                row["scenarios"] += 1
                row["correct_outcome"] += int(result.outcome_correct)
                row["all_expectations"] += int(result.passed)
                row["llm_calls"] += result.llm_calls
                if result.last.outcome == "completed":
                    row["llm_calls_on_completed"] += result.llm_calls
                row["reroutes"] += result.log.count("reroute")
                row["retries"] += result.log.count("retry")
                row["silent_failures"] += len(result.silent_failures)
        per["total"]["seconds"] = round(time.perf_counter() - started, 2)
        rows.extend(per[k] for k in ("linear", "dag", "fanout", "total"))
    return rows


def generated_graph(nodes: int, edges: int, seed: int) -> ToolGraph:
    """A random forward-edge graph: tool i links to tools up to 200 positions ahead."""
    rng = random.Random(seed)
    graph = ToolGraph(start="S", goal="G", name=f"gen-{nodes}")
    names = [f"t{i}" for i in range(nodes)]
    for name in names:
        graph.add_tool(
            name,
            price=rng.random() * 0.1,
            latency_ms=rng.uniform(10, 2000),
            reliability=rng.uniform(0.8, 1.0),
        )
    g = graph.digraph
    for name in names[:10]:
        g.add_edge("S", name, cost=rng.random())
    for name in names[-10:]:
        g.add_edge(name, "G", cost=rng.random())
    count = g.number_of_edges()  # networkx counts edges in O(n); keep our own tally
    while count < edges:
        u = rng.randrange(nodes - 1)
        v = min(nodes - 1, u + rng.randint(1, 200))
        if not g.has_edge(names[u], names[v]):
            g.add_edge(names[u], names[v], cost=rng.random())
            count += 1
    return graph


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000.0, 3)


def routing_timings(repeat: int) -> list[dict[str, Any]]:
    """Plain multi-source Dijkstra against the same search guided by a goal bound (A*).

    The bound is one reverse Dijkstra from the goal, computed once per graph and timed apart;
    every routed cost is checked against plain Dijkstra's.
    """
    rows = []
    for nodes, edges in ((1_000, 10_000), (10_000, 100_000)):
        graph = generated_graph(nodes, edges, seed=nodes)
        started = time.perf_counter()
        bound = GoalBound(graph, Weights(graph))
        bound_s = time.perf_counter() - started
        # Observed conditions drift after the bound: a tenth of the tools got 3x slower.
        rng = random.Random(nodes)
        slower = {
            t: ToolStats(
                latency_ms=3 * graph.node(t).latency_ms,
                failure_rate=1.0 - graph.node(t).reliability,
            )
            for t in rng.sample(graph.tools(), nodes // 10)
        }
        keys = ("full", "reroute", "a_full", "a_rr", "a_drift")
        timings: dict[str, list[float]] = {k: [] for k in keys}
        for i in range(repeat):
            started = time.perf_counter()
            plan = plan_route(graph, Weights(graph))
            timings["full"].append(time.perf_counter() - started)
            started = time.perf_counter()
            fast = plan_route(graph, Weights(graph), bound=bound)
            timings["a_full"].append(time.perf_counter() - started)
            # Fail the middle step of the route; replan from the completed prefix.
            path = list(plan.path)
            failed = path[len(path) // 2 + (i % 2)]
            done = path[1 : path.index(failed)]
            started = time.perf_counter()
            rerouted = plan_route(graph, Weights(graph, masked={failed}), done=done)
            timings["reroute"].append(time.perf_counter() - started)
            masked = Weights(graph, masked={failed})
            assert bound.admits(masked, {graph.start, *done})  # the fast path is what is timed
            started = time.perf_counter()
            fast_rerouted = plan_route(graph, masked, done=done, bound=bound)
            timings["a_rr"].append(time.perf_counter() - started)
            drifted = Weights(graph, stats=slower, masked={failed})
            started = time.perf_counter()
            fast_drifted = plan_route(graph, drifted, done=done, bound=bound)
            timings["a_drift"].append(time.perf_counter() - started)
            drifted_exact = plan_route(
                graph, Weights(graph, stats=slower, masked={failed}), done=done
            )
            pairs = ((plan, fast), (rerouted, fast_rerouted), (drifted_exact, fast_drifted))
            for exact, quick in pairs:
                assert math.isclose(exact.cost, quick.cost, rel_tol=1e-9), (exact.cost, quick.cost)
        ms = {k: _median_ms(v) for k, v in timings.items()}
        rows.append(
            {
                "nodes": nodes,
                "edges": graph.digraph.number_of_edges(),
                "path_length": len(plan.path),
                "dijkstra_ms": ms["full"],
                "reroute_ms": ms["reroute"],
                "bound_once_ms": round(bound_s * 1000.0, 3),
                "astar_ms": ms["a_full"],
                "astar_reroute_ms": ms["a_rr"],
                "reroute_speedup": round(ms["reroute"] / ms["a_rr"], 1),
                "astar_reroute_drifted_ms": ms["a_drift"],
            }
        )
    return rows


async def _noop(arguments: Mapping[str, Any]) -> dict[str, bool]:
    return {"ok": True}


async def executor_overhead(steps: int, repeat: int) -> dict[str, Any]:
    graph = ToolGraph(start="S", goal="G", name="chain")
    previous = "S"
    for i in range(steps):
        graph.add_edge(previous, f"t{i}", 1.0)
        graph.add_edge(previous, f"alt{i}", 2.0)  # an alternative per stage, so routing has work
        previous = f"t{i}"
    graph.add_edge(previous, "G", 0.0)
    invoker = CallableInvoker({t: _noop for t in graph.tools()}, threaded=False)
    executor = Executor(graph, invoker, policy=Policy())
    direct, managed = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        for i in range(steps):
            await invoker.invoke(f"t{i}", {})
        direct.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = await executor.run()
        managed.append(time.perf_counter() - started)
        assert result.outcome == "completed" and len(result.path) == steps
    per_step = (statistics.median(managed) - statistics.median(direct)) / steps
    return {
        "steps": steps,
        "direct_calls_ms": _median_ms(direct),
        "executor_run_ms": _median_ms(managed),
        "overhead_per_step_ms": round(per_step * 1000.0, 4),
    }


def _print(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    keys = list(rows[0])
    widths = [max(len(k), *(len(str(r.get(k, ""))) for r in rows)) for k in keys]
    print("  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True)))
    for row in rows:
        print("  ".join(str(row.get(k, "")).ljust(w) for k, w in zip(keys, widths, strict=True)))


async def main(repeat: int) -> None:
    scenarios = await scenario_table()
    _print(f"Scenarios ({len(SCENARIOS)} files)", scenarios)
    routing = routing_timings(repeat)
    _print("Routing on generated graphs (median ms)", routing)
    overhead = await executor_overhead(steps=50, repeat=repeat)
    _print("Executor overhead (50-step chain, async no-op tools, median)", [overhead])
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "scenarios.json"
    out.write_text(
        json.dumps({"scenarios": scenarios, "routing": routing, "executor": overhead}, indent=2)
    )
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="Timing repetitions.")
    args = parser.parse_args()
    anyio.run(main, args.repeat)
