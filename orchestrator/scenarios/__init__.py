"""Scenarios: files that drive the executor with simulated tools, fault injection and baselines."""

from orchestrator.scenarios._baselines import ReactAgent, StaticWorkflow
from orchestrator.scenarios._faults import FaultInjector, InjectedFault
from orchestrator.scenarios._model import (
    SIMULATED_OUTPUTS,
    DownFault,
    ErrorFault,
    Expectation,
    Fault,
    FlakyFault,
    LatencyFault,
    MalformedFault,
    MissingInputFault,
    RateLimitedFault,
    Scenario,
    ScenarioSpec,
    TimeoutFault,
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
    "DownFault",
    "ErrorFault",
    "Expectation",
    "Fault",
    "FaultInjector",
    "FlakyFault",
    "InjectedFault",
    "LatencyFault",
    "MalformedFault",
    "MissingInputFault",
    "RateLimitedFault",
    "ReactAgent",
    "Scenario",
    "ScenarioResult",
    "ScenarioSpec",
    "SimulatedInvoker",
    "StaticWorkflow",
    "TimeoutFault",
    "load_scenario",
    "run_scenario",
    "run_scenario_files",
    "sample_output",
]
