"""orchestrator: the control plane of an LLM agent.

It decides which tool or skill to use (routing), in what order (planning and the tool graph) and
how hard to think (effort), and keeps working when tools fail (self-healing execution).
"""

from typing import TYPE_CHECKING, Any

from orchestrator.catalog import Skill, catalog_hash, load_catalog
from orchestrator.effort import EffortRouter
from orchestrator.errors import (
    CatalogError,
    CircuitOpenError,
    DuplicateSkillError,
    EffortError,
    EscalationError,
    GraphError,
    IndexFormatError,
    LLMError,
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
from orchestrator.llm import AnthropicClient, GptOssClient, QwenClient
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
    "AnthropicClient",
    "CallableInvoker",
    "CatalogError",
    "CircuitOpenError",
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
    "ModelLoadError",
    "NoPathError",
    "OpenAICompatibleClient",
    "OrchestratorError",
    "Plan",
    "Policy",
    "PolicyError",
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
