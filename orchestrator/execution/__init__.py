"""Execution: invoke tools, heal failures, watch health, escalate, and log every decision."""

from orchestrator.execution._breaker import (
    STATE_CLOSED,
    STATE_HALF_OPEN,
    STATE_OPEN,
    CircuitBreaker,
)
from orchestrator.execution._escalation import (
    Demote,
    Escalation,
    EscalationDecision,
    EscalationRequest,
    GiveUp,
    LLMEscalation,
    Provide,
    ScriptedEscalation,
    check_decision,
    parse_decision,
)
from orchestrator.execution._executor import RUN_CONTEXT_KEYS, Executor, Outcome, RunResult
from orchestrator.execution._failures import (
    Failure,
    FailureKind,
    classify,
    missing_inputs,
    satisfied,
)
from orchestrator.execution._invoker import (
    ArgumentRefusal,
    CallableInvoker,
    CheckingInvoker,
    CompositeInvoker,
    EffortInvoker,
    Invoker,
    ProbingInvoker,
    Reasoned,
    invoke_at,
    refusal_of,
    step_inputs,
)
from orchestrator.execution._log import (
    Action,
    Decision,
    DecisionListener,
    DecisionLog,
    silent_failures,
)
from orchestrator.execution._monitors import (
    DEFAULT_MONITORS,
    Condition,
    HealthMonitor,
    LatencySpikeMonitor,
    RateLimitMonitor,
    RiskMonitor,
    ToolDownMonitor,
)
from orchestrator.execution._policy import (
    BreakerPolicy,
    EscalationPolicy,
    ExecutionPolicy,
    MonitorPolicy,
    RetryPolicy,
)

# The client protocol and the OpenAI-compatible client moved to orchestrator.llm; re-exported
# here so existing imports keep working.
from orchestrator.llm import LLMClient, OpenAICompatibleClient

__all__ = [
    "DEFAULT_MONITORS",
    "RUN_CONTEXT_KEYS",
    "STATE_CLOSED",
    "STATE_HALF_OPEN",
    "STATE_OPEN",
    "Action",
    "ArgumentRefusal",
    "BreakerPolicy",
    "CallableInvoker",
    "CheckingInvoker",
    "CircuitBreaker",
    "CompositeInvoker",
    "Condition",
    "Decision",
    "DecisionListener",
    "DecisionLog",
    "Demote",
    "EffortInvoker",
    "Escalation",
    "EscalationDecision",
    "EscalationPolicy",
    "EscalationRequest",
    "ExecutionPolicy",
    "Executor",
    "Failure",
    "FailureKind",
    "GiveUp",
    "HealthMonitor",
    "Invoker",
    "LLMClient",
    "LLMEscalation",
    "LatencySpikeMonitor",
    "MonitorPolicy",
    "OpenAICompatibleClient",
    "Outcome",
    "ProbingInvoker",
    "Provide",
    "RateLimitMonitor",
    "Reasoned",
    "RetryPolicy",
    "RiskMonitor",
    "RunResult",
    "ScriptedEscalation",
    "ToolDownMonitor",
    "check_decision",
    "classify",
    "invoke_at",
    "missing_inputs",
    "parse_decision",
    "refusal_of",
    "satisfied",
    "silent_failures",
    "step_inputs",
]
