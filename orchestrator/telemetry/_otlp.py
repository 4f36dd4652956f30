"""The OTLP exporters ``tracing()`` builds, each wrapped to say where its export failed: the SDK
logs a failure without the endpoint, and a collector that is down or misaddressed should read
as that, once, and not as a run that traced nothing.

Imported only when OTLP is configured (it loads the SDK and the exporter packages).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = [
    "ReportedMetricExporter",
    "ReportedSpanExporter",
    "otlp_metric_reader",
    "otlp_span_exporter",
]

_LOG = logging.getLogger("orchestrator.telemetry")


def _warn_failed(what: str, url: str) -> None:
    _LOG.warning(
        "OTLP export of %s to %s failed; they are lost (the exporter's message above says "
        "why: nothing listening there, or the collector refused the export; "
        "OTEL_EXPORTER_OTLP_TIMEOUT, in seconds, bounds how long each export waits)",
        what,
        url,
    )


class ReportedSpanExporter(SpanExporter):
    """An OTLP span exporter that warns, naming its endpoint, the first time an export fails."""

    def __init__(self, inner: SpanExporter, url: str) -> None:
        self.inner = inner
        self.url = url
        self.failed = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.inner.export(spans)
        if result is SpanExportResult.FAILURE and not self.failed:
            self.failed = True
            _warn_failed("spans", self.url)
        return result

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.inner.shutdown()


class ReportedMetricExporter(MetricExporter):
    """An OTLP metric exporter that warns, naming its endpoint, the first time an export fails."""

    def __init__(self, inner: MetricExporter, url: str) -> None:
        # The reader asks the exporter for these: the inner exporter's choices (from
        # OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE and the like) stay in force.
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self.inner = inner
        self.url = url
        self.failed = False

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        result = self.inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        if result is MetricExportResult.FAILURE and not self.failed:
            self.failed = True
            _warn_failed("metrics", self.url)
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.inner.shutdown(timeout_millis=timeout_millis, **kwargs)


def otlp_span_exporter(protocol: str, url: str) -> ReportedSpanExporter:
    """The span exporter for ``protocol`` sending to ``url`` (the signal's full URL for HTTP)."""
    inner: SpanExporter
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        inner = GrpcSpanExporter(endpoint=url)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        inner = OTLPSpanExporter(endpoint=url)
    return ReportedSpanExporter(inner, url)


def otlp_metric_reader(protocol: str, url: str) -> MetricReader:
    """A periodic reader exporting to ``url`` with ``protocol``, as the SDK's default is."""
    inner: MetricExporter
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        inner = GrpcMetricExporter(endpoint=url)
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        inner = OTLPMetricExporter(endpoint=url)
    return PeriodicExportingMetricReader(ReportedMetricExporter(inner, url))
