"""Scenarios: files that drive the executor with simulated tools, fault injection and baselines."""

from orchestrator.scenarios._baselines import ReactAgent, StaticWorkflow
from orchestrator.scenarios._faults import FaultInjector, InjectedFault
from orchestrator.scenarios._model import (
    SIMULATED_OUTPUTS,
    Expectation,
    Fault,
    Scenario,
    ScenarioSpec,
    load_scenario,
)
from orchestrator.scenarios._runner import (
    CONTROLLERS,
    Controller,
    ScenarioResult,
    run_scenario,
    run_scenario_files,
)
from orchestrator.scenarios._simulated import SimulatedInvoker, sample_output

__all__ = [
    "CONTROLLERS",
    "SIMULATED_OUTPUTS",
    "Controller",
    "Expectation",
    "Fault",
    "FaultInjector",
    "InjectedFault",
    "ReactAgent",
    "Scenario",
    "ScenarioResult",
    "ScenarioSpec",
    "SimulatedInvoker",
    "StaticWorkflow",
    "load_scenario",
    "run_scenario",
    "run_scenario_files",
    "sample_output",
]
