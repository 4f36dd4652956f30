"""A self-healing LangGraph tool node: each tool call the model makes runs through the executor,
with retries, reroutes to the tool's near-duplicates, and a clear error message to the model when
nothing is left (escalation).

It plugs into LangGraph's own ``ToolNode`` as its ``awrap_tool_call``, so messages, ``Send`` and
state handling stay LangGraph's; only how a call is executed changes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, cast

import anyio
from langchain_core.messages import ToolCall, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool
from langchain_core.tools import tool as as_tool
from langgraph.errors import GraphBubbleUp, GraphInterrupt
from langgraph.prebuilt import ToolNode
from langgraph.prebuilt.tool_node import AsyncToolCallWrapper, ToolCallRequest, ToolCallWrapper
from langgraph.types import Command

from orchestrator._threads import in_daemon_thread
from orchestrator.catalog._langchain import langchain_risk_hints
from orchestrator.catalog._skill import repeatable
from orchestrator.execution import (
    CircuitBreaker,
    DecisionLog,
    Escalation,
    Executor,
    FailureKind,
    Invoker,
    RunResult,
)
from orchestrator.graph import ToolGraph, ToolStats
from orchestrator.integrations.langchain import CALL_RUNNER, TOOL_CALL, LangChainToolInvoker
from orchestrator.policy import Policy
from orchestrator.telemetry import traced_run

__all__ = ["ALTERNATIVES_KEY", "SelfHealingToolCalls", "healing_tool_node"]

# State key under which an agent may pass {tool: [alternatives]} (the router's duplicate groups).
ALTERNATIVES_KEY = "alternatives"
# The call's start and goal states; no tool name can be either (names are words and dashes).
_START, _ANSWERED = "<tool call>", "<answered>"
# Edge cost per rank: the requested tool first, then its alternatives in the router's order.
_RANK_COST = 0.5
# How many calls' decision logs ``SelfHealingToolCalls.logs`` keeps (the latest).
KEPT_LOGS = 100


class _BubbleUp(BaseException):
    """Carries out of the executor, which takes every ``Exception`` from a tool for a failure
    to heal, what is none: LangGraph's control flow (``interrupt()``, a parent ``Command``),
    and a tool that cannot run the way the graph runs (an async-only tool under ``invoke``),
    the caller's mistake, raised to them as LangGraph's ``ToolNode`` raises it."""

    def __init__(self, signal: BaseException) -> None:
        super().__init__(signal)
        self.signal = signal


def _runs_sync(tool: BaseTool | None) -> bool:
    """Whether ``tool`` can be called synchronously: a ``StructuredTool`` made from a
    coroutine alone cannot ("StructuredTool does not support sync invocation")."""
    return not (isinstance(tool, StructuredTool) and tool.func is None)


Answer = ToolMessage | Command[Any] | list[ToolMessage | Command[Any]]
"""What a tool call gives the graph: a message, a state update, or a list of them."""
Execute = Callable[[ToolCallRequest], Awaitable[Answer]]
ExecuteSync = Callable[[ToolCallRequest], Answer]


class SelfHealingToolCalls:
    """The ``awrap_tool_call`` of a ``ToolNode`` (and, as ``wrap``, its ``wrap_tool_call``):
    run a call through the self-healing executor.

    Parameters
    ----------
    tools
        Every tool a call may be answered by (requested tools and their alternatives); plain
        functions are made tools as ``ToolNode`` makes them.
    alternatives
        ``{tool: [near-duplicates, best first]}``; the agent state's ``alternatives`` adds to it.
    invoker
        How tools are called (default: ``LangChainToolInvoker(tools)``); wrap it, e.g. in a
        ``FaultInjector``, to test healing.
    policy, escalation
        As for ``Executor``; without an escalation handler a call nothing can answer becomes
        an error ``ToolMessage`` for the model.

    Health (breakers, latency and failure statistics) is kept per tool across calls, so a tool
    found down in one call is avoided by the next (its failures fade, so it is tried again
    later). A call may take ``execution.step_timeout_s`` (30 s); a tool that timed out is
    called again, or its alternative, only if it is safe to repeat: its ``metadata`` says
    ``idempotent`` or ``read_only`` (MCP tools from langchain-mcp-adapters carry their
    annotations there), or says nothing. Each tool runs as LangGraph's ``ToolNode``
    runs it (what it injects, ``Command`` answers, ``interrupt()``), through the invoker; a
    call of a tool nobody registered gets LangGraph's own answer naming the tools there are.
    ``logs`` holds the decision logs of the latest calls (``KEPT_LOGS``).
    """

    def __init__(
        self,
        tools: Iterable[BaseTool | Callable[..., Any]],
        *,
        alternatives: Mapping[str, Sequence[str]] | None = None,
        invoker: Invoker | None = None,
        policy: Policy | None = None,
        escalation: Escalation | None = None,
    ) -> None:
        made = (t if isinstance(t, BaseTool) else as_tool(t) for t in tools)
        self.tools: dict[str, BaseTool] = {t.name: t for t in made}
        self.alternatives = {k: list(v) for k, v in (alternatives or {}).items()}
        self.invoker = invoker if invoker is not None else LangChainToolInvoker(self.tools)
        self.policy = policy
        self.escalation = escalation
        self.breakers: dict[str, CircuitBreaker] = {}
        self.stats: dict[str, ToolStats] = {}
        self._executors: dict[tuple[str, ...], Executor] = {}
        self.logs: deque[DecisionLog] = deque(maxlen=KEPT_LOGS)

    def candidates(self, tool: str, state: Any) -> tuple[str, ...]:
        """The requested tool, then its known alternatives that are registered tools.

        The state's ``alternatives`` count only as ``{tool: [names]}`` (or ``{tool: name}``):
        a graph's own field of that name holding something else (a list of phrasings) is not
        ours to read, and had crashed every tool call."""
        known = (
            state.get(ALTERNATIVES_KEY)
            if isinstance(state, Mapping)
            else getattr(state, ALTERNATIVES_KEY, None)  # a pydantic or dataclass state
        )
        given = known.get(tool, ()) if isinstance(known, Mapping) else ()
        extra = [given] if isinstance(given, str) else given
        if not isinstance(extra, Sequence):
            extra = []
        ordered = [
            tool,
            *self.alternatives.get(tool, ()),
            *(n for n in extra if isinstance(n, str)),
        ]
        seen: list[str] = []
        for name in ordered:
            if name not in seen and (name == tool or name in self.tools):
                seen.append(name)
        return tuple(seen)

    def executor(self, candidates: tuple[str, ...]) -> Executor:
        """One executor per candidate set, sharing each tool's breaker and statistics."""
        found = self._executors.get(candidates)
        if found is not None:
            return found
        graph = ToolGraph(start=_START, goal=_ANSWERED, name=f"tool call {candidates[0]}")
        for rank, name in enumerate(candidates):
            tool = self.tools[name]
            hints = langchain_risk_hints(tool)
            graph.add_tool(
                name,
                description=tool.description,
                idempotent=repeatable(
                    read_only=hints.get("read_only"), idempotent=hints.get("idempotent")
                ),
            )
            graph.add_edge(_START, name, 1.0 + _RANK_COST * rank)
            graph.add_edge(name, _ANSWERED, 0.0)
        found = Executor(
            graph,
            self.invoker,
            policy=self.policy,
            escalation=self.escalation,
            breakers=self.breakers,
            stats=self.stats,
        )
        self._executors[candidates] = found
        return found

    def wrap(self, request: ToolCallRequest, execute: ExecuteSync) -> Answer:
        """The same healing for a graph run synchronously (``invoke``, ``stream``): LangGraph
        runs each call in a worker thread, where the executor gets an event loop of its own and
        the tool runs in a daemon thread of its own (so a step timeout can give up on it, and a
        call given up on that never returns does not keep the interpreter from exiting)."""

        def call(req: ToolCallRequest) -> Answer:
            try:
                return execute(req)
            except NotImplementedError as exc:
                if _runs_sync(req.tool):
                    raise
                raise _BubbleUp(exc) from None

        async def run_in_thread(req: ToolCallRequest) -> Answer:
            answer: Answer = await in_daemon_thread(
                lambda: call(req), name=f"orchestrator tool {req.tool_call['name']}"
            )
            return answer

        return anyio.run(self.__call__, request, run_in_thread)

    async def __call__(self, request: ToolCallRequest, execute: Execute) -> Answer:
        call = request.tool_call
        name, call_id = call["name"], call.get("id") or ""
        if name not in self.tools:
            return await execute(request)  # LangGraph's answer lists the tools there are
        candidates = self.candidates(name, request.state)
        log = DecisionLog()
        self.logs.append(log)
        inputs = {TOOL_CALL: {"args": dict(call.get("args") or {}), "id": call_id}}
        executor = self.executor(candidates)

        async def run_as_langgraph(tool: BaseTool, tool_call: Mapping[str, Any]) -> Any:
            asked = ToolCall(
                name=tool.name, args=dict(tool_call["args"]), id=call_id or None, type="tool_call"
            )
            try:
                return await execute(replace(request, tool_call=asked, tool=tool))
            except GraphBubbleUp as signal:
                if isinstance(signal, GraphInterrupt):
                    # A pause for a human, not a failure: the log (and the trace) say where the
                    # call stood; LangGraph runs the node again, from the start, on resume.
                    elapsed = executor.in_flight_ms(log, tool.name)
                    log.record(
                        "cancel",
                        tool.name,
                        "paused by interrupt(): called again when the graph resumes",
                        **({} if elapsed is None else {"duration_ms": elapsed}),
                    )
                raise _BubbleUp(signal) from None

        token = CALL_RUNNER.set(run_as_langgraph)
        paused: BaseException | None = None
        try:
            with traced_run(
                log, name, workflow=f"tool_call {name}", call_id=call_id, executor=executor
            ) as traced:
                try:
                    result = await executor.run(inputs, log=log)
                except BaseException as exc:
                    if isinstance(_signal_in(exc), GraphInterrupt):
                        traced.set_outcome("paused")  # not "interrupted" by an error
                        paused = exc
                    else:
                        raise
                else:
                    traced.set_result(result)
            if paused is not None:
                raise paused
        except BaseException as exc:
            signal = _signal_in(exc)
            if signal is not None:
                raise signal from None
            raise
        finally:
            CALL_RUNNER.reset(token)
        return _answer(result, name, call_id)


