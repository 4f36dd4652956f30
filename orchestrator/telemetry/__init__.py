"""Telemetry: OpenTelemetry spans and metrics built from the decision log, LLM-call spans, and
exporters (OTLP over HTTP or gRPC, and OTLP JSON-lines files); off, and free, unless configured.

    with tracing(file="trace.jsonl"):               # or OTEL_EXPORTER_OTLP_ENDPOINT=...
        with traced_run(log, task="refund the last payment") as run:
            result = await executor.run(log=log)
            run.set_result(result)
"""

from orchestrator.telemetry._llm import TracedLLMClient, usage_tokens
from orchestrator.telemetry._metrics import METRIC_NAMES, Instruments, instruments
from orchestrator.telemetry._routing import RoutingTrace, routing_span
from orchestrator.telemetry._setup import OtlpProtocol, Tracing, otlp_configured, tracing
from orchestrator.telemetry._show import SpanRecord, read_spans, render_traces
from orchestrator.telemetry._spans import DecisionSpans, TracedRun, span, traced_run
from orchestrator.telemetry._state import current_tracer

__all__ = [
    "METRIC_NAMES",
    "DecisionSpans",
    "Instruments",
    "OtlpProtocol",
    "RoutingTrace",
    "SpanRecord",
    "TracedLLMClient",
    "TracedRun",
    "Tracing",
    "current_tracer",
    "instruments",
    "otlp_configured",
    "read_spans",
    "render_traces",
    "routing_span",
    "span",
    "traced_run",
    "tracing",
    "usage_tokens",
]
