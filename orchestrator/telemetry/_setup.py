"""``tracing()``: send a block's spans and metrics to a file, to OTLP, or to given exporters.

OTLP follows the standard ``OTEL_*`` variables (endpoint, protocol, headers, service name,
``OTEL_SDK_DISABLED``, ``OTEL_TRACES_EXPORTER``/``OTEL_METRICS_EXPORTER=none``). With nothing
configured the block runs with tracing off, so callers can always wrap their work in it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from orchestrator.errors import TelemetryError
from orchestrator.telemetry._state import SCOPE, Providers, pop, push

_LOG = logging.getLogger("orchestrator.telemetry")

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["OtlpProtocol", "Tracing", "otlp_configured", "tracing"]

OtlpProtocol = Literal["grpc", "http/protobuf"]
_PROTOCOLS: tuple[str, ...] = ("grpc", "http/protobuf")


@dataclass
class Tracing:
    """What a ``tracing()`` block set up; ``enabled`` is false when it traces nowhere."""

    enabled: bool
    file: Path | None = None
    otlp: OtlpProtocol | None = None
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    exporters: list[SpanExporter] = field(default_factory=list)

    def force_flush(self) -> None:
        if self.tracer_provider is not None:
            self.tracer_provider.force_flush()
        if self.meter_provider is not None:
            self.meter_provider.force_flush()


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() == "true"


def _env_none(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() == "none"


def otlp_configured() -> bool:
    """Whether the environment names an OTLP endpoint for traces."""
    if _env_none("OTEL_TRACES_EXPORTER"):
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def _protocol(signal: str, given: str | None) -> OtlpProtocol:
    chosen = (
        given
        or os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"  # the specification's default
    )
    if chosen not in _PROTOCOLS:
        raise TelemetryError(
            f"OTLP protocol {chosen!r}: expected one of {', '.join(_PROTOCOLS)} "
            f"(argument or OTEL_EXPORTER_OTLP_PROTOCOL)"
        )
    return "grpc" if chosen == "grpc" else "http/protobuf"


def _http_url(endpoint: str | None, path: str) -> str | None:
    # A base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is; the per-signal path is added here.
    if endpoint is None:
        return None
    return endpoint if endpoint.rstrip("/").endswith(path) else endpoint.rstrip("/") + path


def _otlp_span_exporter(protocol: OtlpProtocol, endpoint: str | None) -> SpanExporter:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        return GrpcSpanExporter(endpoint=endpoint)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=_http_url(endpoint, "/v1/traces"))


def _otlp_metric_reader(protocol: OtlpProtocol, endpoint: str | None) -> MetricReader:
    from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader

    exporter: MetricExporter
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        exporter = GrpcMetricExporter(endpoint=endpoint)
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        exporter = OTLPMetricExporter(endpoint=_http_url(endpoint, "/v1/metrics"))
    return PeriodicExportingMetricReader(exporter)


@contextmanager
def tracing(
    file: str | Path | None = None,
    *,
    otlp: bool | None = None,
    protocol: OtlpProtocol | None = None,
    endpoint: str | None = None,
    exporters: Sequence[SpanExporter] = (),
    metric_readers: Sequence[MetricReader] = (),
    service_name: str = "orchestrator",
) -> Iterator[Tracing]:
    """Trace the block: spans and metrics go to ``file`` (OTLP JSON lines), to OTLP, and to any
    ``exporters`` / ``metric_readers`` given; everything is flushed and the file moved into place
    when the block ends.

    ``otlp`` defaults to on when ``OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`` is set; ``protocol``
    and ``endpoint`` (a base URL) override ``OTEL_EXPORTER_OTLP_PROTOCOL`` and the endpoint
    variable. ``OTEL_SDK_DISABLED=true`` turns it all off.

    Raises
    ------
    TelemetryError
        An unknown OTLP protocol, or a trace file that cannot be created.
    """
    use_otlp = otlp_configured() if otlp is None else otlp
    if _env_flag("OTEL_SDK_DISABLED") and file is not None:
        # The file asked for stays as it was: say so, or a stale trace there reads as this run's.
        _LOG.warning("OTEL_SDK_DISABLED is set: no trace is written to %s", file)
    if _env_flag("OTEL_SDK_DISABLED") or not (file or use_otlp or exporters or metric_readers):
        yield Tracing(enabled=False)
        return

    # The SDK is imported only here: with tracing off none of it is loaded.
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from orchestrator.telemetry._file import (
        OtlpJsonLines,
        OtlpJsonMetricExporter,
        OtlpJsonSpanExporter,
    )

    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, when they name one, win over the default
    # name (a key merely ending in "service.name", or an empty variable, does not).
    attributes = os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(",")
    named = bool(os.environ.get("OTEL_SERVICE_NAME", "").strip()) or any(
        key.strip() == "service.name" and value.strip()
        for key, _, value in (pair.partition("=") for pair in attributes)
    )
    resource = Resource.create({} if named else {SERVICE_NAME: service_name})
    span_exporters: list[SpanExporter] = list(exporters)
    readers: list[MetricReader] = list(metric_readers)
    chosen: OtlpProtocol | None = None
    if use_otlp:
        chosen = _protocol("TRACES", protocol)
        span_exporters.append(_otlp_span_exporter(chosen, endpoint))
        if not _env_none("OTEL_METRICS_EXPORTER"):
            readers.append(_otlp_metric_reader(_protocol("METRICS", protocol), endpoint))
    lines = None
    if file is not None:
        lines = OtlpJsonLines(file)
        span_exporters.append(OtlpJsonSpanExporter(lines))
        # Exported once, at shutdown: the file holds the run's totals after its spans.
        readers.append(
            PeriodicExportingMetricReader(
                OtlpJsonMetricExporter(lines), export_interval_millis=3_600_000
            )
        )
    tracer_provider = TracerProvider(resource=resource)
    for exporter in span_exporters:
        tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    meter_provider = MeterProvider(resource=resource, metric_readers=readers) if readers else None
    providers = Providers(
        tracer=tracer_provider.get_tracer(SCOPE),
        meter=meter_provider.get_meter(SCOPE) if meter_provider is not None else None,
    )
    handle = Tracing(
        enabled=True,
        file=Path(file) if file is not None else None,
        otlp=chosen,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        exporters=span_exporters,
    )
    token = push(providers)
    try:
        yield handle
    finally:
        pop(providers, token)
        # Spans first, then the final metrics collection; the file is committed after both.
        tracer_provider.shutdown()
        if meter_provider is not None:
            meter_provider.shutdown()
        if lines is not None:
            lines.commit()