def _signal_in(exc: BaseException) -> BaseException | None:
    """What a tool raised that is no failure to heal (``_BubbleUp``), if ``exc`` carries it
    (the executor's task group wraps it in an exception group)."""
    if isinstance(exc, _BubbleUp):
        return exc.signal
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _signal_in(inner)
            if found is not None:
                return found
    return None


def _answer(result: RunResult, requested: str, call_id: str) -> Answer:
    fails = [d for d in result.log if d.action == "fail"]
    if result.outcome in ("completed", "demoted") and result.path:
        answered_by = result.path[-1]
        output = result.outputs[answered_by]
        if isinstance(output, Command | list):
            return output  # the tool's own update of the graph state (or several), as written
        if isinstance(output, ToolMessage):
            # The tool's own message, as LangGraph passes it on: its id, additional_kwargs
            # (citations) and response_metadata had been dropped by a rebuilt one.
            message = output.model_copy(update={"tool_call_id": call_id, "name": requested})
        else:
            message = ToolMessage(content=str(output), tool_call_id=call_id, name=requested)
        if answered_by == requested:
            return message
        # The model asked for one tool and another answered: say so, and why.
        reasons = [d.reason for d in fails if d.tool == requested]
        if reasons:
            why = "; ".join(dict.fromkeys(reasons))
            if len(reasons) > 1:
                why += f", {len(reasons)} attempts"
            note = f"{requested} failed ({why})"
        else:  # never called: its earlier failures (or an open breaker) kept it off the route
            note = f"{requested} not called: avoided after recent failures"
        return message.model_copy(
            update={
                "content": f"[{note}; answered by {answered_by} instead]\n{message.content}",
                "response_metadata": {
                    **message.response_metadata,
                    "answered_by": answered_by,
                    "rerouted_from": requested,
                },
            }
        )
    bad = FailureKind.BAD_ARGUMENTS  # a StrEnum: equal to the kind the log holds as text
    refused = [d.reason for d in fails if d.tool == requested and d.data.get("kind") == bad]
    if refused:
        # The model can mend this one, as LangGraph's own ToolNode tells it.
        return ToolMessage(
            content=f"Error: {requested} refused the arguments: {refused[-1]}. "
            "Please fix the arguments and try again.",
            tool_call_id=call_id,
            name=requested,
            status="error",
        )
    failures = [f"{d.tool}: {d.reason}" for d in fails]
    escalations = [d.reason for d in result.log if d.action == "escalate"]
    escalation = escalations[-1] if escalations else ""
    tried = sorted({d.tool for d in fails})
    if tried:
        said = (
            f", and no alternative worked (tried {', '.join(tried)}). "
            f"Failures: {'; '.join(failures)}"
        )
    else:  # nothing was called: every candidate's breaker was open
        said = f": not called, as {requested} and any alternative are avoided after recent failures"
    return ToolMessage(
        content=(
            f"Error: the call to {requested} could not be completed{said}. "
            f"{escalation}. Do not retry this call; answer without it or ask the user."
        ),
        tool_call_id=call_id,
        name=requested,
        status="error",
    )


def healing_tool_node(
    tools: Iterable[BaseTool | Callable[..., Any]],
    *,
    alternatives: Mapping[str, Sequence[str]] | None = None,
    invoker: Invoker | None = None,
    policy: Policy | None = None,
    escalation: Escalation | None = None,
    name: str = "tools",
) -> ToolNode:
    """A LangGraph ``ToolNode`` whose calls heal, in graphs run either way (``ainvoke`` or
    ``invoke``): retried, rerouted to alternatives, or answered with an error message the
    model can act on. See ``SelfHealingToolCalls``."""
    healer = SelfHealingToolCalls(
        tools,
        alternatives=alternatives,
        invoker=invoker,
        policy=policy,
        escalation=escalation,
    )
    # Errors reach the executor as raised, to be classified (a timeout, a lost connection).
    # The casts: LangGraph's wrapper types leave out the list of messages and commands a tool
    # may answer with, which its ToolNode passes through.
    return ToolNode(
        list(healer.tools.values()),
        name=name,
        wrap_tool_call=cast(ToolCallWrapper, healer.wrap),
        awrap_tool_call=cast(AsyncToolCallWrapper, healer),
        handle_tool_errors=False,
    )
