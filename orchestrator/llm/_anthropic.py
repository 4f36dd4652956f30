"""The Anthropic Messages API client: effort as adaptive thinking with ``output_config.effort``,
or as a ``thinking`` token budget for models before adaptive thinking."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from orchestrator.errors import LLMError
from orchestrator.llm._http import (
    HttpLLMClient,
    answering_model,
    token_count,
    unknown_effort,
    usage_fields,
)
from orchestrator.llm._policy import LLMPolicy
from orchestrator.llm._protocol import Completion, Message, Usage

__all__ = ["ANTHROPIC_VERSION", "AnthropicClient"]

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicClient(HttpLLMClient):
    """POST ``{base_url}/v1/messages`` (a query on ``base_url`` stays at the end of the URL);
    system messages become the top-level ``system``.

    The API reports thinking inside ``output_tokens``, so ``Usage.reasoning_tokens`` is ``None``.
    """

    path = "/v1/messages"
    what = "messages call"
    default_provider = "anthropic"

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "https://api.anthropic.com",
        api_key: str | None = None,
        timeout_s: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: LLMPolicy | None = None,
        provider: str | None = None,
    ) -> None:
        super().__init__(
            base_url,
            model,
            api_key=api_key,
            timeout_s=timeout_s,
            transport=transport,
            policy=policy,
            provider=provider,
        )

    def request_body(self, messages: Sequence[Message], effort: str | None) -> dict[str, Any]:
        """The JSON body sent for ``messages`` at ``effort`` (``None``: no thinking settings)."""
        policy = self.policy.anthropic
        system = [m["content"] for m in messages if m.get("role") == "system"]
        turns = [
            {"role": m["role"], "content": m["content"]}
            for m in messages
            if m.get("role") != "system"
        ]
        body: dict[str, Any] = {"model": self.model, "max_tokens": policy.max_tokens}
        if system:
            body["system"] = "\n\n".join(system)
        body["messages"] = turns
        if effort is None:
            return body
        if policy.mode == "adaptive":
            if effort not in policy.effort:
                raise unknown_effort("anthropic.effort", effort, policy.effort)
            body["thinking"] = {"type": "adaptive"}
            body["output_config"] = {"effort": policy.effort[effort]}
        else:
            if effort not in policy.budget_tokens:
                raise unknown_effort("anthropic.budget_tokens", effort, policy.budget_tokens)
            budget = policy.budget_tokens[effort]
            body["thinking"] = (
                {"type": "enabled", "budget_tokens": budget} if budget else {"type": "disabled"}
            )
        return body

    def headers(self) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        return headers

    def usage_of(self, data: Mapping[str, Any]) -> Usage:
        usage = usage_fields(data)
        return Usage(
            token_count(usage.get("input_tokens")), token_count(usage.get("output_tokens"))
        )

    def read(self, data: dict[str, Any], effort: str | None) -> Completion:
        blocks = data.get("content")
        if not isinstance(blocks, list):
            raise LLMError(f"{self.shown_url}: field content missing in the response")
        texts = [b["text"] for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
        thoughts = [
            b["thinking"] for b in blocks if isinstance(b, dict) and b.get("type") == "thinking"
        ]
        stop = data.get("stop_reason")
        if stop == "pause_turn":
            # A long turn paused (server tools), to be sent back to continue: not an answer.
            # Its stop reason rides along: asked again, the turn pauses again.
            paused = Completion(
                "", self.usage_of(data), answering_model(data), effort, stop_reason=stop
            )
            raise LLMError(
                f"{self.shown_url}: the model paused its turn (stop_reason 'pause_turn'), so "
                "the answer is not complete; this client does not continue paused turns",
                answer=paused,
            )
        # model_context_window_exceeded: cut by the context window rather than max_tokens.
        truncated = stop in ("max_tokens", "model_context_window_exceeded")
        refused = stop == "refusal"  # any text is what the model said before declining
        if refused:
            texts = [" ".join(t for t in texts if isinstance(t, str)).strip()]
        elif not texts and truncated:
            texts = [""]  # cut while thinking: reported as cut short, by ``chat``
        if not texts or not all(isinstance(t, str) for t in texts):
            raise LLMError(f"{self.shown_url}: field content has no text block")
        return Completion(
            text="".join(texts),
            usage=self.usage_of(data),
            model=answering_model(data),
            effort=effort,
            reasoning="".join(str(t) for t in thoughts) if thoughts else None,
            stop_reason=stop if isinstance(stop, str) else None,
            truncated=truncated,
            refusal=texts[0] if refused else None,
        )
