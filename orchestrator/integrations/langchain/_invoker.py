"""LangChain tools as one ``Invoker``: the executor calls a ``BaseTool`` like any other tool, so
retries, reroutes, breakers and fault injection work on LangGraph tool calls unchanged.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ValidationError

from orchestrator.errors import ToolArgumentError, ToolCallError, ToolNotServedError
from orchestrator.execution import ArgumentRefusal, step_inputs

__all__ = ["TOOL_CALL", "LangChainToolInvoker"]

# The run input under which the self-healing tool node passes the model's call ({args, id}).
TOOL_CALL = "tool_call"


class LangChainToolInvoker:
    """Invoke LangChain tools by name; a tool's error becomes a ``ToolCallError``, and
    arguments its schema refuses a ``ToolArgumentError`` (not retried).

    Run inputs holding a ``tool_call`` (``{"args": ..., "id": ...}``) call the tool as that
    call, so it answers with a ``ToolMessage`` as LangGraph's ``ToolNode`` expects; any other
    inputs are passed to the tool as its arguments.
    """

    def __init__(self, tools: Iterable[BaseTool] | Mapping[str, BaseTool]) -> None:
        """``tools`` by the names the executor calls them (a mapping), or by their own names."""
        self.tools: dict[str, BaseTool] = (
            dict(tools) if isinstance(tools, Mapping) else {t.name: t for t in tools}
        )

    def refusal(self, tool: str, names: Collection[str]) -> ArgumentRefusal | None:
        """Before a run: the tool must be known and ``names`` must hold every argument its
        call schema requires (injected arguments, which the model never gives, excepted)."""
        found = self.tools.get(tool)
        if found is None:
            return ArgumentRefusal("no LangChain tool of that name")
        schema = found.tool_call_schema
        spec: Mapping[str, Any]
        if isinstance(schema, Mapping):
            spec = schema
        elif issubclass(schema, BaseModel):
            spec = schema.model_json_schema()
        else:  # a pydantic v1 model
            spec = schema.schema()
        missing = tuple(n for n in spec.get("required") or () if n not in names)
        if missing:
            return ArgumentRefusal(f"missing required argument(s) {list(missing)}", missing)
        return None

    async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        try:
            found = self.tools[tool]
        except KeyError:
            raise ToolNotServedError("no LangChain tool of that name", tool=tool) from None
        inputs = step_inputs(arguments)
        call = inputs.get(TOOL_CALL)
        try:
            if not isinstance(call, Mapping):
                return await found.ainvoke(dict(inputs))
            result = await found.ainvoke(
                {"type": "tool_call", "name": tool, "args": dict(call["args"]), "id": call["id"]}
            )
        except ValidationError as exc:  # the tool's args_schema refused the arguments
            absent = (e["loc"][0] for e in exc.errors() if e["type"] == "missing" and e["loc"])
            raise ToolArgumentError(str(exc), tool=tool, missing=map(str, absent)) from exc
        # A tool that handles its own errors answers with an error message instead of raising.
        if isinstance(result, ToolMessage) and result.status == "error":
            raise ToolCallError(str(result.content), tool=tool)
        return result
