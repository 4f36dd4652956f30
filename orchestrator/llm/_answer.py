"""Read the JSON an LLM was asked to answer with, as models actually reply: after a leading
``<think>`` block (Qwen, DeepSeek), inside a Markdown code fence, or after a line of prose."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from orchestrator.errors import OrchestratorError

__all__ = ["json_answer"]

# A fenced block: ```json ... ``` or ``` ... ```, its body captured.
_FENCE = re.compile(r"```[ \t]*(?:json)?[ \t]*\n?(.*?)```", re.DOTALL | re.IGNORECASE)
_DECODER = json.JSONDecoder()


def json_answer(answer: str, error: type[OrchestratorError], what: str) -> Any:
    """The one JSON value in ``answer``; ``error`` naming ``what`` when there is none, or when
    there are several different ones (which one the model meant is not ours to guess).

    A leading ``<think>...</think>`` block is dropped (also its tail alone, ``...</think>``,
    when the chat template opened it in the prompt). Then the reply read whole, else the
    fenced blocks that hold JSON, else the JSON values in the prose, objects before arrays (a
    ``[1]`` citation beside the decision is not a second answer). The same value repeated
    counts once.
    """
    text = _without_thinking(answer).strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass

    def candidates() -> Iterator[list[Any]]:  # in order, each read only when needed
        yield _fenced(text)
        objects, arrays = _embedded(text)
        yield objects
        yield arrays

    for found in candidates():
        distinct = _distinct(found)
        if len(distinct) == 1:
            return distinct[0]
        if len(distinct) > 1:
            shown = ", ".join(json.dumps(value)[:80] for value in distinct[:3])
            raise error(
                f"{what} holds {len(distinct)} different JSON values ({shown}); expected "
                f"one: {answer[:200]!r}"
            )
    raise error(f"{what} is not JSON: {answer[:200]!r}")


def _without_thinking(answer: str) -> str:
    """``answer`` after its leading think block, if any; an unclosed one is left as it is (the
    reply then holds no answer, and says so as not JSON)."""
    stripped = answer.lstrip()
    if stripped.startswith("<think>"):
        end = stripped.find("</think>")
        return stripped[end + len("</think>") :] if end >= 0 else answer
    if "</think>" in answer and "<think>" not in answer:
        return answer.split("</think>", 1)[1]
    return answer


def _fenced(text: str) -> list[Any]:
    """The values of the fenced blocks that are JSON whole (a fenced shell line is not)."""
    values = []
    for body in _FENCE.findall(text):
        try:
            values.append(json.loads(body))
        except json.JSONDecodeError:
            continue
    return values


def _embedded(text: str) -> tuple[list[Any], list[Any]]:
    """The outermost JSON objects and arrays in prose, each left to right, in one scan."""
    objects: list[Any] = []
    arrays: list[Any] = []
    at = 0
    while (at := _next_value(text, at)) >= 0:
        try:
            value, end = _DECODER.raw_decode(text, at)
        except json.JSONDecodeError:
            at += 1
            continue
        (objects if text[at] == "{" else arrays).append(value)
        at = end  # what is inside a value is part of it, not another one
    return objects, arrays


def _next_value(text: str, start: int) -> int:
    """Where the next ``{`` or ``[`` is, from ``start``; -1 when there is none."""
    found = [i for i in (text.find("{", start), text.find("[", start)) if i >= 0]
    return min(found) if found else -1


def _distinct(values: list[Any]) -> list[Any]:
    """``values`` without repeats, in order (compared as canonical JSON)."""
    seen: dict[str, Any] = {}
    for value in values:
        seen.setdefault(json.dumps(value, sort_keys=True), value)
    return list(seen.values())
