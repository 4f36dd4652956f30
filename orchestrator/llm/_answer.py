"""Read the JSON an LLM was asked to answer with, tolerating a Markdown code fence around it."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.errors import OrchestratorError

__all__ = ["json_answer"]


def json_answer(answer: str, error: type[OrchestratorError], what: str) -> Any:
    """The JSON value in ``answer``; ``error(f"{what} is not JSON: ...")`` when there is none."""
    text = answer.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{what} is not JSON: {answer[:200]!r}") from exc
