"""Benchmark: what tracing costs the executor. Executor steps per second on the customer-support
graph (simulated tools, one reroute per run) in four modes, interleaved in one process:

- ``bare``: no telemetry call at all (the baseline);
- ``off``: the hooks in place (``tracing()`` with nothing configured, ``traced_run``) but off;
- ``on-memory``: spans and metrics recorded, exported to memory;
- ``on-file``: spans and metrics written as OTLP JSON lines to a temporary file.

Prints a table and writes bench/results/telemetry_overhead.json.

    python bench/telemetry_overhead.py [--runs 300] [--rounds 8]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import anyio
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from orchestrator.execution import DecisionLog, Executor
from orchestrator.scenarios import FaultInjector, SimulatedInvoker, load_scenario
from orchestrator.telemetry import traced_run, tracing

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "tests" / "scenarios" / "cs10_persistent_error_rerouted.yaml"
RESULTS = ROOT / "bench" / "results"
MODES = ("bare", "off", "on-memory", "on-file")


@contextmanager
def _mode(mode: str, directory: Path) -> Iterator[None]:
    block: AbstractContextManager[Any]
    if mode == "bare":
        block = nullcontext()
    elif mode == "off":
        block = tracing()
    elif mode == "on-memory":
        block = tracing(exporters=[InMemorySpanExporter()], metric_readers=[InMemoryMetricReader()])
    else:
        block = tracing(directory / "trace.jsonl")
    with block:
        yield


async def _round(mode: str, runs: int, directory: Path) -> tuple[float, int]:
    """Seconds for ``runs`` runs and the steps they took (retries make some steps repeat)."""
    scenario = load_scenario(SCENARIO)
    steps = 0
    # The scenario's fault (Stripe errors, retried then rerouted) without the retry back-off.
    execution = scenario.policy.execution
    no_wait = execution.retry.model_copy(update={"initial_s": 0.0, "max_s": 0.0, "jitter_s": 0.0})
    policy = scenario.policy.model_copy(
        update={"execution": execution.model_copy(update={"retry": no_wait})}
    )
    with _mode(mode, directory):
        started = time.perf_counter()
        for _ in range(runs):
            invoker = FaultInjector(SimulatedInvoker(scenario.graph), scenario.spec.faults)
            executor = Executor(scenario.graph, invoker, policy=policy)
            log = DecisionLog()
            if mode == "bare":
                await executor.run(scenario.spec.inputs, log=log)
            else:
                with traced_run(log, scenario.spec.name, workflow=scenario.id) as run:
                    run.set_result(await executor.run(scenario.spec.inputs, log=log))
            steps += log.count("execute") + log.count("fail")
        elapsed = time.perf_counter() - started
    return elapsed, steps


async def measure(runs: int, rounds: int) -> list[dict[str, Any]]:
    rates: dict[str, list[float]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        await _round("bare", max(runs // 10, 1), directory)  # warm-up: imports, caches
        for n in range(rounds):
            # Interleaved, and each round in a rotated order, so drift and position (which mode
            # runs right after another's garbage) hit every mode alike.
            for mode in MODES[n % len(MODES) :] + MODES[: n % len(MODES)]:
                gc.collect()
                elapsed, steps = await _round(mode, runs, directory)
                rates[mode].append(steps / elapsed)
    base = statistics.median(rates["bare"])
    rows = []
    for mode in MODES:
        median = statistics.median(rates[mode])
        rows.append(
            {
                "mode": mode,
                "steps_per_s": round(median, 1),
                "min": round(min(rates[mode]), 1),
                "max": round(max(rates[mode]), 1),
                "vs_bare": round(median / base, 3),
                "us_per_step": round(1e6 / median, 1),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=300, help="Runs per round and mode.")
    parser.add_argument("--rounds", type=int, default=8, help="Interleaved rounds per mode.")
    args = parser.parse_args()
    rows = anyio.run(measure, args.runs, args.rounds)
    print(f"executor steps/s, {args.runs} runs x {args.rounds} rounds per mode (median, min-max)")
    print(f"{'mode':<10} {'steps/s':>9} {'min':>9} {'max':>9} {'vs bare':>8} {'us/step':>8}")
    for r in rows:
        print(
            f"{r['mode']:<10} {r['steps_per_s']:>9.1f} {r['min']:>9.1f} {r['max']:>9.1f} "
            f"{r['vs_bare']:>8.3f} {r['us_per_step']:>8.1f}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "telemetry_overhead.json"
    out.write_text(json.dumps({"runs": args.runs, "rounds": args.rounds, "modes": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
