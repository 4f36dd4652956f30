"""``tracing()``: send a block's spans and metrics to a file, to OTLP, or to given exporters.

OTLP follows the standard ``OTEL_*`` variables (endpoint, protocol, headers, timeout, service
name, ``OTEL_SDK_DISABLED``, ``OTEL_TRACES_EXPORTER``/``OTEL_METRICS_EXPORTER=none``), for
traces and metrics each on their own, as the specification has them. With nothing configured
the block runs with tracing off, so callers can always wrap their work in it.
The block ends in two stages: the local destinations (given exporters, the file) first, then
OTLP, whose final export may wait on a slow or absent collector and can be handed to the caller.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

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


Signal = Literal["traces", "metrics"]


@dataclass
class Tracing:
    """What a ``tracing()`` block set up; ``enabled`` is false when it traces nowhere.
    ``otlp`` and ``otlp_metrics`` are the protocols spans and metrics go to OTLP with, if they
    do: each signal is configured on its own, as the ``OTEL_*`` variables are."""

    enabled: bool
    file: Path | None = None
    otlp: OtlpProtocol | None = None
    otlp_metrics: OtlpProtocol | None = None
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


def _exporter_names(signal: Signal) -> set[str]:
    """The exporters ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` name (a comma-separated
    list), ``otlp`` when unset as the specification says."""
    raw = os.environ.get(f"OTEL_{signal.upper()}_EXPORTER", "")
    return {name.strip().lower() for name in raw.split(",") if name.strip()} or {"otlp"}


def _otlp_for(signal: Signal, otlp: bool | None) -> bool:
    """Whether ``signal`` goes to OTLP: not when its exporter variable says otherwise (``none``,
    or only exporters other than ``otlp``); else as ``otlp`` says, or, left to the environment,
    when an endpoint is named for it (its own variable or ``OTEL_EXPORTER_OTLP_ENDPOINT``). The
    specification's default endpoint, localhost, is not taken as a wish to export."""
    names = _exporter_names(signal)
    if "otlp" not in names or "none" in names:
        return False
    if otlp is not None:
        return otlp
    return bool(
        os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "").strip()
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    )


def otlp_configured(signal: Signal | None = None) -> bool:
    """Whether the environment sends ``signal`` (by default: traces or metrics) to OTLP."""
    signals: tuple[Signal, ...] = (signal,) if signal is not None else ("traces", "metrics")
    return any(_otlp_for(s, None) for s in signals)


def _warn_unsupported_exporters() -> None:
    signals: tuple[Signal, ...] = ("traces", "metrics")
    for signal in signals:
        names = _exporter_names(signal)
        unsupported = sorted(names - {"otlp", "none"})
        if unsupported:
            # Said as what follows: without otlp beside them, the signal goes nowhere.
            outcome = "ignored" if "otlp" in names else f"{signal} are not exported"
            _LOG.warning(
                "OTEL_%s_EXPORTER names %s: only otlp and none are supported here; %s",
                signal.upper(),
                ", ".join(unsupported),
                outcome,
            )


def _protocol(signal: Signal, given: str | None) -> OtlpProtocol:
    own = f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL"
    sources = [
        ("the protocol argument", given or ""),
        (own, os.environ.get(own, "").strip()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "").strip()),
    ]
    # The first one set wins; none set is the specification's default.
    source, chosen = next(((name, value) for name, value in sources if value), ("", ""))
    if not chosen:
        return "http/protobuf"
    if chosen not in _PROTOCOLS:
        raise TelemetryError(
            f"OTLP protocol {chosen!r} for {signal} ({source}): expected one of "
            f"{', '.join(_PROTOCOLS)}"
        )
    return "grpc" if chosen == "grpc" else "http/protobuf"


_DEFAULT_ENDPOINTS: dict[OtlpProtocol, str] = {
    "grpc": "http://localhost:4317",
    "http/protobuf": "http://localhost:4318",
}


def _http_url(endpoint: str, path: str) -> str:
    # A base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is; the per-signal path is added here.
    return endpoint if endpoint.rstrip("/").endswith(path) else endpoint.rstrip("/") + path


def _endpoint(signal: Signal, protocol: OtlpProtocol, given: str | None) -> str:
    """The URL the signal is sent to, resolved here (not by the SDK) so a failure can name it:
    ``given`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` as a base URL, the per-signal variable as is."""
    path = f"/v1/{signal}"
    own_variable = f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT"
    if given is None:
        own = os.environ.get(own_variable, "").strip()
        if own:
            return _checked_url(own, protocol, own_variable)
    base = given or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    named = "endpoint" if given else "OTEL_EXPORTER_OTLP_ENDPOINT"
    base = _checked_url(base, protocol, named) if base else _DEFAULT_ENDPOINTS[protocol]
    return base if protocol == "grpc" else _http_url(base, path)


def _checked_url(url: str, protocol: OtlpProtocol, named: str) -> str:
    """An OTLP/HTTP endpoint must be an http(s) URL with a host: "not-a-url" had been posted
    to, failed every export, and was reported as a collector not listening."""
    if protocol == "grpc":
        return url  # "localhost:4317" is a gRPC target as it is
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TelemetryError(
            f"{named}: expected an http:// or https:// URL for OTLP over HTTP, got {url!r}"
        )
    return url


def _in_order(steps: list[Callable[[], None]]) -> Callable[[], None]:
    """One call running ``steps`` in order: how a stage of the block's end runs, or is handed
    on to run later."""

    def run() -> None:
        for step in steps:
            step()

    return run


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
    defer_otlp: Callable[[Callable[[], None]], Any] | None = None,
) -> Iterator[Tracing]:
    """Trace the block: spans and metrics go to ``file`` (OTLP JSON lines), to OTLP, and to any
    ``exporters`` / ``metric_readers`` given; everything is flushed and the file moved into place
    when the block ends.

    Traces and metrics are configured apart, as the ``OTEL_*`` variables are: each goes to
    OTLP when an endpoint is named for it (``OTEL_EXPORTER_OTLP_ENDPOINT``, a base URL, or
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``..._METRICS_ENDPOINT``, used as they are), unless
    ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` is ``none``. ``otlp`` turns both on or
    off instead of the endpoints (an exporter variable's ``none`` still holds); ``protocol``
    and ``endpoint`` (a base URL) override the protocol and endpoint variables.
    ``OTEL_SDK_DISABLED=true`` turns it all off.

    ``defer_otlp`` (``contextlib.ExitStack.callback``, click's ``Context.call_on_close``) is
    handed the OTLP exporters' shutdown, their final export, instead of the block running it:
    the block then ends once the file is in place, and the caller can report its result before
    waiting on a collector that may be slow or gone (up to ``OTEL_EXPORTER_OTLP_TIMEOUT``
    seconds per signal, retries included).

    Raises
    ------
    TelemetryError
        An unknown OTLP protocol, or a trace file that cannot be created.
    """
    traces_otlp, metrics_otlp = _otlp_for("traces", otlp), _otlp_for("metrics", otlp)
    use_otlp = traces_otlp or metrics_otlp
    disabled = _env_flag("OTEL_SDK_DISABLED")
    if disabled and file is not None:
        # The file asked for stays as it was: say so, or a stale trace there reads as this run's.
        _LOG.warning("OTEL_SDK_DISABLED is set: no trace is written to %s", file)
    if not disabled:
        _warn_unsupported_exporters()
    if disabled or not (file or use_otlp or exporters or metric_readers):
        yield Tracing(enabled=False)
        return

    # The SDK is imported only here: with tracing off none of it is loaded.
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
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
    # What the block's end shuts down, in two stages: the local destinations (their spans, then
    # the file's metrics and the file moved into place), then OTLP, which may wait on a collector.
    local: list[Callable[[], None]] = []
    otlp_stage: list[Callable[[], None]] = []
    tracer_provider = TracerProvider(resource=resource)

    def process(exporter: SpanExporter, stage: list[Callable[[], None]]) -> None:
        processor = BatchSpanProcessor(exporter)
        tracer_provider.add_span_processor(processor)
        stage.append(processor.shutdown)

    for exporter in exporters:
        process(exporter, local)
    chosen: OtlpProtocol | None = None
    metrics_protocol: OtlpProtocol | None = None
    if traces_otlp:
        from orchestrator.telemetry._otlp import otlp_span_exporter

        chosen = _protocol("traces", protocol)
        otlp_exporter = otlp_span_exporter(chosen, _endpoint("traces", chosen, endpoint))
        span_exporters.append(otlp_exporter)
        process(otlp_exporter, otlp_stage)
    if metrics_otlp:
        from orchestrator.telemetry._otlp import otlp_metric_reader

        metrics_protocol = _protocol("metrics", protocol)
        url = _endpoint("metrics", metrics_protocol, endpoint)
        readers.append(otlp_metric_reader(metrics_protocol, url))
    if file is not None:
        lines = OtlpJsonLines(file)
        file_exporter = OtlpJsonSpanExporter(lines)
        span_exporters.append(file_exporter)
        process(file_exporter, local)
        # Collected once, when the block ends: the file holds the run's totals after its spans.
        file_metrics = InMemoryMetricReader()
        readers.append(file_metrics)

        def write_metrics() -> None:
            collected = file_metrics.get_metrics_data()
            if collected is not None:
                OtlpJsonMetricExporter(lines).export(collected)

        local += [write_metrics, lines.commit]
    meter_provider = MeterProvider(resource=resource, metric_readers=readers) if readers else None
    # Spans before the final metrics collection; the local processors, already shut down, are
    # passed over.
    otlp_stage.append(tracer_provider.shutdown)
    if meter_provider is not None:
        otlp_stage.append(meter_provider.shutdown)
    providers = Providers(
        tracer=tracer_provider.get_tracer(SCOPE),
        meter=meter_provider.get_meter(SCOPE) if meter_provider is not None else None,
    )
    handle = Tracing(
        enabled=True,
        file=Path(file) if file is not None else None,
        otlp=chosen,
        otlp_metrics=metrics_protocol,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        exporters=span_exporters,
    )
    token = push(providers)
    try:
        yield handle
    finally:
        pop(providers, token)
        try:
            _in_order(local)()
        finally:
            if defer_otlp is not None:
                defer_otlp(_in_order(otlp_stage))
            else:
                _in_order(otlp_stage)()
