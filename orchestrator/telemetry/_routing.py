"""The routing span: ``retrieval skills`` (GenAI ``retrieval`` operation) around one query's
routing, with the skills it returned, whether any fits, and the routing-latency histogram.

The router calls this; it reads the result duck-typed so telemetry never imports routing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace

from orchestrator.telemetry._metrics import instruments
from orchestrator.telemetry._spans import OPERATION, span
from orchestrator.telemetry._state import current_tracer

__all__ = ["DATA_SOURCE", "RoutingTrace", "routing_span"]

DATA_SOURCE = "skills"


class RoutingTrace:
    """Receives the route result to put on the span; does nothing when tracing is off."""

    def __init__(self, current: trace.Span) -> None:
        self.span = current

    def record(self, result: Any) -> None:
        if not self.span.is_recording():
            return
        matches = getattr(result, "matches", ())
        self.span.set_attribute("orchestrator.matches", [m.skill.id for m in matches])
        self.span.set_attribute("orchestrator.fits", bool(getattr(result, "fits", False)))
        if matches:
            self.span.set_attribute("orchestrator.best_fit", matches[0].scores.get("fit", 0.0))


@contextmanager
def routing_span(query: str, k: int) -> Iterator[RoutingTrace]:
    """Trace one routed query (span ``retrieval skills``) and time it."""
    if current_tracer() is None:
        yield RoutingTrace(trace.INVALID_SPAN)
        return
    started = time.perf_counter()
    attributes = {
        OPERATION: "retrieval",
        "gen_ai.data_source.id": DATA_SOURCE,
        "gen_ai.retrieval.query.text": query,
        "gen_ai.retrieval.top_k": k,
    }
    with span(f"retrieval {DATA_SOURCE}", attributes) as current:
        yield RoutingTrace(current)
    tools = instruments()
    if tools is not None:
        tools.routing_duration.record(time.perf_counter() - started)
