"""One JSON POST over httpx, shared by the adapters, with failures raised as ``LLMError``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from orchestrator.errors import LLMError

__all__ = ["post_json", "unknown_effort"]


async def post_json(
    url: str,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    *,
    timeout_s: float,
    transport: httpx.AsyncBaseTransport | None,
    what: str,
) -> dict[str, Any]:
    """POST ``body`` and return the JSON object answered; ``what`` names the call in errors."""
    async with httpx.AsyncClient(timeout=timeout_s, transport=transport) as client:
        try:
            response = await client.post(url, json=dict(body), headers=dict(headers))
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise LLMError(f"{url}: {what} failed: {exc}") from exc
    if not isinstance(data, dict):
        raise LLMError(f"{url}: {what}: expected a JSON object, got {type(data).__name__}")
    return data


def unknown_effort(field: str, effort: str, known: Mapping[str, Any]) -> LLMError:
    return LLMError(
        f"policy field llm.{field}: no mapping for effort {effort!r}; expected one of "
        f"{sorted(known)}"
    )
