"""LLM call spans: ``TracedLLMClient`` wraps any client with ``async complete(messages) -> str``
in a ``chat {model}`` span with the GenAI attributes, token usage and reasoning effort.

Clients differ in what they expose, so model, provider, server and effort are read
defensively from attributes (``model``, ``provider``, ``base_url``, ``reasoning_effort``) unless
the call says (``effort=``), and a call's usage, answering model and finish reason from its
``Completion`` (or, for a refused or cut answer, the ``LLMError``'s) or a ``last_usage``
attribute. What a client does not report is left out rather than guessed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.trace import SpanKind, Status, StatusCode

from orchestrator.errors import LLMError
from orchestrator.execution import calling_tool
from orchestrator.llm import Completion, ReasoningClient
from orchestrator.telemetry._metrics import instruments
from orchestrator.telemetry._spans import OPERATION, span
from orchestrator.telemetry._state import current_tracer

__all__ = ["TracedLLMClient", "usage_tokens"]

PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
# Part of the output tokens, as the GenAI conventions count them.
REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"
TOKEN_TYPE = "gen_ai.token.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
REASONING_EFFORT = "orchestrator.reasoning_effort"

_TOKEN_KEYS = {
    "input": ("input_tokens", "prompt_tokens"),
    "output": ("output_tokens", "completion_tokens"),
}


def _first_attribute(obj: object, names: Sequence[str]) -> Any:
    for name in names:
        value = getattr(obj, name, None)
        if value is not None and not callable(value):
            return value
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    # Enums (a provider or effort enum) read as their value.
    return str(getattr(value, "value", value))


def _server(base_url: Any) -> dict[str, Any]:
    """``server.address`` and ``server.port`` of a client's ``base_url`` (the port the scheme
    implies when the URL names none); nothing for a client without one."""
    if not isinstance(base_url, str):
        return {}
    try:
        parts = urlsplit(base_url)
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:  # a malformed URL: the call itself will say so
        return {}
    if not parts.hostname:
        return {}
    return (
        {SERVER_ADDRESS: parts.hostname, SERVER_PORT: port}
        if port
        else {SERVER_ADDRESS: parts.hostname}
    )


def _error_type(exc: BaseException) -> str:
    """``error.type`` as the GenAI conventions ask: the provider's HTTP status when it answered
    one (``"429"``), ``"timeout"`` for a call not answered in time, else the exception's class."""
    if isinstance(exc, LLMError):
        if exc.status is not None:
            return str(exc.status)
        if exc.timed_out:
            return "timeout"
    return type(exc).__qualname__


