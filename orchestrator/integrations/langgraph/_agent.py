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
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, MessagesState, StateGraph

from orchestrator.execution import Escalation, Invoker
from orchestrator.integrations.langgraph._retrieval import select_tools
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

    async def route(state: RoutedAgentState) -> dict[str, Any]:
        selection = await select_tools(router, task_of(state["messages"]), k=k, registry=registry)
        return {"selected_tools": list(selection.tools), "alternatives": selection.alternatives}

    async def agent(state: RoutedAgentState) -> dict[str, Any]:
        bound = llm.bind_tools([registry[name] for name in state["selected_tools"]])
        return {"messages": [await bound.ainvoke(state["messages"])]}

    def next_step(state: RoutedAgentState) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    builder: StateGraph[Any] = StateGraph(RoutedAgentState)
    builder.add_node("route", route)
    builder.add_node("agent", agent)
    builder.add_node(
        "tools",
        healing_tool_node(registry.values(), invoker=invoker, policy=policy, escalation=escalation),
    )
    builder.add_edge(START, "route")
    builder.add_edge("route", "agent")
    builder.add_conditional_edges("agent", next_step, ["tools", END])
    builder.add_edge("tools", "agent")
    return builder
