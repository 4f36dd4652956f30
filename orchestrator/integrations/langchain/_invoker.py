"""LangChain tools as one ``Invoker``: the executor calls a ``BaseTool`` like any other tool, so
retries, reroutes, breakers and fault injection work on LangGraph tool calls unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from contextvars import ContextVar
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, ValidationError

from orchestrator.errors import (
    ToolAnswerError,
    ToolArgumentError,
    ToolCallError,
    ToolNotServedError,
)
from orchestrator.execution import ArgumentRefusal, step_inputs

__all__ = ["CALL_RUNNER", "TOOL_CALL", "LangChainToolInvoker", "ToolCallRunner"]

# The run input under which the self-healing tool node passes the model's call ({args, id}).
TOOL_CALL = "tool_call"

ToolCallRunner = Callable[[BaseTool, Mapping[str, Any]], Awaitable[Any]]
"""Runs a tool as the model's call (``{"args", "id"}``) the way its framework does."""

CALL_RUNNER: ContextVar[ToolCallRunner | None] = ContextVar(
    "orchestrator_langchain_call_runner", default=None
)
"""Set while a LangGraph ``ToolNode`` call runs through the executor: the tool is then run by
LangGraph itself, so it gets what LangGraph injects (state, store, the call's id), may answer
with a ``Command`` and may ``interrupt()``."""


class LangChainToolInvoker:
    """Invoke LangChain tools by name; a tool's error message (an error ``ToolMessage``, or a
    ``ToolException``, LangChain's way for a tool to report an error to the model) becomes a
    ``ToolAnswerError``, and arguments its schema refuses a ``ToolArgumentError`` (neither is
    retried nor held against the tool's health).

    Run inputs holding a ``tool_call`` (``{"args": ..., "id": ...}``) call the tool as that
    call, so it answers with a ``ToolMessage`` as LangGraph's ``ToolNode`` expects; other run
    inputs the tool takes (what an escalation handler provided for arguments the call lacked)
    fill in the call's missing arguments. Without a ``tool_call``, the inputs are the tool's
    arguments.
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
            return ArgumentRefusal.not_served("no LangChain tool of that name")
        missing = tuple(n for n in _call_schema(found).get("required") or () if n not in names)
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
        runner = CALL_RUNNER.get()
        try:
            if not isinstance(call, Mapping):
                return await _raising(found).ainvoke(dict(inputs))
            call = {**call, "args": _with_provided(found, call["args"], inputs)}
            if runner is not None:
                _check_call_arguments(found, call["args"])
                result = await runner(found, call)
            else:
                result = await found.ainvoke(
                    {"type": "tool_call", "name": tool, "args": call["args"], "id": call["id"]}
                )
        except ValidationError as exc:
            if not _refuses_arguments(found, exc):
                # Raised in the tool's own body (it parsed an API's answer): it ran and failed.
                raise ToolCallError(str(exc), tool=tool) from exc
            # The tool's args_schema refused the arguments: nothing ran.
            errors = exc.errors(include_url=False)
            absent = (e["loc"][0] for e in errors if e["type"] == "missing" and e["loc"])
            # "amount: Input should be a valid number", as LangGraph's ToolNode words it.
            reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
            raise ToolArgumentError(
                reason, tool=tool, missing=map(str, absent), sent=False
            ) from exc
        except ToolException as exc:
            raise ToolAnswerError(str(exc) or type(exc).__name__, tool=tool) from exc
        # A tool that handles its own errors answers with an error message instead of raising.
        if isinstance(result, ToolMessage) and result.status == "error":
            raise ToolAnswerError(str(result.content), tool=tool)
        return result


def _with_provided(
    tool: BaseTool, args: Mapping[str, Any], inputs: Mapping[str, Any]
) -> dict[str, Any]:
    """The call's arguments, plus the run inputs it lacks that the tool's call schema takes."""
    takes = _call_schema(tool).get("properties") or {}
    extra = {k: v for k, v in inputs.items() if k != TOOL_CALL and k in takes and k not in args}
    return {**args, **extra}


def _call_schema(tool: BaseTool) -> Mapping[str, Any]:
    """The JSON Schema of the arguments the model gives (injected ones left out)."""
    schema = tool.tool_call_schema
    if isinstance(schema, Mapping):
        return schema
    if issubclass(schema, BaseModel):
        return schema.model_json_schema()
    return schema.schema()  # a pydantic v1 model


def _raising(tool: BaseTool) -> BaseTool:
    """``tool`` raising its ``ToolException`` where it would answer with the error's text
    (``handle_tool_error``): called with plain arguments, that text came back as the step's
    result, a run "completed" on "invalid sender id". Raised, it is the tool's own error
    answer (``tool_error``): rerouted, the tool's health not blamed. (Called as a tool call,
    LangChain marks such an answer ``status="error"``, read below.)"""
    if not tool.handle_tool_error:
        return tool
    return tool.model_copy(update={"handle_tool_error": False})


def _refuses_arguments(tool: BaseTool, exc: ValidationError) -> bool:
    """Whether ``exc`` is the tool's argument schema refusing a call (titled after it), not an
    error the tool's own body raised while it ran."""
    schemas = (tool.args_schema, tool.tool_call_schema)
    return exc.title in {s.__name__ for s in schemas if isinstance(s, type)}


def _check_call_arguments(tool: BaseTool, arguments: Mapping[str, Any]) -> None:
    """Raise ``ValidationError`` when the model's arguments do not fit the tool's call schema
    (the arguments the model gives; what the framework injects is not in it)."""
    schema = tool.tool_call_schema
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        schema.model_validate(dict(arguments))
