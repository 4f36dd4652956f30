"""Integrations at the edge: agent frameworks and protocols (``langchain``, ``langgraph``, ``mcp``).

Each lives in its own subpackage and is imported only when asked for, so the optional
dependencies it needs are never loaded by ``import orchestrator``.
"""

__all__: list[str] = []
