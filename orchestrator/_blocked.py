"""Whether a plan can run to its end before anything runs.

A run whose step none of its skills can be called for (no function for it, an argument nobody
gives) would stop there after the steps before it had taken effect: a charge made for a
receipt that cannot be sent. ``blocked_steps`` finds such steps from what the invoker can tell
before any call (``CheckingInvoker``) and what ``BindingInvoker`` would pass each skill: the
caller's inputs and the outputs of earlier steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.catalog import Skill
from orchestrator.execution import CheckingInvoker
from orchestrator.planning import DependencyGraph, TaskPlan, given_input

__all__ = ["BlockedStep", "blocked_steps", "missing_arguments", "unserved_skills"]


@dataclass(frozen=True)
class BlockedStep:
    """A plan step none of whose skills can be called: ``missing`` are the arguments the first
    skill an input could unblock lacks, ``why`` says it for every skill."""

    step: str
    missing: tuple[str, ...]
    why: str

    def describe(self) -> str:
        return f"{self.step} ({self.why})"


def blocked_steps(
    plan: TaskPlan,
    invoker: CheckingInvoker,
    skills: Mapping[str, Skill],
    inputs: Mapping[str, Any],
    dependencies: DependencyGraph | None = None,
) -> list[BlockedStep]:
    """The steps of ``plan`` that none of their skills can be called for, whatever happens
    before them: ``invoker`` refuses the skill with the only arguments ``BindingInvoker`` can
    pass it, those ``inputs`` or an earlier step give (no function registered for it, say, or
    one that needs an argument nobody gives). Empty when every step has a skill that can be
    called."""
    blocked: list[BlockedStep] = []
    earlier: list[str] = []  # the skills of the steps before, any of which may serve its step
    for step in plan.steps:
        problems: list[str] = []
        missing: tuple[str, ...] = ()
        for option in (step.id, *step.alternatives):
            skill = skills.get(option)
            if skill is None:
                problems.append(f"{option}: not in the catalog")
                continue
            fed = {b.input for b in step.bindings} if option == step.id else set()
            if dependencies is not None:
                fed |= {e.input for p in earlier for e in dependencies.between(p, option)}
            names = [
                n for n in skill.parameter_names() if n in fed or given_input(inputs, option, n)
            ]
            refused = invoker.refusal(option, names)
            if refused is None:
                break
            problems.append(f"{option}: {refused.why}")
            missing = missing or refused.missing  # what the first skill it can help lacks
        else:
            blocked.append(BlockedStep(step.id, missing, "; ".join(problems)))
        earlier.extend((step.id, *step.alternatives))
    return blocked


def unserved_skills(plan: TaskPlan, invoker: CheckingInvoker) -> tuple[str, ...]:
    """The skills of ``plan`` (chosen or alternative) that nothing in the run can call, whatever
    the arguments (``ArgumentRefusal.served`` false: no function given for them, no server).

    A run leaves them out of its graph. Tried, each would only fail as "not served" and be
    rerouted from, and after an earlier run's failures weighed the chosen skill down, a clean
    run began with such failures."""
    options = (option for step in plan.steps for option in (step.id, *step.alternatives))
    unserved = []
    for option in dict.fromkeys(options):
        refused = invoker.refusal(option, ())
        if refused is not None and not refused.served:
            unserved.append(option)
    return tuple(unserved)


def missing_arguments(blocked: list[BlockedStep]) -> tuple[str, ...]:
    """The arguments the blocked steps lack, once each, in plan order: what inputs could give."""
    return tuple(dict.fromkeys(n for b in blocked for n in b.missing))
