"""Whether tracing is on, and the tracer and meter to use: the cheap check every hook makes.

A ``tracing()`` block sets its providers here for the code it runs (its thread or task, and
the tasks and worker threads they start; a thread started without its context, such as a
``ThreadPoolExecutor``'s, is traced by the latest block open); outside one, an SDK provider
installed globally (``opentelemetry.trace.set_tracer_provider``) is used; otherwise tracing is
off and hooks do nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace

__all__ = ["SCOPE", "Providers", "attribute_value", "current_meter", "current_tracer"]

SCOPE = "orchestrator"
# Attribute values OpenTelemetry accepts as they are; anything else is written as text.
_PLAIN = (str, bool, int, float)


@dataclass
class Providers:
    """The tracer (and meter) a ``tracing()`` block sends to, and the threads that were alive
    when it opened (code in a thread started since, without the block's context, is its)."""

    tracer: trace.Tracer
    meter: metrics.Meter | None = None
    instruments: dict[str, Any] = field(default_factory=dict)
    threads_before: frozenset[int] = field(default_factory=frozenset)


# The innermost ``tracing()`` block of the running context (thread or task): two requests
# traced at once each keep their own spans, and a nested block restores the outer one on exit.
_current: ContextVar[Providers | None] = ContextVar("orchestrator_tracing", default=None)
# Every open block, latest last: code in a thread that did not inherit a context (a plain
# ``threading.Thread``, a ``ThreadPoolExecutor``) and was started after a block opened is traced
# by the latest such block; code in no block (another request, the main thread) is not.
_open: list[Providers] = []
_global_tracers: dict[int, trace.Tracer] = {}


def push(providers: Providers) -> Token[Providers | None]:
    providers.threads_before = frozenset(t.ident for t in threading.enumerate() if t.ident)
    _open.append(providers)
    return _current.set(providers)


def pop(providers: Providers, token: Token[Providers | None]) -> None:
    _open.remove(providers)
    try:
        _current.reset(token)
    except ValueError:  # left in another context than it was entered in
        _current.set(token.old_value if token.old_value is not Token.MISSING else None)


def _providers() -> Providers | None:
    """The block the running code is in; in a thread without a block, the latest block opened
    before the thread started."""
    current = _current.get()
    if current is not None or not _open:  # in a block, or tracing is off: the common cases
        return current
    me = threading.get_ident()
    return next((p for p in reversed(_open) if me not in p.threads_before), None)


def current_tracer() -> trace.Tracer | None:
    """The tracer to use now, or None when tracing is off (no SDK work is then done at all)."""
    providers = _providers()
    if providers is not None:
        return providers.tracer
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
    providers = _providers()
    if providers is not None and providers.meter is not None:
        return providers.meter, providers.instruments
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
