"""An OpenAI-compatible chat-completions client over httpx, for escalation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from orchestrator.errors import EscalationError

__all__ = ["OpenAICompatibleClient"]


class OpenAICompatibleClient:
    """POST ``{base_url}/chat/completions`` and return the first choice's text.

    Pass ``transport`` (e.g. ``httpx.MockTransport``) to test without a network.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.transport = transport
        self.calls = 0

    async def complete(self, messages: Sequence[Mapping[str, str]]) -> str:
        self.calls += 1
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body: dict[str, Any] = {"model": self.model, "messages": [dict(m) for m in messages]}
        async with httpx.AsyncClient(timeout=self.timeout_s, transport=self.transport) as client:
            try:
                response = await client.post(
                    f"{self.base_url}/chat/completions", json=body, headers=headers
                )
                response.raise_for_status()
                data = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise EscalationError(f"{self.base_url}: chat completion failed: {exc}") from exc
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise EscalationError(
                f"{self.base_url}: field choices.0.message.content missing in the response"
            ) from exc
        if not isinstance(content, str):
            raise EscalationError(f"{self.base_url}: field choices.0.message.content is not text")
        return content
