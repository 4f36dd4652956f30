"""Our agent builder: route the task to the few tools that fit (skill router), bind only those
to the model, and execute its calls through the self-healing tool node.

Like ``langgraph-bigtool``'s ``create_agent`` it returns an uncompiled ``StateGraph``; LangGraph's
own types pass through untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, MessagesState, StateGraph

from orchestrator.execution import Escalation, Invoker
from orchestrator.integrations.langgraph._retrieval import (
    ToolSelection,
    select_tools,
    select_tools_sync,
)
from orchestrator.integrations.langgraph._tool_node import healing_tool_node
from orchestrator.policy import Policy
from orchestrator.routing import SkillRouter

__all__ = ["RoutedAgentState", "create_routed_agent", "task_of"]


class RoutedAgentState(MessagesState):
    """Messages, plus the tools routed for the task and their alternatives."""

    selected_tools: list[str]
    alternatives: dict[str, list[str]]


def task_of(messages: Sequence[AnyMessage]) -> str:
    """The task: the latest human message's text."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message.text if hasattr(message, "text") else str(message.content)
    return ""


def create_routed_agent(
    llm: BaseChatModel,
    tools: Iterable[BaseTool],
    router: SkillRouter,
    *,
    k: int = 3,
    invoker: Invoker | None = None,
    policy: Policy | None = None,
    escalation: Escalation | None = None,
) -> StateGraph[Any]:
    """A ReAct-style agent over a large tool set that binds only the ``k`` tools routed for
    the task, and heals failed calls by rerouting to their near-duplicates.

    ``router`` must index (at least) the tools, with skill ids equal to tool names, e.g.
    ``SkillRouter.from_catalog(tools)``; ``invoker`` replaces how tools are called (wrap it in
    a ``FaultInjector`` to test healing).
    """
    registry = {t.name: t for t in tools}

    def routed(selection: ToolSelection) -> dict[str, Any]:
        return {"selected_tools": list(selection.tools), "alternatives": selection.alternatives}

    async def aroute(state: RoutedAgentState) -> dict[str, Any]:
        task = task_of(state["messages"])
        return routed(await select_tools(router, task, k=k, registry=registry))

    def route(state: RoutedAgentState) -> dict[str, Any]:
        task = task_of(state["messages"])
        return routed(select_tools_sync(router, task, k=k, registry=registry))

    def bound(state: RoutedAgentState) -> Runnable[Any, Any]:
        return llm.bind_tools([registry[name] for name in state["selected_tools"]])

    async def aagent(state: RoutedAgentState) -> dict[str, Any]:
        return {"messages": [await bound(state).ainvoke(state["messages"])]}

    def agent(state: RoutedAgentState) -> dict[str, Any]:
        return {"messages": [bound(state).invoke(state["messages"])]}

    def next_step(state: RoutedAgentState) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    builder: StateGraph[Any] = StateGraph(RoutedAgentState)
    # Each node in both forms, so the graph runs with ``invoke`` as with ``ainvoke``.
    builder.add_node("route", RunnableLambda(route, afunc=aroute, name="route"))
    builder.add_node("agent", RunnableLambda(agent, afunc=aagent, name="agent"))
    builder.add_node(
        "tools",
        healing_tool_node(registry.values(), invoker=invoker, policy=policy, escalation=escalation),
    )
    builder.add_edge(START, "route")
    builder.add_edge("route", "agent")
    builder.add_conditional_edges("agent", next_step, ["tools", END])
    builder.add_edge("tools", "agent")
    return builder
