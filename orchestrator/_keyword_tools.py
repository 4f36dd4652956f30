"""Plain Python functions as tools: called with keyword arguments, checked against their
signatures before they are called (and, for a whole plan, before a run starts).

A function is registered under a skill's id or name (``{"stripe_create_refund": refund}``).
Its arguments come only from the caller's inputs and the producers' outputs
(``BindingInvoker``), so whether a call can be made at all is known in advance: a run whose
step no function can be called for does not start, rather than stopping after the steps
before it have taken effect.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.catalog import Skill
from orchestrator.errors import ToolArgumentError
from orchestrator.planning import DependencyGraph, TaskPlan, given_input

__all__ = ["BlockedStep", "ToolFunction", "blocked_steps", "keyword_tools"]

ToolFunction = Callable[..., Any]


def skill_ids(keys: Iterable[str], skills: Mapping[str, Skill]) -> dict[str, str]:
    """The id of the skill each key registers a function for: a key is a skill's id or name."""
    by_name = {s.name: s.id for s in skills.values()}
    return {key: key if key in skills else by_name.get(key, key) for key in keys}


def by_skill_id(
    functions: Mapping[str, ToolFunction], skills: Mapping[str, Skill]
) -> dict[str, ToolFunction]:
    """The functions keyed by skill id; each may be registered under the skill's id or name."""
    ids = skill_ids(functions, skills)
    return {ids[key]: fn for key, fn in functions.items()}


def keyword_tools(
    functions: Mapping[str, ToolFunction], skills: Mapping[str, Skill]
) -> dict[str, Callable[[Mapping[str, Any]], Any]]:
    """Adapt plain functions (``def book(flight_id, seat)``) to the invoker's one-mapping call,
    keyed by skill id; a function may be registered under the skill's id or its name."""
    adapted: dict[str, Callable[[Mapping[str, Any]], Any]] = {}
    for skill_id, fn in by_skill_id(functions, skills).items():
        skill = skills.get(skill_id)
        check = _argument_check(skill_id, fn, skill.parameter_names() if skill else ())
        if inspect.iscoroutinefunction(fn):

            async def call_async(
                arguments: Mapping[str, Any],
                fn: Callable[..., Awaitable[Any]] = fn,
                check: Callable[[Mapping[str, Any]], None] = check,
            ) -> Any:
                check(arguments)
                return await fn(**arguments)

            adapted[skill_id] = call_async
        else:

            def call(
                arguments: Mapping[str, Any],
                fn: ToolFunction = fn,
                check: Callable[[Mapping[str, Any]], None] = check,
            ) -> Any:
                check(arguments)
                return fn(**arguments)

            adapted[skill_id] = call
    return adapted


def _signature(fn: ToolFunction) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have none: the call itself will tell
        return None


def _refusal(signature: inspect.Signature | None, names: Collection[str]) -> str | None:
    """Why a function of ``signature`` cannot be called with keyword arguments ``names`` (None
    when it can, or when there is no signature to tell)."""
    if signature is None:
        return None
    try:
        signature.bind(**dict.fromkeys(names))
    except TypeError as exc:
        return str(exc)
    return None


def _argument_check(
    tool: str, fn: ToolFunction, parameters: Collection[str]
) -> Callable[[Mapping[str, Any]], None]:
    """Raise ``ToolArgumentError`` before ``fn`` is called with arguments its signature refuses
    (a required one no step and no input supplied): a call that cannot start says so, instead
    of a ``TypeError`` retried as if the tool had failed. The error's ``missing`` are the
    absent arguments among the skill's ``parameters``, the only ones an input can supply."""
    signature = _signature(fn)
    own = frozenset(parameters)

    def check(arguments: Mapping[str, Any]) -> None:
        problem = _refusal(signature, arguments)
        if problem is not None:
            raise ToolArgumentError(
                f"{problem} (pass it in inputs, by parameter name, or plan a step that "
                "produces it)",
                tool=tool,
                missing=(n for n in _unfilled(signature, arguments) if n in own),
            )

    return check


def _unfilled(signature: inspect.Signature | None, names: Collection[str]) -> tuple[str, ...]:
    """The parameters without a default that ``names`` leave out (what a caller could supply)."""
    if signature is None:
        return ()
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(
        p.name
        for p in signature.parameters.values()
        if p.kind in keyword and p.default is p.empty and p.name not in names
    )


@dataclass(frozen=True)
class BlockedStep:
    """A plan step none of whose skills can be called: ``missing`` are the arguments the first
    skill with a function lacks (what an input could supply), ``why`` says it for every skill."""

    step: str
    missing: tuple[str, ...]
    why: str

    def describe(self) -> str:
        return f"{self.step} ({self.why})"


def blocked_steps(
    plan: TaskPlan,
    functions: Mapping[str, ToolFunction],
    skills: Mapping[str, Skill],
    inputs: Mapping[str, Any],
    dependencies: DependencyGraph | None = None,
) -> list[BlockedStep]:
    """The steps of ``plan`` that none of their skills can be called for, whatever happens
    before them: no function is registered for the skill, or its function needs an argument
    that neither ``inputs`` nor an earlier step can give (``BindingInvoker`` passes only
    those). Empty when every step has a skill that can be called."""
    functions = by_skill_id(functions, skills)
    blocked: list[BlockedStep] = []
    earlier: list[str] = []  # the skills of the steps before, any of which may serve its step
    for step in plan.steps:
        problems: list[str] = []
        missing: tuple[str, ...] | None = None
        for option in (step.id, *step.alternatives):
            fn, skill = functions.get(option), skills.get(option)
            if fn is None or skill is None:
                problems.append(f"{option}: no function")
                continue
            fed = {b.input for b in step.bindings} if option == step.id else set()
            if dependencies is not None:
                fed |= {e.input for p in earlier for e in dependencies.between(p, option)}
            names = [
                n for n in skill.parameter_names() if n in fed or given_input(inputs, option, n)
            ]
            signature = _signature(fn)
            problem = _refusal(signature, names)
            if problem is None:
                break
            problems.append(f"{option}: {problem}")
            if missing is None:  # only the skill's own parameters can be given as inputs
                own = set(skill.parameter_names())
                missing = tuple(n for n in _unfilled(signature, names) if n in own)
        else:
            blocked.append(BlockedStep(step.id, missing or (), "; ".join(problems)))
        earlier.extend((step.id, *step.alternatives))
    return blocked
