"""A task plan: the skills to run, in order, what each takes its inputs from, and its alternatives.

A plan is plain data. ``to_graph`` turns it into a ``ToolGraph`` the self-healing executor runs:
each step is a state reached by any one of its skills (the chosen one or an alternative), and a
skill waits for every step it takes inputs from.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.catalog import Skill
from orchestrator.errors import PlanningError
from orchestrator.graph import ToolGraph

__all__ = ["Binding", "PlanStep", "TaskPlan", "given_input", "split_input_key"]

START = "Start"
GOAL = "Done"
# Prefer the chosen skill over its alternatives unless its health says otherwise.
_ALTERNATIVE_PENALTY = 0.5


@dataclass(frozen=True)
class Binding:
    """Input ``input`` of a step is taken from output field ``output`` of step ``step``."""

    input: str
    step: str
    output: str
    reason: str = ""


def input_keys(skill_id: str, name: str) -> tuple[str, str]:
    """Where the caller's inputs may hold ``skill_id``'s input ``name``, the first found
    winning: ``"skill_id.name"`` for that skill alone, then ``name`` for any skill."""
    return f"{skill_id}.{name}", name


def split_input_key(key: str) -> tuple[str, str]:
    """``"skill_id.name"`` -> (skill_id, name); the skill id may hold dots itself."""
    skill_id, _, name = key.rpartition(".")
    return skill_id, name


def given_input(inputs: Mapping[str, Any], skill_id: str, name: str) -> bool:
    """Whether the caller's ``inputs`` hold ``skill_id``'s input ``name`` (see ``input_keys``)."""
    return any(key in inputs for key in input_keys(skill_id, name))


@dataclass(frozen=True)
class PlanStep:
    """One step: the chosen skill, why it is there, what it waits for, and what may replace it."""

    id: str
    name: str
    needs: tuple[str, ...] = ()
    bindings: tuple[Binding, ...] = ()
    # Required inputs no planned step produces and the caller did not give: the caller (or the
    # agent filling the call) must supply them, or the call fails as ``bad_arguments``.
    open_inputs: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = ()
    subgoal: str = ""
    reason: str = ""
    score: float = 0.0
    # How well the step fits its sub-goal (the fit model's probability) when it was routed to;
    # None for a prerequisite or a step recalled from past runs.
    fit: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "needs": list(self.needs),
            "alternatives": list(self.alternatives),
            "bindings": [
                {"input": b.input, "from": b.step, "output": b.output, "reason": b.reason}
                for b in self.bindings
            ],
            "open_inputs": list(self.open_inputs),
            "subgoal": self.subgoal,
            "reason": self.reason,
            "fit": self.fit,
        }


@dataclass(frozen=True)
class TaskPlan:
    """The steps for ``task`` in execution order, the sub-goals it was split into, the
    sub-goals no skill fits, and the inputs the task itself writes (``stated_inputs``, by
    ``"skill_id.input"``: "refund payment pi_3Mt..." gives ``refund_payment.payment_id``)."""

    task: str
    subgoals: tuple[str, ...]
    steps: tuple[PlanStep, ...]
    unplanned: tuple[str, ...] = ()
    llm_calls: int = 0
    stated_inputs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.steps]

    def step(self, skill_id: str) -> PlanStep:
        for s in self.steps:
            if s.id == skill_id:
                return s
        raise KeyError(skill_id)

    def stated_for(self, skill_id: str) -> dict[str, Any]:
        """The values the task writes for ``skill_id``'s inputs, by input name."""
        stated = {}
        for key, value in self.stated_inputs.items():
            owner, name = split_input_key(key)
            if owner == skill_id:
                stated[name] = value
        return stated

    def contract(self) -> list[dict[str, Any]]:
        """The ``"plan"`` of ``orchestrator route --plan``: ``[{"id", "name", "needs"}, ...]``."""
        return [{"id": s.id, "name": s.name, "needs": list(s.needs)} for s in self.steps]

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "subgoals": list(self.subgoals),
            "steps": [s.to_dict() for s in self.steps],
            "unplanned": list(self.unplanned),
            "llm_calls": self.llm_calls,
            "stated_inputs": dict(self.stated_inputs),
        }

    def to_graph(
        self,
        skills: Mapping[str, Skill],
        *,
        name: str = "plan",
        leave_out: Collection[str] = (),
    ) -> ToolGraph:
        """The tool graph the executor runs: ``Start`` -> each step's skills -> ``Done``.

        Steps run in plan order: a skill waits for the step before it and for every step it
        takes inputs from; a step is done when any one of its skills (chosen first, alternatives
        after) succeeds; ``Done`` needs every step. Skills in ``leave_out`` (ones nothing in
        the run can call) are not in the graph.

        Raises
        ------
        PlanningError
            The plan is empty, names a skill missing from ``skills``, a step needs one that
            is not before it, or ``leave_out`` holds every skill of a step.
        """
        if not self.steps:
            raise PlanningError(f"no step to run for task {self.task!r}")
        graph = ToolGraph(start=START, goal=GOAL, name=name)
        graph.add_state(GOAL, join="all")
        # The state reached when a step is done, by any one of its skills.
        state = {step.id: f"step {n}" for n, step in enumerate(self.steps, start=1)}
        _check_needs(self.steps)
        placed: set[str] = set()
        previous: str | None = None
        for step in self.steps:
            graph.add_state(state[step.id])
            options = (step.id, *step.alternatives)
            if all(skill_id in leave_out for skill_id in options):
                raise PlanningError(f"plan step {step.id}: none of its skills can be called")
            for rank, skill_id in enumerate(options):
                if skill_id in placed or skill_id in leave_out:
                    continue  # one skill serves one step; it is the chosen one where it is
                try:
                    skill = skills[skill_id]
                except KeyError:
                    raise PlanningError(
                        f"plan step {step.id}: skill {skill_id!r} is not in the catalog"
                    ) from None
                placed.add(skill_id)
                waits = [state[n] for n in step.needs]
                if previous is not None and previous not in waits:
                    waits.append(previous)
                sources = waits or [START]
                graph.add_tool(skill, join="all" if len(sources) > 1 else "any")
                for source in sources:
                    graph.add_edge(source, skill_id, 1.0 + _ALTERNATIVE_PENALTY * rank)
                graph.add_edge(skill_id, state[step.id], 0.0)
            graph.add_edge(state[step.id], GOAL, 0.0)
            previous = state[step.id]
        graph.validate()
        return graph


def _check_needs(steps: Sequence[PlanStep]) -> None:
    """Each step needs only steps before it (a plan is in execution order): a plan built by
    hand, from ``route --plan`` lines say, may name one that is not."""
    ids = [step.id for step in steps]
    for index, step in enumerate(steps):
        for need in step.needs:
            if need in ids[:index]:
                continue
            if need == step.id:
                what = "itself"
            elif need in ids:
                what = f"{need!r}, which comes after it (steps run in the plan's order)"
            else:
                what = f"{need!r}, which is not a step of the plan (steps: {', '.join(ids)})"
            raise PlanningError(f"plan step {step.id}: needs {what}")
