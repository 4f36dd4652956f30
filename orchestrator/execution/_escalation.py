"""Escalation: when no healthy path is left, ask a pluggable handler to demote the goal or give up;
when a run cannot start for want of inputs, to provide them.

Each ``escalate`` call is one control-plane LLM call and is counted as such. ``LLMEscalation``
asks any ``LLMClient`` (see ``orchestrator.llm`` for the provider adapters);
``ScriptedEscalation`` answers from a script, for tests and scenarios.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator.errors import EscalationError
from orchestrator.graph import Fallback
from orchestrator.llm import LLMClient
from orchestrator.llm._answer import json_answer

__all__ = [
    "Demote",
    "Escalation",
    "EscalationDecision",
    "EscalationRequest",
    "GiveUp",
    "LLMClient",
    "LLMEscalation",
    "Provide",
    "ScriptedEscalation",
]


@dataclass(frozen=True)
class EscalationRequest:
    """What the handler is told: the unreachable goal, what is done and failed, the options;
    and, when the run cannot start for want of inputs, the task and the inputs it lacks (the
    handler may ``Provide`` them, say from the task's text)."""

    graph: str
    goal: str
    done: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]
    fallbacks: tuple[Fallback, ...]
    reason: str
    task: str = ""
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Demote:
    """Pursue the fallback goal ``fallback`` instead."""

    fallback: str
    reason: str = ""


@dataclass(frozen=True)
class GiveUp:
    """Stop and hand the task back, saying why."""

    reason: str


@dataclass(frozen=True)
class Provide:
    """Values for the inputs the request says are ``missing``, by parameter name."""

    inputs: Mapping[str, Any]
    reason: str = ""


EscalationDecision = Demote | GiveUp | Provide


class Escalation(Protocol):
    """Decides what to do when no path is left; one call is one control-plane LLM call."""

    async def escalate(self, request: EscalationRequest) -> EscalationDecision: ...


class ScriptedEscalation:
    """Answers from ``script`` in order; once it runs out, demotes to the first untried fallback
    or gives up. ``calls`` counts the questions asked."""

    def __init__(self, script: Sequence[EscalationDecision] = ()) -> None:
        self.script = list(script)
        self.calls = 0

    async def escalate(self, request: EscalationRequest) -> EscalationDecision:
        self.calls += 1
        if self.calls <= len(self.script):
            return self.script[self.calls - 1]
        if request.fallbacks:
            fallback = request.fallbacks[0]
            return Demote(fallback.goal, fallback.description)
        return GiveUp(f"no fallback left for {request.goal}")


_SYSTEM = (
    "You supervise a tool pipeline. No healthy route reaches the goal. Answer with one JSON "
    'object only: {"action": "demote", "fallback": "<one of the fallback goals>", "reason": '
    '"..."} to settle for a fallback, or {"action": "give_up", "reason": "..."}.'
)
_SYSTEM_INPUTS = (
    "You supervise a tool pipeline. The task cannot start: the tools need inputs nobody gave. "
    "Answer with one JSON object only: "
    '{"action": "provide", "inputs": {"<missing input>": <value>, ...}, "reason": "..."} with '
    "values the task itself states (never invent one), or "
    '{"action": "give_up", "reason": "..."} when it does not state them.'
)


class LLMEscalation:
    """Escalate by asking an LLM, which must answer with a JSON decision."""

    def __init__(self, client: LLMClient) -> None:
        self.client = client
        self.calls = 0

    async def escalate(self, request: EscalationRequest) -> EscalationDecision:
        self.calls += 1
        prompt: dict[str, Any] = {
            "graph": request.graph,
            "goal": request.goal,
            "done": list(request.done),
            "failed": [{"tool": t, "failure": f} for t, f in request.failed],
            "fallbacks": [
                {"goal": f.goal, "description": f.description} for f in request.fallbacks
            ],
            "reason": request.reason,
        }
        if request.missing:
            prompt = {"task": request.task, "missing": list(request.missing), **prompt}
        answer = await self.client.complete(
            [
                {"role": "system", "content": _SYSTEM_INPUTS if request.missing else _SYSTEM},
                {"role": "user", "content": json.dumps(prompt)},
            ]
        )
        return parse_decision(answer, request)


def parse_decision(answer: str, request: EscalationRequest) -> EscalationDecision:
    """Read the LLM's JSON answer; raise ``EscalationError`` if it is not a valid decision."""
    data = json_answer(answer, EscalationError, "escalation answer")
    if not isinstance(data, dict):
        raise EscalationError(f"escalation answer is not a JSON object: {answer[:200]!r}")
    action = data.get("action")
    reason = str(data.get("reason", ""))
    if action == "give_up":
        return GiveUp(reason or "the escalation handler gave up")
    if action == "provide" and request.missing:
        values = data.get("inputs")
        if not isinstance(values, dict) or not values:
            raise EscalationError("escalation answer: field inputs: expected a non-empty object")
        unknown = sorted(set(values) - set(request.missing))
        if unknown:
            raise EscalationError(
                f"escalation answer: field inputs: {unknown} not among the missing inputs "
                f"{list(request.missing)}"
            )
        return Provide(values, reason)
    if action == "demote":
        goal = data.get("fallback")
        allowed = [f.goal for f in request.fallbacks]
        if goal not in allowed:
            raise EscalationError(
                f"escalation answer: field fallback: {goal!r} is not one of {allowed}"
            )
        return Demote(str(goal), reason)
    expected = "provide or give_up" if request.missing else "demote or give_up"
    raise EscalationError(f"escalation answer: field action: expected {expected}, got {action!r}")
