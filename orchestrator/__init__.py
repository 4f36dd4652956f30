"""orchestrator: the control plane of an LLM agent.

It decides which tool or skill to use (routing), in what order (planning and the tool graph) and
how hard to think (effort), and keeps working when tools fail (self-healing execution).
"""

from typing import TYPE_CHECKING, Any

from orchestrator.catalog import Skill, catalog_hash, load_catalog
from orchestrator.errors import (
    CatalogError,
    CircuitOpenError,
    ConnectionLostError,
    DuplicateSkillError,
    EscalationError,
    GraphError,
    IndexFormatError,
    MalformedOutputError,
    McpServerError,
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

if TYPE_CHECKING:
    from orchestrator.routing import Match, RouteResult, SkillIndex, SkillRouter

_ROUTING = frozenset({"Match", "RouteResult", "SkillIndex", "SkillRouter"})


def __getattr__(name: str) -> Any:
    # Routing pulls in torch and faiss; import it on first use so `import orchestrator` and the
    # CLI's --help stay fast.
    if name in _ROUTING:
        import orchestrator.routing

        return getattr(orchestrator.routing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CallableInvoker",
    "CatalogError",
    "CircuitOpenError",
    "ConnectionLostError",
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
    "Match",
    "McpServerError",
    "ModelLoadError",
    "NoPathError",
    "OpenAICompatibleClient",
    "OrchestratorError",
    "Plan",
    "Policy",
    "PolicyError",
    "RateLimitedError",
    "RouteResult",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "ScriptedEscalation",
    "Skill",
    "SkillIndex",
    "SkillRouter",
    "ToolCallError",
    "ToolFailure",
    "ToolGraph",
    "ToolTimeoutError",
    "ToolUnavailableError",
    "catalog_hash",
    "load_catalog",
    "load_graph",
    "load_policy",
    "load_scenario",
    "plan_route",
    "run_scenario",
    "silent_failures",
]
