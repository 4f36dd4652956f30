"""LangChain tools run by the executor (``LangChainToolInvoker``): retries, reroutes, breakers
and fault injection work on them as on any tool.

Needs only ``langchain-core`` (the ``langchain`` extra); the LangGraph integration builds on it.
"""

from orchestrator.integrations.langchain._invoker import TOOL_CALL, LangChainToolInvoker

__all__ = ["TOOL_CALL", "LangChainToolInvoker"]
