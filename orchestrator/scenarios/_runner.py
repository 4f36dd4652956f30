"""Run scenarios: the router (the real executor), or a baseline, against simulated faulty tools.

All three controllers share the executor's step (invoker, timeout, validation, logging), the fault
injector and the silent-failure checker; only the control loop differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from orchestrator.execution import (
    Decision,
    DecisionLog,
    Demote,
    EscalationDecision,
    Executor,
    GiveUp,
    Provide,
    RunResult,
    ScriptedEscalation,
    silent_failures,
)
from orchestrator.scenarios._baselines import ReactAgent, StaticWorkflow
from orchestrator.scenarios._faults import FaultInjector
from orchestrator.scenarios._model import Scenario, load_scenario
from orchestrator.scenarios._simulated import SimulatedInvoker
from orchestrator.telemetry import traced_run

__all__ = ["CONTROLLERS", "Controller", "ScenarioResult", "run_scenario", "run_scenario_files"]

Controller = Literal["router", "react", "static"]
CONTROLLERS: tuple[Controller, ...] = ("router", "react", "static")


@dataclass
class ScenarioResult:
    """The last run's result, totals over all runs, and which expectations did not hold."""

    scenario: Scenario
    controller: Controller
    last: RunResult
    log: DecisionLog
    llm_calls: int
    mismatches: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.mismatches

    @property
    def outcome_correct(self) -> bool:
        return self.last.outcome in self.scenario.spec.expect.outcome

    @property
    def silent_failures(self) -> list[Decision]:
        return silent_failures(self.log)

    def to_dict(self) -> dict[str, Any]:
        """The ``scenario run --json`` object."""
        return {
            "id": self.scenario.id,
            "outcome": self.last.outcome,
            "path": list(self.last.path),
            "llm_calls": self.llm_calls,
            "reroutes": self.log.count("reroute"),
            "retries": self.log.count("retry"),
            "decisions": [
                {"action": d.action, "tool": d.tool, "reason": d.reason, "t_ms": d.t_ms}
                for d in self.log
            ],
            "silent_failures": len(self.silent_failures),
            "passed": self.passed,
            "mismatches": list(self.mismatches),
        }


def _script(scenario: Scenario) -> list[EscalationDecision]:
    script: list[EscalationDecision] = []
    for reply in scenario.spec.escalation or []:
        if reply.demote is not None:
            script.append(Demote(reply.demote))
        elif reply.provide is not None:
            script.append(Provide(reply.provide))
        else:
            script.append(GiveUp(reply.give_up or ""))
    return script


def _check(
    scenario: Scenario, last: RunResult, llm_calls: int, controller: Controller
) -> list[str]:
    expect = scenario.spec.expect
    problems = []
    if last.outcome not in expect.outcome:
        problems.append(f"outcome {last.outcome}, expected {' or '.join(expect.outcome)}")
    if expect.path is not None:
        wanted = [n for n in expect.path if scenario.graph.node(n).is_tool]
        if last.path != wanted:
            problems.append(f"path {last.path}, expected {wanted}")
    # The LLM budget is the router's contract; baselines are measured, not held to it.
    if controller == "router" and expect.llm_calls is not None and llm_calls > expect.llm_calls:
        problems.append(f"{llm_calls} LLM calls, expected at most {expect.llm_calls}")
    return problems


async def run_scenario(scenario: Scenario, controller: Controller = "router") -> ScenarioResult:
    """Run ``scenario`` ``runs`` times on one executor (tool health and fault counters persist)."""
    spec = scenario.spec
    invoker = FaultInjector(SimulatedInvoker(scenario.graph), spec.faults, seed=spec.seed)
    escalation = ScriptedEscalation(_script(scenario))
    executor = Executor(scenario.graph, invoker, policy=scenario.policy, escalation=escalation)
    log = DecisionLog()
    llm_calls = 0
    last: RunResult | None = None
    # One trace per scenario (a no-op unless a ``tracing()`` block is active).
    with traced_run(
        log,
        scenario.spec.name,
        workflow=scenario.id,
        new_trace=True,
        executor=executor,
        attributes={"orchestrator.scenario": scenario.id, "orchestrator.controller": controller},
    ) as traced:
        for _ in range(spec.runs):
            if controller == "router":
                last = await executor.run(spec.inputs, log=log)
            elif controller == "react":
                last = await ReactAgent(executor).run(spec.inputs, log=log)
            else:
                last = await StaticWorkflow(executor).run(spec.inputs, log=log)
            llm_calls += last.llm_calls
        assert last is not None  # runs >= 1
        traced.set_result(last)
    return ScenarioResult(
        scenario=scenario,
        controller=controller,
        last=last,
        log=log,
        llm_calls=llm_calls,
        mismatches=_check(scenario, last, llm_calls, controller),
    )


async def run_scenario_files(
    paths: Sequence[str | Path], controller: Controller = "router"
) -> list[ScenarioResult]:
    """Load every file first (so a bad file fails before anything runs), then run each."""
    scenarios = [load_scenario(p) for p in paths]
    return [await run_scenario(s, controller) for s in scenarios]
