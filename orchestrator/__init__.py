"""orchestrator: the control plane of an LLM agent.

It decides which tool or skill to use (routing), in what order (planning and the tool graph) and
how hard to think (effort), and keeps working when tools fail (self-healing execution).
"""

from orchestrator.catalog import Skill
from orchestrator.errors import (
    CatalogError,
    CircuitOpenError,
    DuplicateSkillError,
    EscalationError,
    GraphError,
    IndexFormatError,
    MalformedOutputError,
    ModelLoadError,
    NoPathError,
    OrchestratorError,
    PolicyError,
    RateLimitedError,
    ScenarioError,
    ToolCallError,
    ToolFailure,
    ToolTimeoutError,
    ToolUnavailableError,
)
from orchestrator.execution import (
    CallableInvoker,
    DecisionLog,
    Escalation,
    Executor,
    Invoker,
    LLMEscalation,
    OpenAICompatibleClient,
    RunResult,
    ScriptedEscalation,
    silent_failures,
)
from orchestrator.graph import Plan, ToolGraph, load_graph, plan_route
from orchestrator.policy import Policy, load_policy
from orchestrator.scenarios import FaultInjector, Scenario, load_scenario, run_scenario

__all__ = [
    "CallableInvoker",
    "CatalogError",
    "CircuitOpenError",
    "DecisionLog",
    "DuplicateSkillError",
    "Escalation",
    "EscalationError",
    "Executor",
    "FaultInjector",
    "GraphError",
    "IndexFormatError",
    "Invoker",
    "LLMEscalation",
    "MalformedOutputError",
    "ModelLoadError",
    "NoPathError",
    "OpenAICompatibleClient",
    "OrchestratorError",
    "Plan",
    "Policy",
    "PolicyError",
    "RateLimitedError",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "ScriptedEscalation",
    "Skill",
    "ToolCallError",
    "ToolFailure",
    "ToolGraph",
    "ToolTimeoutError",
    "ToolUnavailableError",
    "load_graph",
    "load_policy",
    "load_scenario",
    "plan_route",
    "run_scenario",
    "silent_failures",
]