def _count(usage: Any, key: str) -> int | None:
    """A token count of a usage mapping or object, by ``key``; None when it holds none."""
    value = usage.get(key) if isinstance(usage, Mapping) else getattr(usage, key, None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _reasoning_tokens(usage: Any) -> int | None:
    return _count(usage, "reasoning_tokens")


def usage_tokens(usage: Any) -> dict[str, int]:
    """Input and output token counts from a usage object or mapping, by either naming scheme
    (``input_tokens``/``output_tokens`` or ``prompt_tokens``/``completion_tokens``). Counts
    that are both 0 are a provider reporting no usage (the clients read that as 0), not a
    call that was free: none, so spans and the token histogram do not record zeros."""
    found: dict[str, int] = {}
    if usage is None:
        return found
    for direction, keys in _TOKEN_KEYS.items():
        for key in keys:
            value = _count(usage, key)
            if value is not None:
                found[direction] = value
                break
    return found if any(found.values()) else {}


class TracedLLMClient:
    """An LLM client that traces each ``complete`` (and ``chat``) call as a ``chat {model}``
    span.

    Keyword arguments (``effort="high"``) reach the client. The tokens are the call's own: from
    the ``Completion`` when the client is a ``ReasoningClient`` (its ``complete`` is then made
    through ``chat``, which returns them), else from a ``last_usage`` attribute; never a
    client's running total. Everything else is passed through to the wrapped client, so it can
    stand wherever the client did. With tracing off a call costs one check.
    """

    def __init__(self, inner: Any, *, provider: str | None = None) -> None:
        self.inner = inner
        self._provider = provider

    def __getattr__(self, name: str) -> Any:
        # Only reached for names this wrapper lacks: the client's own attributes.
        return getattr(self.inner, name)

    @property
    def model(self) -> str | None:
        return _text(_first_attribute(self.inner, ("model", "model_name", "name")))

    @property
    def provider(self) -> str | None:
        if self._provider is not None:
            return self._provider
        return _text(_first_attribute(self.inner, ("provider", "provider_name", "system")))

    async def complete(self, messages: Sequence[Mapping[str, str]], **options: Any) -> str:
        if current_tracer() is None:
            result: str = await self.inner.complete(messages, **options)
            return result
        if isinstance(self.inner, ReasoningClient):
            answer: Completion = await self._traced(self.inner.chat, messages, options)
            return answer.text

        async def complete(messages: Sequence[Mapping[str, str]], **options: Any) -> Any:
            return await self.inner.complete(messages, **options)

        text: str = await self._traced(complete, messages, options)
        return text

    async def chat(self, messages: Sequence[Mapping[str, str]], **options: Any) -> Completion:
        if current_tracer() is None:
            answer: Completion = await self.inner.chat(messages, **options)
            return answer
        traced: Completion = await self._traced(self.inner.chat, messages, options)
        return traced

    async def _traced(
        self,
        call: Callable[..., Awaitable[Any]],
        messages: Sequence[Mapping[str, str]],
        options: Mapping[str, Any],
    ) -> Any:
        model = self.model
        effort = options.get("effort")
        if effort is None:  # the client's own setting, if it has one
            effort = _first_attribute(self.inner, ("reasoning_effort", "effort"))
        # The metrics' attributes the conventions name for both GenAI client histograms; the
        # span's add the effort.
        metric_attributes = {
            k: v
            for k, v in {
                OPERATION: "chat",
                PROVIDER: self.provider,
                REQUEST_MODEL: model,
                **_server(getattr(self.inner, "base_url", None)),
            }.items()
            if v is not None
        }
        # The step whose call made this one (an LLM-backed tool): its span cannot be the parent.
        attributes = {
            **metric_attributes,
            REASONING_EFFORT: _text(effort),
            "orchestrator.tool": calling_tool(),
        }
        started = time.perf_counter()
        tools = instruments()
        # CLIENT, as the GenAI conventions ask of a call to a model served elsewhere.
        name = f"chat {model}" if model else "chat"
        with span(name, attributes, kind=SpanKind.CLIENT) as current:
            try:
                result = await call(messages, **options)
            except Exception as exc:
                error_type = _error_type(exc)
                current.set_attribute(ERROR_TYPE, error_type)
                current.set_status(Status(StatusCode.ERROR, str(exc)))
                # A refused or cut answer was billed: its tokens are recorded all the same.
                answer = exc.answer if isinstance(exc, LLMError) else None
                usage = _record_answer(current, answer, None, metric_attributes)
                if tools is not None:
                    _record_metrics(tools, metric_attributes, usage, started, error_type)
                raise
            except BaseException as exc:
                # Cancelled mid-call (the step's timeout, the run's end, Ctrl-C): not the
                # model's error, so no error status, as for a tool's call stopped so; the span
                # says why it ended, and its cut duration stays out of the histogram.
                current.add_event(
                    "orchestrator.cancel",
                    {"orchestrator.reason": f"call cancelled ({type(exc).__name__})"},
                )
                raise
            usage = _record_answer(
                current, result, getattr(self.inner, "last_usage", None), metric_attributes
            )
        if tools is not None:
            _record_metrics(tools, metric_attributes, usage, started)
        return result


def _record_answer(
    current: Any, answer: Any, last_usage: Any, metric_attributes: dict[str, Any]
) -> dict[str, int]:
    """Put what an answer reports on its span: tokens, the model that answered (also a metric
    attribute) and why it stopped. The usage is the ``Completion``'s, else the client's
    ``last_usage``; returned for the token histogram."""
    completion = answer if isinstance(answer, Completion) else None
    reported = completion.usage if completion is not None else last_usage
    usage = usage_tokens(reported)
    if "input" in usage:
        current.set_attribute(INPUT_TOKENS, usage["input"])
    if "output" in usage:
        current.set_attribute(OUTPUT_TOKENS, usage["output"])
    reasoning = _reasoning_tokens(reported)
    if reasoning is not None:
        current.set_attribute(REASONING_TOKENS, reasoning)
    if completion is None:
        return usage
    if completion.model:
        # The model that answered, which a router or an alias may make another one.
        current.set_attribute(RESPONSE_MODEL, completion.model)
        metric_attributes[RESPONSE_MODEL] = completion.model
    if completion.stop_reason:
        # A string array in the conventions: one reason per choice, and we read one choice.
        current.set_attribute(FINISH_REASONS, [completion.stop_reason])
    return usage


def _record_metrics(
    tools: Any,
    attributes: Mapping[str, Any],
    usage: Mapping[str, int],
    started: float,
    error_type: str | None = None,
) -> None:
    """One call, its duration and its tokens on the GenAI client metrics. Only the duration
    takes ``error.type``, as the conventions list it for that histogram alone."""
    tools.llm_calls.add(1, attributes)
    failed = {**attributes, ERROR_TYPE: error_type} if error_type is not None else attributes
    tools.llm_duration.record(time.perf_counter() - started, failed)
    for direction, count in usage.items():
        tools.token_usage.record(count, {**attributes, TOKEN_TYPE: direction})
