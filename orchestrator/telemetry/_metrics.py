"""The run's metrics: counters of reroutes, retries, escalations, LLM calls and silent failures
(which must stay 0), and histograms of step, routing and LLM-call latency.

Instruments are created once per ``tracing()`` block; with no block (metrics off) every
``record_*`` call returns at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics

from orchestrator.telemetry._state import current_meter

__all__ = ["METRIC_NAMES", "Instruments", "instruments"]

# Names follow the GenAI semantic conventions where they define one (tool execution, client
# operation, token usage); the rest are ours, under ``orchestrator.``.
METRIC_NAMES = {
    "reroutes": "orchestrator.reroutes",
    "retries": "orchestrator.retries",
    "escalations": "orchestrator.escalations",
    "llm_calls": "orchestrator.llm.calls",
    "silent_failures": "orchestrator.silent_failures",
    "step_duration": "gen_ai.execute_tool.duration",
    "routing_duration": "orchestrator.routing.duration",
    "llm_duration": "gen_ai.client.operation.duration",
    "token_usage": "gen_ai.client.token.usage",
}


@dataclass(frozen=True)
class Instruments:
    reroutes: metrics.Counter
    retries: metrics.Counter
    escalations: metrics.Counter
    llm_calls: metrics.Counter
    silent_failures: metrics.Counter
    step_duration: metrics.Histogram
    routing_duration: metrics.Histogram
    llm_duration: metrics.Histogram
    token_usage: metrics.Histogram


# Bucket boundaries the GenAI semantic conventions advise: seconds for durations, tokens for
# usage. Without them the SDK's default buckets (0, 5, 10, ... 10000, meant for milliseconds)
# put every call under 5 s in one bucket.
_SECONDS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
_TOKENS = [float(4**n) for n in range(14)]  # 1, 4, 16, ... 67108864


def _seconds(meter: metrics.Meter, name: str, description: str) -> metrics.Histogram:
    return meter.create_histogram(
        name, "s", description, explicit_bucket_boundaries_advisory=_SECONDS
    )


def _create(meter: metrics.Meter) -> Instruments:
    n = METRIC_NAMES
    return Instruments(
        reroutes=meter.create_counter(n["reroutes"], "{reroute}", "Steps rerouted after a failure"),
        retries=meter.create_counter(n["retries"], "{retry}", "Transient failures retried"),
        escalations=meter.create_counter(
            n["escalations"], "{escalation}", "Runs with no healthy path left, escalated"
        ),
        llm_calls=meter.create_counter(n["llm_calls"], "{call}", "Control-plane LLM calls"),
        silent_failures=meter.create_counter(
            n["silent_failures"], "{failure}", "Failures answered by nothing; must stay 0"
        ),
        step_duration=_seconds(meter, n["step_duration"], "Tool step duration"),
        routing_duration=_seconds(
            meter, n["routing_duration"], "Skill routing duration (retrieve and rerank)"
        ),
        llm_duration=_seconds(meter, n["llm_duration"], "LLM call duration"),
        token_usage=meter.create_histogram(
            n["token_usage"],
            "{token}",
            "Tokens per LLM call",
            explicit_bucket_boundaries_advisory=_TOKENS,
        ),
    )


def instruments() -> Instruments | None:
    """The instruments of the innermost ``tracing()`` block, or None when metrics are off."""
    found = current_meter()
    if found is None:
        return None
    meter, cache = found
    made: Any = cache.get("instruments")
    if made is None:
        made = cache["instruments"] = _create(meter)
    assert isinstance(made, Instruments)
    return made
