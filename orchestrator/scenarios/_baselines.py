"""Two baselines to compare the router against, run through the same executor step and log.

- ``ReactAgent``: asks the (scripted) LLM which tool to call at every routing step and what to do
  after every failure, like a ReAct loop. Its answers come from the same planner over declared
  costs, so it routes sensibly; what it costs is LLM calls.
- ``StaticWorkflow``: a fixed sequence of stages with one fallback each, decided up front; when
  both choices fail the stage is skipped, which the silent-failure checker then reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import anyio

from orchestrator.errors import NoPathError, ToolFailure
from orchestrator.execution import (
    DecisionLog,
    Demote,
    EscalationDecision,
    EscalationRequest,
    Executor,
    Failure,
    GiveUp,
    Provide,
    RunResult,
    classify,
    missing_inputs,
    satisfied,
)
from orchestrator.execution._executor import Outcome
from orchestrator.graph import Plan, ToolGraph, Weights, plan_route

__all__ = ["ReactAgent", "StaticWorkflow"]


class ReactAgent:
    """A ReAct-style controller: one LLM call per routing step and one per failure."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.graph = executor.graph

    async def run(
        self, inputs: Mapping[str, Any] | None = None, *, log: DecisionLog | None = None
    ) -> RunResult:
        log = DecisionLog() if log is None else log
        graph = self.graph
        retry_policy = self.executor.policy.execution.retry
        inputs = dict(inputs or {})
        lacking: dict[str, Failure] = {}  # tool -> its bad_arguments failure, naming what it lacked
        done, failed = {graph.start}, set[str]()
        path: list[str] = []
        outputs: dict[str, Any] = {}
        attempts: Counter[str] = Counter()
        goal, tried, llm_calls = graph.goal, {graph.goal}, 0
        outcome: Outcome = "completed"
        while goal not in done:
            try:
                plan = plan_route(graph, Weights(graph, masked=failed), goal=goal, done=done)
            except NoPathError as exc:
                llm_calls += 1  # "nothing works: what now?"
                fallbacks = tuple(f for f in graph.fallbacks if f.goal not in tried)
                decision: EscalationDecision = (
                    Demote(fallbacks[0].goal) if fallbacks else GiveUp("no fallback left")
                )
                if self.executor.escalation is not None:
                    missing = missing_inputs(lacking.values(), inputs)
                    request = EscalationRequest(
                        graph.name,
                        goal,
                        tuple(sorted(done)),
                        (),
                        fallbacks,
                        str(exc),
                        task=str(inputs.get("task", "")) if missing else "",
                        missing=missing,
                    )
                    decision = await self.executor.escalation.escalate(request)
                if isinstance(decision, Provide):
                    inputs.update(decision.inputs)
                    given = satisfied(lacking, inputs)
                    failed.difference_update(given)
                    lacking = {t: f for t, f in lacking.items() if t not in given}
                    provided = ", ".join(sorted(decision.inputs))
                    log.record("escalate", goal, f"{exc}; the LLM provides {provided}")
                    continue
                if not isinstance(decision, Demote):
                    log.record("escalate", goal, f"{exc}; the LLM gives up: {decision.reason}")
                    return self._result("escalated", goal, path, outputs, log, llm_calls)
                log.record("escalate", goal, f"{exc}; the LLM demotes to {decision.fallback}")
                fallback = graph.fallback(decision.fallback)
                log.record("demote", decision.fallback, fallback.description if fallback else "")
                goal, outcome = decision.fallback, "demoted"
                tried.add(goal)
                continue
            ready = plan.ready(done)
            states = [s for s in ready if not graph.node(s).is_tool]
            if states:
                done.update(states)
                continue
            tool = ready[0]
            llm_calls += 1  # "which tool next?"
            arguments = {"inputs": dict(inputs), "upstream": _upstream(plan, tool, outputs)}
            try:
                outputs[tool] = await self.executor.invoke_step(tool, arguments, log)
            except ToolFailure as exc:
                llm_calls += 1  # "that failed: retry or switch?"
                failure = classify(exc)
                attempts[tool] += 1
                if failure.missing:
                    lacking[tool] = failure
                worth_waiting = (failure.retry_after or 0.0) <= retry_policy.max_retry_after_s
                if (
                    failure.kind in retry_policy.transient
                    and worth_waiting
                    and attempts[tool] < retry_policy.max_attempts
                ):
                    log.record("retry", tool, f"{failure.kind}: the LLM says try again")
                    await anyio.sleep(failure.retry_after or retry_policy.initial_s)
                else:
                    failed.add(tool)
                    log.record("reroute", tool, f"{failure.kind}: the LLM picks another tool")
                continue
            done.add(tool)
            path.append(tool)
        log.record("complete", goal, f"reached {goal}")
        return self._result(outcome, goal, path, outputs, log, llm_calls)

    @staticmethod
    def _result(
        outcome: Outcome,
        goal: str,
        path: list[str],
        outputs: dict[str, Any],
        log: DecisionLog,
        llm_calls: int,
    ) -> RunResult:
        return RunResult(outcome, goal, path, outputs, log, llm_calls)


def _upstream(plan: Plan, tool: str, outputs: Mapping[str, Any]) -> dict[str, Any]:
    return {p: outputs[p] for p in plan.needs.get(tool, ()) if p in outputs}


def _fixed_fallback(graph: ToolGraph, step: str, stages: set[str]) -> str | None:
    """The cheapest tool between the same neighbours that is not a stage itself: the one
    fallback a workflow author would wire in."""
    g = graph.digraph
    preds, succs = set(g.predecessors(step)), set(g.successors(step))
    options = [
        (min(g.edges[p, t]["cost"] for p in set(g.predecessors(t)) & preds), t)
        for t in graph.tools()
        if t not in stages and set(g.predecessors(t)) & preds and set(g.successors(t)) & succs
    ]
    return min(options)[1] if options else None


class StaticWorkflow:
    """A workflow fixed before the run: the cheapest plan on declared costs, one fallback per
    stage, no retries, no escalation. A stage whose two choices both fail is skipped."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.graph = executor.graph
        self.plan = plan_route(self.graph, Weights(self.graph))
        steps = [s for s in self.plan.steps if self.graph.node(s).is_tool]
        self.stages = [(s, _fixed_fallback(self.graph, s, set(steps))) for s in steps]

    async def run(
        self, inputs: Mapping[str, Any] | None = None, *, log: DecisionLog | None = None
    ) -> RunResult:
        log = DecisionLog() if log is None else log
        path: list[str] = []
        outputs: dict[str, Any] = {}
        for step, fallback in self.stages:
            for choice in (step, fallback):
                if choice is None:
                    break
                arguments = {
                    "inputs": dict(inputs or {}),
                    "upstream": _upstream(self.plan, step, outputs),
                }
                try:
                    outputs[choice] = await self.executor.invoke_step(choice, arguments, log)
                except ToolFailure as exc:
                    if choice == step and fallback is not None:
                        log.record(
                            "reroute", step, f"{classify(exc).kind}: fixed fallback {fallback}"
                        )
                    continue
                path.append(choice)
                break
            # Both choices failed: the workflow moves on to the next stage regardless.
        log.record("complete", self.graph.goal, "workflow finished")
        return RunResult("completed", self.graph.goal, path, outputs, log, 0)
