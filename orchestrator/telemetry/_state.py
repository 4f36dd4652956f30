"""Whether tracing is on, and the tracer and meter to use: the cheap check every hook makes.

A ``tracing()`` block pushes its providers here; outside one, an SDK provider installed
globally (``opentelemetry.trace.set_tracer_provider``) is used; otherwise tracing is off and
hooks do nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace

__all__ = ["SCOPE", "Providers", "attribute_value", "current_meter", "current_tracer"]

SCOPE = "orchestrator"
# Attribute values OpenTelemetry accepts as they are; anything else is written as text.
_PLAIN = (str, bool, int, float)


@dataclass
class Providers:
    """The tracer (and meter) a ``tracing()`` block sends to."""

    tracer: trace.Tracer
    meter: metrics.Meter | None = None
    instruments: dict[str, Any] = field(default_factory=dict)


# A stack, so nested ``tracing()`` blocks restore the outer one on exit.
_stack: list[Providers] = []
_global_tracers: dict[int, trace.Tracer] = {}


def push(providers: Providers) -> None:
    _stack.append(providers)


def pop(providers: Providers) -> None:
    _stack.remove(providers)


def current_tracer() -> trace.Tracer | None:
    """The tracer to use now, or None when tracing is off (no SDK work is then done at all)."""
    if _stack:
        return _stack[-1].tracer
    provider = trace.get_tracer_provider()
    # Until an SDK provider is installed globally, the API hands out a proxy (or a no-op).
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    tracer = _global_tracers.get(id(provider))
    if tracer is None:
        tracer = _global_tracers[id(provider)] = provider.get_tracer(SCOPE)
    return tracer


def current_meter() -> tuple[metrics.Meter, dict[str, Any]] | None:
    """The meter of the innermost ``tracing()`` block and its instruments, or None."""
    if _stack and _stack[-1].meter is not None:
        return _stack[-1].meter, _stack[-1].instruments
    return None


def attribute_value(value: Any) -> Any:
    """``value`` as an OpenTelemetry attribute value: plain scalars and lists of them as they
    are, anything else as text (so a decision's data never makes the SDK drop an attribute)."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, Sequence) and all(isinstance(v, int) for v in value):
        return list(value)
    if isinstance(value, Sequence) and all(isinstance(v, int | float) for v in value):
        return [float(v) for v in value]  # one type per list, as OpenTelemetry requires
    if isinstance(value, Mapping):
        import json

        return json.dumps(value, default=str, sort_keys=True)
    return str(value)
