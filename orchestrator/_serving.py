"""What calls a catalog's skills in a run: functions and LangChain tools given by skill id or
name, and for every other skill a catalog's live MCP servers (started for the run) or another
invoker (simulations, on the command line).

``Orchestrator.run`` and ``orchestrator run`` both serve a run through :func:`serving`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeAlias

from orchestrator._keyword_tools import KeywordInvoker, ToolFunction, by_skill_id
from orchestrator.catalog import Skill
from orchestrator.catalog._langchain import is_langchain_tool
from orchestrator.execution import AbandonedCalls, CompositeInvoker, Invoker

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from orchestrator.integrations.mcp import McpPolicy, ServerSpec

__all__ = ["Tool", "serving", "tools_invoker"]

Tool: TypeAlias = "ToolFunction | BaseTool"


def tools_invoker(
    tools: Mapping[str, Tool],
    skills: Mapping[str, Skill],
    *,
    others: Invoker | None = None,
    abandoned: AbandonedCalls | None = None,
) -> Invoker:
    """Plain functions (``KeywordInvoker``) and LangChain tools, by skill id or name, as one
    invoker that can tell before a run whether each can be called; ``others`` serves every
    other skill (without it, they cannot be called). ``abandoned`` keeps the functions' calls
    left running by earlier runs."""
    chains: dict[str, Any] = {}
    plain: dict[str, Any] = {}
    for key, tool in tools.items():
        (chains if is_langchain_tool(tool) else plain)[key] = tool
    functions = KeywordInvoker(plain, skills, abandoned=abandoned)
    if not chains and others is None:
        return functions
    routes: dict[str, Invoker] = dict.fromkeys(functions.tools, functions)
    if chains:
        # Loaded only here: LangChain is an extra, and a LangChain tool means it is installed.
        from orchestrator.integrations.langchain import LangChainToolInvoker

        langchain = LangChainToolInvoker(by_skill_id(chains, skills))
        routes.update(dict.fromkeys(langchain.tools, langchain))
    return CompositeInvoker(routes, default=others)


@asynccontextmanager
async def serving(
    tools: Mapping[str, Tool],
    skills: Mapping[str, Skill],
    *,
    servers: list[ServerSpec] | None = None,
    policy: McpPolicy | None = None,
    others: Invoker | None = None,
    abandoned: AbandonedCalls | None = None,
) -> AsyncIterator[Invoker]:
    """The invoker of a run: ``tools``, and for the other skills the MCP ``servers`` (started
    here, stopped when the run leaves; ``policy`` sets their timeouts) or, without servers,
    ``others``. ``abandoned`` as for ``tools_invoker``."""
    if servers is None:
        yield tools_invoker(tools, skills, others=others, abandoned=abandoned)
        return
    from orchestrator.integrations.mcp import McpInvoker, McpServers

    async with McpServers(servers, policy=policy) as live:
        mcp = McpInvoker(live, skills)
        yield tools_invoker(tools, skills, others=mcp, abandoned=abandoned)
