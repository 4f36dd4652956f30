"""LangChain tools run by the executor (``LangChainToolInvoker``): retries, reroutes, breakers
and fault injection work on them as on any tool.

Needs only ``langchain-core`` (the ``langchain`` extra); the LangGraph integration builds on it.
"""

from orchestrator.integrations.langchain._invoker import (
    CALL_RUNNER,
    TOOL_CALL,
    LangChainToolInvoker,
    ToolCallRunner,
)

__all__ = ["CALL_RUNNER", "TOOL_CALL", "LangChainToolInvoker", "ToolCallRunner"]
