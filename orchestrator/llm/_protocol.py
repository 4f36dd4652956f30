"""The client protocol every LLM call goes through: messages in, the assistant's text out.

``LLMClient`` is the minimal call escalation and decomposition make; ``ReasoningClient`` adds the
per-call ``effort``, the model and provider names (for tracing) and token usage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Completion", "LLMClient", "Message", "ReasoningClient", "Usage"]

Message = Mapping[str, str]


@dataclass(frozen=True)
class Usage:
    """Tokens one call (or a client over its life) consumed.

    ``reasoning_tokens`` is part of ``output_tokens`` and ``None`` when the provider does not
    report it separately (Anthropic bills thinking as output without a separate count).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int | None = None

    def __add__(self, other: Usage) -> Usage:
        if self.reasoning_tokens is None and other.reasoning_tokens is None:
            reasoning = None
        else:
            reasoning = (self.reasoning_tokens or 0) + (other.reasoning_tokens or 0)
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            reasoning,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class Completion:
    """One answer: its text, the model's visible reasoning if any, usage and the effort asked.

    ``stop_reason`` is why the model stopped, in the provider's word (OpenAI's
    ``finish_reason``, Anthropic's ``stop_reason``); ``truncated`` says it stopped at the token
    limit, so ``text`` is not the whole answer; ``refusal`` is the model's reason for
    declining (empty when it gave none), ``None`` when it did not decline. ``chat`` raises for
    either, after counting the call's tokens and keeping this completion as the client's
    ``last``: the provider bills a refused or cut answer like any other. ``model`` is the model
    that answered, as the provider names it (an alias or a router may answer with another than
    the one asked), or None when the answer does not say.
    """

    text: str
    usage: Usage
    model: str | None
    effort: str | None = None
    reasoning: str | None = None
    stop_reason: str | None = None
    truncated: bool = False
    refusal: str | None = None


class LLMClient(Protocol):
    """A chat model: messages in, the assistant's text out.

    A call that fails (an HTTP error, a refusal, an answer without text or cut at the token
    limit) raises ``LLMError``; the
    escalation then ends the run ``failed`` with the reason logged. ``OSError`` (a refused
    connection, a timeout) is taken the same way; anything else is raised as a bug."""

    async def complete(self, messages: Sequence[Message]) -> str: ...


@runtime_checkable
class ReasoningClient(LLMClient, Protocol):
    """A chat model whose reasoning effort is set per call, reporting the tokens it used.

    ``provider`` is an OpenTelemetry ``gen_ai.provider.name`` ("openai", "anthropic", ...).
    ``complete(messages)`` without ``effort`` leaves the provider's default.
    """

    model: str
    provider: str
    usage: Usage

    async def complete(self, messages: Sequence[Message], *, effort: str | None = None) -> str: ...

    async def chat(self, messages: Sequence[Message], *, effort: str | None = None) -> Completion:
        """Like ``complete`` but returning the whole ``Completion`` with its usage."""
        ...
