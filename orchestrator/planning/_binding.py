"""Fill each planned skill's arguments from the caller's inputs and its producers' outputs.

The executor hands every step ``{"inputs": ..., "upstream": {tool: output}}``. ``BindingInvoker``
wraps any invoker and turns that into the skill's own arguments by name, following the plan's
bindings (``book_flight.travel_from`` <- ``get_nearest_airport_by_city.nearestAirport``), so real
functions are called with the keyword arguments they declare.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from orchestrator.catalog import Skill
from orchestrator.execution import RUN_CONTEXT_KEYS, Invoker, invoke_at, takes_effort_of
from orchestrator.planning._dependencies import DependencyGraph
from orchestrator.planning._plan import PlanStep, TaskPlan, input_keys

__all__ = ["BindingInvoker", "read_field"]

_MISSING = object()


def read_field(output: Any, path: str) -> Any:
    """Value at ``path`` (``orders.id``) in ``output``; a list on the way yields its first item.
    Returns a private sentinel when absent, so ``None`` stays a value."""
    value = output
    for part in path.split("."):
        if isinstance(value, list):
            if not value:
                return _MISSING
            value = value[0]
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


class BindingInvoker:
    """Invoke ``inner`` with each skill's arguments bound by name.

    Parameters
    ----------
    inner
        The invoker that really calls tools (callables, MCP, simulated, fault-injected).
    plan
        The plan being run; its bindings say which producer output feeds which input.
    skills
        The catalog's skills by id (for parameter names).
    dependencies
        Used when a step was served by an alternative producer, whose output fields differ.
    given
        The inputs the caller gave, by name: a run's own context (``RUN_CONTEXT_KEYS``: the task
        text, routing signals) rides in the same inputs, and is an argument only where the
        caller gave it (a ``task`` parameter of a to-do tool is not the orchestrator's task).
    """

    def __init__(
        self,
        inner: Invoker,
        plan: TaskPlan,
        skills: Mapping[str, Skill],
        dependencies: DependencyGraph | None = None,
        *,
        given: Collection[str] = (),
    ) -> None:
        self.inner = inner
        self.context_keys = RUN_CONTEXT_KEYS - set(given)
        self.plan = plan
        self.skills = skills
        self.dependencies = dependencies
        self._step_of: dict[str, PlanStep] = {}
        for step in plan.steps:
            for skill_id in (step.id, *step.alternatives):
                self._step_of.setdefault(skill_id, step)

    async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        return await self.inner.invoke(tool, self._bind(tool, arguments))

    def takes_effort(self, tool: str) -> bool:
        """Whether the inner invoker takes an effort for ``tool``."""
        return takes_effort_of(self.inner, tool)

    async def invoke_with_effort(self, tool: str, arguments: Mapping[str, Any], effort: str) -> Any:
        """Pass the step's reasoning effort on to an inner invoker that takes one."""
        return await invoke_at(self.inner, tool, self._bind(tool, arguments), effort)

    def _bind(self, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        inputs = arguments.get("inputs") or {}
        upstream = arguments.get("upstream") or {}
        return self.arguments_for(tool, inputs, upstream)

    def arguments_for(
        self, tool: str, inputs: Mapping[str, Any], upstream: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``tool``'s arguments: ``inputs["tool.param"]``, else ``inputs["param"]``, else the
        bound producer's output field (for a tool the plan has no step for, an earlier step's
        output that can feed it, see ``_from_any_producer``); parameters with none of these
        are left out. A tool the catalog does not describe (a node of a graph you gave) gets
        the caller's inputs. The run's own context is not an argument (``given``)."""
        context = self.context_keys
        skill = self.skills.get(tool)
        if skill is None:
            return {k: v for k, v in inputs.items() if k not in context}
        step = self._step_of.get(tool)
        bound: dict[str, Any] = {}
        for name in skill.parameter_names():
            for key in input_keys(tool, name):
                if key in inputs and key not in context:
                    bound[name] = inputs[key]
                    break
            else:
                value = self._from_upstream(tool, name, step, upstream)
                if value is not _MISSING:
                    bound[name] = value
        return bound

    def _from_upstream(
        self, tool: str, name: str, step: PlanStep | None, upstream: Mapping[str, Any]
    ) -> Any:
        if step is None:
            return self._from_any_producer(tool, name, upstream)
        for binding in step.bindings:
            if binding.input != name:
                continue
            # The producing step may have been served by its chosen skill or an alternative.
            for producer, output in upstream.items():
                if producer == binding.step:
                    value = read_field(output, binding.output)
                elif self.dependencies is not None:
                    edge = next(
                        (e for e in self.dependencies.between(producer, tool) if e.input == name),
                        None,
                    )
                    value = read_field(output, edge.output) if edge else _MISSING
                else:
                    value = read_field(output, binding.output)
                if value is not _MISSING:
                    return value
        return _MISSING

    def _from_any_producer(self, tool: str, name: str, upstream: Mapping[str, Any]) -> Any:
        """For a tool the plan has no step for (a node of a graph you gave, a fallback goal's
        step): an output of a step that ran before it that can feed the input (a dependency
        edge), else, for a required input, one named as the input. The ticket of a graph's
        fallback had failed for want of the ``user_id`` the step before it had just
        returned. An optional input is not filled by a name alone: an order's ``status``
        ("shipped") is no ticket's."""
        skill = self.skills.get(tool)
        required = skill is not None and name in skill.required_parameters()
        for producer, output in reversed(list(upstream.items())):  # the nearest first
            if self.dependencies is not None:
                for edge in self.dependencies.between(producer, tool):
                    if edge.input == name:
                        value = read_field(output, edge.output)
                        if value is not _MISSING:
                            return value
            value = read_field(output, name) if required else _MISSING
            if value is not _MISSING:
                return value
        return _MISSING
