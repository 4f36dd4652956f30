"""LangGraph integration: router-backed tool retrieval (also as ``langgraph-bigtool``'s
retrieval functions), an agent builder that binds only the routed tools, and a self-healing
tool node that runs each call through the executor.

Needs the ``langgraph`` extra: ``pip install 'orchestrator[langgraph]'``.
"""

from orchestrator.integrations.langchain import TOOL_CALL, LangChainToolInvoker
from orchestrator.integrations.langgraph._agent import (
    RoutedAgentState,
    create_routed_agent,
    task_of,
)
from orchestrator.integrations.langgraph._retrieval import (
    ToolSelection,
    retrieval_functions,
    select_tools,
    select_tools_sync,
)
from orchestrator.integrations.langgraph._tool_node import (
    ALTERNATIVES_KEY,
    SelfHealingToolCalls,
    healing_tool_node,
)

__all__ = [
    "ALTERNATIVES_KEY",
    "TOOL_CALL",
    "LangChainToolInvoker",
    "RoutedAgentState",
    "SelfHealingToolCalls",
    "ToolSelection",
    "create_routed_agent",
    "healing_tool_node",
    "retrieval_functions",
    "select_tools",
    "select_tools_sync",
    "task_of",
]
