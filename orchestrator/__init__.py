"""orchestrator: the control plane of an LLM agent.

It decides which tool or skill to use (routing), in what order (planning and the tool graph) and
how hard to think (effort), and keeps working when tools fail (self-healing execution).
"""

from typing import TYPE_CHECKING

from orchestrator._lazy import lazy_attributes
from orchestrator.catalog import Skill, catalog_hash, load_catalog
from orchestrator.effort import EffortRouter
from orchestrator.errors import (
    AnswerCutShortError,
    CatalogError,
    CircuitOpenError,
    ConnectionLostError,
    DuplicateSkillError,
    EffortError,
    EscalationError,
    GraphError,
    IndexFormatError,
    LLMError,
    MalformedOutputError,
    McpServerError,
    ModelLoadError,
    NoPathError,
    OrchestratorError,
    PlanningError,
    PolicyError,
    ProviderError,
    RateLimitedError,
    ScenarioError,
    TelemetryError,
    ToolAnswerError,
    ToolArgumentError,
    ToolBusyError,
    ToolCallError,
    ToolFailure,
    ToolNotServedError,
    ToolTimeoutError,
    ToolUnavailableError,
    TrainingError,
    UnknownInputError,
    UnmappedEffortError,
    UsageFormatError,
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
from orchestrator.llm import AnthropicClient, GptOssClient, QwenClient
from orchestrator.planning import PlanningPolicy
from orchestrator.policy import Policy, load_policy
from orchestrator.scenarios import FaultInjector, Scenario, load_scenario, run_scenario
from orchestrator.telemetry import TracedLLMClient, span, traced_run, tracing

if TYPE_CHECKING:
    from orchestrator._keyword_tools import keyword_tools
    from orchestrator._orchestrator import Orchestrator, TaskResult
    from orchestrator.planning import Planner, PlanStep, TaskPlan, UsageModel
    from orchestrator.routing import (
        Match,
        RouteResult,
        SkillIndex,
        SkillRouter,
        calibrate_no_fit,
        fine_tune_embedder,
        training_examples,
    )

# Routing pulls in torch and faiss, planning the router's text processing: import them on first
# use so `import orchestrator` and the CLI's --help stay fast.
_LAZY = {
    "Match": "orchestrator.routing",
    "RouteResult": "orchestrator.routing",
    "SkillIndex": "orchestrator.routing",
    "SkillRouter": "orchestrator.routing",
    "fine_tune_embedder": "orchestrator.routing",
    "training_examples": "orchestrator.routing",
    "calibrate_no_fit": "orchestrator.routing",
    "Planner": "orchestrator.planning",
    "PlanStep": "orchestrator.planning",
    "TaskPlan": "orchestrator.planning",
    "UsageModel": "orchestrator.planning",
    "Orchestrator": "orchestrator._orchestrator",
    "TaskResult": "orchestrator._orchestrator",
    "keyword_tools": "orchestrator._keyword_tools",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "AnswerCutShortError",
    "AnthropicClient",
    "CallableInvoker",
    "CatalogError",
    "CircuitOpenError",
    "ConnectionLostError",
    "DecisionLog",
    "DuplicateSkillError",
    "EffortError",
    "EffortRouter",
    "Escalation",
    "EscalationError",
    "Executor",
    "FaultInjector",
    "GptOssClient",
    "GraphError",
    "IndexFormatError",
    "Invoker",
    "LLMError",
    "LLMEscalation",
    "MalformedOutputError",
    "Match",
    "McpServerError",
    "ModelLoadError",
    "NoPathError",
    "OpenAICompatibleClient",
    "Orchestrator",
    "OrchestratorError",
    "Plan",
    "PlanStep",
    "Planner",
    "PlanningError",
    "PlanningPolicy",
    "Policy",
    "PolicyError",
    "ProviderError",
    "QwenClient",
    "RateLimitedError",
    "RouteResult",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "ScriptedEscalation",
    "Skill",
    "SkillIndex",
    "SkillRouter",
    "TaskPlan",
    "TaskResult",
    "TelemetryError",
    "ToolAnswerError",
    "ToolArgumentError",
    "ToolBusyError",
    "ToolCallError",
    "ToolFailure",
    "ToolGraph",
    "ToolNotServedError",
    "ToolTimeoutError",
    "ToolUnavailableError",
    "TracedLLMClient",
    "TrainingError",
    "UnknownInputError",
    "UnmappedEffortError",
    "UsageFormatError",
    "UsageModel",
    "calibrate_no_fit",
    "catalog_hash",
    "fine_tune_embedder",
    "keyword_tools",
    "load_catalog",
    "load_graph",
    "load_policy",
    "load_scenario",
    "plan_route",
    "run_scenario",
    "silent_failures",
    "span",
    "traced_run",
    "tracing",
    "training_examples",
]
