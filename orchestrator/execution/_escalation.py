"""Escalation: when no healthy path is left, ask a pluggable handler to demote the goal or give up;
when steps lack inputs (a run that cannot start, or steps refused mid-run for a missing
argument), to provide them.

Each ``escalate`` call is one control-plane LLM call and is counted as such. ``LLMEscalation``
asks any ``LLMClient`` (see ``orchestrator.llm`` for the provider adapters);
``ScriptedEscalation`` answers from a script, for tests and scenarios.
"""

from __future__ import annotations

import json
import re
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
    "ask_handler",
    "check_decision",
    "has_choice",
]


@dataclass(frozen=True)
class EscalationRequest:
    """What the handler is told: the unreachable goal, what is done and failed, the options;
    and, when steps lack inputs (before the run starts, or refused mid-run), the task and the
    inputs they lack (the handler may ``Provide`` them, say from the task's text)."""

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


_SITUATION = "You supervise a tool pipeline. No healthy route reaches the goal."
_SITUATION_INPUTS = (
    "You supervise a tool pipeline. Tools need inputs nobody gave (listed as missing)."
)
_OPTIONS = {
    "provide": '{"action": "provide", "inputs": {"<missing input>": <value>, ...}, "reason": '
    '"..."} with values the task itself states (never invent one)',
    "demote": '{"action": "demote", "fallback": "<one of the fallback goals>", "reason": '
    '"..."} to settle for a fallback',
    "give_up": '{"action": "give_up", "reason": "..."}',
}


# A value written as a template's slot: "<payment_id>", "<missing input>".
_PLACEHOLDER = re.compile(r"\s*<[^<>]*>\s*")


def _actions(request: EscalationRequest) -> list[str]:
    """What the handler may answer: inputs when some are missing, a fallback when one is
    offered, and always giving up."""
    actions = ["provide"] if request.missing else []
    if request.fallbacks:
        actions.append("demote")
    return [*actions, "give_up"]


def has_choice(request: EscalationRequest) -> bool:
    """Whether the handler has anything to decide: inputs to provide or a fallback to take.
    Without either, giving up is the only answer, and asking a model for it cost a paid call
    (and a failed call turned the escalation into a failed run)."""
    return _actions(request) != ["give_up"]


def _system_prompt(request: EscalationRequest) -> str:
    situation = _SITUATION_INPUTS if request.missing else _SITUATION
    options = ", or ".join(_OPTIONS[action] for action in _actions(request))
    return f"{situation} Answer with one JSON object only: {options}."


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
                {"role": "system", "content": _system_prompt(request)},
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
    decision: EscalationDecision
    if action == "provide" and request.missing:
        values = data.get("inputs")
        if not isinstance(values, dict) or not values:
            raise EscalationError("escalation answer: field inputs: expected a non-empty object")
        decision = Provide(values, reason)
    elif action == "demote" and "demote" in _actions(request):
        decision = Demote(str(data.get("fallback")), reason)
    else:
        expected = " or ".join(_actions(request))
        raise EscalationError(
            f"escalation answer: field action: expected {expected}, got {action!r}"
        )
    try:
        check_decision(decision, request)
    except EscalationError as err:
        raise EscalationError(f"escalation answer: {err}") from None
    return decision


def check_decision(decision: EscalationDecision, request: EscalationRequest) -> None:
    """Raise ``EscalationError`` for a decision that cannot be applied to ``request``: a
    fallback it does not offer, or inputs it did not ask for. Applied to every handler's
    decision, not only to an LLM's parsed answer."""
    if isinstance(decision, Demote):
        offered = [f.goal for f in request.fallbacks]
        if decision.fallback not in offered:
            raise EscalationError(
                f"field fallback: {decision.fallback!r} is not one of the fallbacks offered "
                f"{offered}"
            )
    elif isinstance(decision, Provide):
        if not decision.inputs:
            raise EscalationError(f"field inputs: empty; expected {list(request.missing)}")
        unknown = sorted(set(decision.inputs) - set(request.missing))
        if unknown:
            raise EscalationError(
                f"field inputs: {unknown} not among the missing inputs {list(request.missing)}"
            )
        for name, value in decision.inputs.items():
            # No value is not a value: a null (or the prompt's own "<missing input>" echoed
            # back) had reached a real refund as its payment id, and the run said completed.
            if value is None or (isinstance(value, str) and _PLACEHOLDER.fullmatch(value)):
                raise EscalationError(
                    f"field inputs.{name}: {value!r} is no value; provide one the task "
                    "states, or give up"
                )


async def ask_handler(handler: Escalation, request: EscalationRequest) -> EscalationDecision:
    """The handler's decision for ``request``, checked (``check_decision``). A handler, or an
    LLM client under it, that cannot be reached (``OSError``: a refused or lost connection, a
    timeout) fails as an ``EscalationError`` naming it, as an ``LLMError`` does: the run ends
    ``failed`` with a logged escalation. Anything else is a bug and is raised as itself."""
    try:
        decision = await handler.escalate(request)
    except OSError as exc:
        raise EscalationError(f"{type(exc).__name__}: {exc}") from exc
    check_decision(decision, request)
    return decision
