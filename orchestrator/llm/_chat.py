"""Chat-completions clients: OpenAI's ``reasoning_effort``, gpt-oss's system line, Qwen's
``enable_thinking``. One wire format (``POST {base_url}/chat/completions``), three effort knobs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.errors import LLMError
from orchestrator.llm._http import (
    HttpLLMClient,
    answering_model,
    token_count,
    unknown_effort,
    usage_fields,
)
from orchestrator.llm._protocol import Completion, Message, Usage

__all__ = ["GptOssClient", "OpenAICompatibleClient", "QwenClient"]


class OpenAICompatibleClient(HttpLLMClient):
    """POST ``{base_url}/chat/completions`` and return the first choice's text; a query on
    ``base_url`` (Azure OpenAI's ``?api-version=...``) stays at the end of the URL.

    The effort goes out as ``reasoning_effort`` (mapped by the policy's ``llm.openai``); usage is
    read from ``usage``, reasoning tokens from ``completion_tokens_details.reasoning_tokens``.
    ``usage`` sums every call; ``last`` is the latest ``Completion``.
    """

    path = "/chat/completions"
    what = "chat completion"
    stop_field = "finish_reason"
    default_provider = "openai"

    def request_body(self, messages: Sequence[Message], effort: str | None) -> dict[str, Any]:
        """The JSON body sent for ``messages`` at ``effort`` (``None``: the provider's default)."""
        body: dict[str, Any] = {"model": self.model, "messages": [dict(m) for m in messages]}
        if effort is not None:
            mapping = self.policy.openai.reasoning_effort
            if effort not in mapping:
                raise unknown_effort("openai.reasoning_effort", effort, mapping)
            body["reasoning_effort"] = mapping[effort]
        return body

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def usage_of(self, data: Mapping[str, Any]) -> Usage:
        usage = usage_fields(data)
        details = usage.get("completion_tokens_details")
        reasoning_tokens = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
        return Usage(
            token_count(usage.get("prompt_tokens")),
            token_count(usage.get("completion_tokens")),
            token_count(reasoning_tokens) if reasoning_tokens is not None else None,
        )

    def read(self, data: dict[str, Any], effort: str | None) -> Completion:
        try:
            choice = data["choices"][0]
            message = choice["message"]
            content = message["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError(
                f"{self.shown_url}: field choices.0.message.content missing in the response"
            ) from exc
        stop = choice.get("finish_reason")
        refusal = message.get("refusal")
        # OpenAI answers a refusal with content null and the reason beside it.
        answered = isinstance(content, str) and bool(content)
        refused = isinstance(refusal, str) and bool(refusal) and not answered
        if refused or (content is None and stop == "length"):
            # Reported by ``chat``: a refusal, or all spent on reasoning (cut short).
            content = ""
        if not isinstance(content, str):
            said = f" (finish_reason {stop!r})" if stop else ""
            raise LLMError(f"{self.shown_url}: field choices.0.message.content is not text{said}")
        # vLLM and SGLang return visible reasoning beside the content, under either name.
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        return Completion(
            text=content,
            usage=self.usage_of(data),
            model=answering_model(data),
            effort=effort,
            reasoning=reasoning if isinstance(reasoning, str) else None,
            stop_reason=stop if isinstance(stop, str) else None,
            truncated=stop == "length",
            refusal=refusal if refused else None,
        )


# A harmony system message's reasoning line, as a caller may have written it already: the
# line gpt-oss reads, "Reasoning: low|medium|high", not any line starting with the word.
_REASONING_LINE = re.compile(r"^[ \t]*Reasoning:[ \t]*(?:low|medium|high)[ \t]*(?:\n|$)", re.M)


class GptOssClient(OpenAICompatibleClient):
    """gpt-oss served behind chat completions: the effort goes out twice, as
    ``reasoning_effort`` and as the harmony system line ``Reasoning: low|medium|high``
    appended to the system message (or sent as one). Servers that render the model's chat
    template (vLLM, Transformers) read ``reasoning_effort`` and turn a caller's system message
    into developer instructions, so the line alone did not reach the model there; servers that
    pass the system message through as the harmony system message read the line."""

    def request_body(self, messages: Sequence[Message], effort: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": [dict(m) for m in messages]}
        if effort is None:
            return body
        mapping = self.policy.gpt_oss.reasoning
        if effort not in mapping:
            raise unknown_effort("gpt_oss.reasoning", effort, mapping)
        body["reasoning_effort"] = mapping[effort]
        line = f"Reasoning: {mapping[effort]}"
        sent: list[dict[str, str]] = body["messages"]
        if sent and sent[0].get("role") == "system":
            # The step's effort replaces a reasoning line the caller wrote: two lines ("low",
            # then "high") left the model to pick one.
            said = str(sent[0].get("content", ""))
            kept, replaced = _REASONING_LINE.subn("", said)
            kept = kept.rstrip("\n") if replaced else said  # the caller's text as it was
            sent[0]["content"] = f"{kept}\n{line}".lstrip("\n")
        else:
            sent.insert(0, {"role": "system", "content": line})
        return body


class QwenClient(OpenAICompatibleClient):
    """Qwen3-style hybrid thinking behind chat completions: the effort switches
    ``enable_thinking`` (and, in DashScope's top-level form, sets ``thinking_budget``)."""

    def request_body(self, messages: Sequence[Message], effort: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": [dict(m) for m in messages]}
        if effort is None:
            return body
        qwen = self.policy.qwen
        if effort not in qwen.enable_thinking:
            raise unknown_effort("qwen.enable_thinking", effort, qwen.enable_thinking)
        thinking = qwen.enable_thinking[effort]
        if qwen.placement == "chat_template_kwargs":
            body["chat_template_kwargs"] = {"enable_thinking": thinking}
        else:
            body["enable_thinking"] = thinking
            if thinking and effort in qwen.thinking_budget:
                body["thinking_budget"] = qwen.thinking_budget[effort]
        return body
