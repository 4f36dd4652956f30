"""LangChain ``BaseTool``s as skills; langchain-core is imported only when tools are given.

The argument schema is the one LangChain shows the model (``tool_call_schema``, without injected
arguments), and the body is the wrapped function's source, as for plain callables.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from orchestrator.catalog._callables import function_source, return_schema
from orchestrator.catalog._mcp import HINT_KEYS, RISK_FIELDS, risk_hints
from orchestrator.catalog._origin import Loaded, Origin
from orchestrator.catalog._skill import Skill
from orchestrator.errors import CatalogError

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = [
    "is_langchain_tool",
    "langchain_risk_hints",
    "langchain_tool_skill",
    "skills_from_langchain_tools",
]


def is_langchain_tool(obj: object) -> bool:
    """Whether ``obj`` is a LangChain tool, without importing LangChain if it is not loaded."""
    tools = sys.modules.get("langchain_core.tools")
    return tools is not None and isinstance(obj, tools.BaseTool)


def langchain_risk_hints(tool: BaseTool) -> dict[str, bool]:
    """The risk hints (``Skill`` fields) a LangChain tool's ``metadata`` gives.

    An MCP tool loaded by langchain-mcp-adapters carries its annotations there
    (``readOnlyHint``, ...), read with MCP's defaults; any tool may set the fields by their own
    names (``metadata={"idempotent": False}``), which win. Nothing set: no hints. An MCP hint
    that is neither a boolean nor null is a ``CatalogError``.
    """
    metadata = tool.metadata or {}
    origin = Origin(f"langchain:{tool.name}").at("metadata")
    hints = risk_hints(metadata, origin) if any(key in metadata for key in HINT_KEYS) else {}
    hints.update(
        {name: value for name in RISK_FIELDS if isinstance(value := metadata.get(name), bool)}
    )
    return hints


def _argument_schema(tool: BaseTool, origin: Origin) -> dict[str, Any]:
    schema = tool.tool_call_schema
    if isinstance(schema, dict):
        raw: Any = schema
    elif isinstance(schema, type) and issubclass(schema, BaseModel):
        raw = schema.model_json_schema()
    else:
        raise origin.mismatch("a pydantic v2 model or a JSON Schema for the arguments", schema)
    parameters = dict(origin.mapping(raw, "a JSON Schema for the arguments"))
    # The top-level title and description repeat the tool's name and docstring.
    parameters.pop("title", None)
    parameters.pop("description", None)
    parameters.setdefault("type", "object")
    parameters.setdefault("properties", {})
    return parameters


def langchain_tool_skill(tool: BaseTool) -> Loaded:
    """One LangChain tool as a skill."""
    origin = Origin(f"langchain:{tool.name}")
    sync_func = getattr(tool, "func", None)
    async_func = getattr(tool, "coroutine", None)
    func = sync_func or async_func
    body = None
    outputs = None
    if callable(func):
        body = function_source(func)
        outputs = return_schema(func)
    elif not type(tool).__module__.startswith("langchain_core."):
        body = function_source(type(tool))  # a BaseTool subclass: its class is its implementation
    fields = {
        "name": tool.name,
        "description": inspect.cleandoc(tool.description or ""),
        "parameters": _argument_schema(tool, origin),
        "outputs": outputs,
        "body": body or "",
        "tags": tuple(tool.tags or ()),
        "source": origin.location,
        "metadata": {
            "langchain": type(tool).__name__,
            "async": sync_func is None and async_func is not None,
        },
        **langchain_risk_hints(tool),
    }
    return Loaded(origin.skill(fields), origin)


def skills_from_langchain_tools(tools: Iterable[BaseTool]) -> list[Skill]:
    """Skills from LangChain tools: ``@tool`` functions, StructuredTools, BaseTool subclasses."""
    try:
        from langchain_core.tools import BaseTool
    except ImportError as exc:  # pragma: no cover - langchain-core is a test dependency
        raise CatalogError(
            "LangChain tools need langchain-core: pip install 'orchestrator[langchain]'"
        ) from exc
    loaded = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, BaseTool):
            raise Origin("<langchain tools>").at(i).mismatch("a langchain_core BaseTool", tool)
        loaded.append(langchain_tool_skill(tool).skill)
    return loaded
