"""Tool retrieval for LangGraph agents, backed by the skill router: the
``retrieve_tools_function`` / ``retrieve_tools_coroutine`` pair of ``langgraph-bigtool``'s
``create_agent``, and the alternatives (near-duplicate groups) the healing tool node reroutes to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from orchestrator.routing import RouteResult, SkillRouter

__all__ = ["ToolSelection", "retrieval_functions", "select_tools", "select_tools_sync"]


@dataclass(frozen=True)
class ToolSelection:
    """The tools routed for a task, best first, and each one's alternatives."""

    tools: tuple[str, ...]
    alternatives: dict[str, list[str]]
    fits: bool


def _selection(result: RouteResult, registry: Collection[str] | None) -> ToolSelection:
    tools, alternatives = [], {}
    for match in result.matches:
        if registry is not None and match.id not in registry:
            continue
        tools.append(match.id)
        duplicates = [d.id for d in match.duplicates if registry is None or d.id in registry]
        if duplicates:
            alternatives[match.id] = duplicates
    return ToolSelection(tuple(tools), alternatives, result.fits)


async def select_tools(
    router: SkillRouter, task: str, *, k: int = 3, registry: Collection[str] | None = None
) -> ToolSelection:
    """Route ``task`` and keep the ``k`` best skills that are tools in ``registry``."""
    only = None if registry is None else list(registry)
    return _selection(await router.aroute(task, k=k, only=only), registry)


def select_tools_sync(
    router: SkillRouter, task: str, *, k: int = 3, registry: Collection[str] | None = None
) -> ToolSelection:
    """``select_tools`` for synchronous code (a graph run with ``invoke``)."""
    only = None if registry is None else list(registry)
    return _selection(router.route(task, k=k, only=only), registry)


def retrieval_functions(
    router: SkillRouter, *, k: int = 3, registry: Collection[str] | None = None
) -> tuple[Callable[[str], list[str]], Callable[[str], Awaitable[list[str]]]]:
    """``(retrieve_tools_function, retrieve_tools_coroutine)`` for ``langgraph-bigtool``.

    Both return the ids (keys of bigtool's ``tool_registry``) of the ``k`` best-fitting tools;
    pass ``registry`` (the registry's keys) to route only over tools the agent can call.
    """
    only = None if registry is None else list(registry)

    def retrieve_tools(query: str) -> list[str]:
        """Find tools for a task. Describe the task or the capability you need in `query`;
        returns the names of the tools that fit it best."""
        return list(_selection(router.route(query, k=k, only=only), registry).tools)

    async def aretrieve_tools(query: str) -> list[str]:
        """Find tools for a task. Describe the task or the capability you need in `query`;
        returns the names of the tools that fit it best."""
        return list(_selection(await router.aroute(query, k=k, only=only), registry).tools)

    # bigtool names the retrieval tool after the function: one name for both.
    aretrieve_tools.__name__ = "retrieve_tools"
    return retrieve_tools, aretrieve_tools
