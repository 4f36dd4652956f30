"""The gateway: orchestrator as one small MCP server in front of many.

A client sees a few tools instead of hundreds: ``search_tools`` routes a query over every
server's tools, ``call_tool`` runs the chosen tool through the self-healing executor on a small
graph (start -> the tool or its twins on other servers -> done), so a dead server costs a
reroute, while an error the tool reports (``isError``) is its answer and goes back to the client
as is, and ``plan_task`` returns the multi-step plan for a task. Every call is traced.
``follow`` keeps the index in step with the servers: tools a server says it changed, a restart
that lists other tools, a server that starts late.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from orchestrator.catalog import Skill
from orchestrator.errors import OrchestratorError
from orchestrator.execution import (
    CircuitBreaker,
    DecisionListener,
    DecisionLog,
    Executor,
    RunResult,
    step_inputs,
)
from orchestrator.graph import ToolGraph, ToolStats
from orchestrator.integrations.mcp._catalog import server_indexes
from orchestrator.integrations.mcp._config import ServerSpec
from orchestrator.integrations.mcp._invoker import McpInvoker, result_text
from orchestrator.integrations.mcp._servers import McpServers
from orchestrator.integrations.mcp._stdio import serve_stdio
from orchestrator.integrations.mcp._tools import split_name, twin_key
from orchestrator.planning import Planner
from orchestrator.policy import Policy, load_policy
from orchestrator.routing import Embedder, SkillRouter, embedder_for
from orchestrator.telemetry import traced_run

__all__ = ["Gateway", "serve"]

logger = logging.getLogger("orchestrator.mcp")

START, DONE = "start", "done"
# The one run input of a call_tool run: the client's arguments, kept whole under a key the
# executor does not read (it reads ``task`` and ``routing``, which are a tool's arguments here).
CLIENT_ARGUMENTS = "call_tool.arguments"
TOOL_ERROR = "tool_error"  # the ``kind`` of the escalation handing a tool's error to the client
_TWIN_COST = 1.0  # the requested tool's edge costs 0: a twin runs only when it cannot
_RECENT_RUNS = 100

SEARCH_DESCRIPTION = (
    "Search the tools of every connected MCP server. Returns the best matches first, each with "
    "its qualified name (server/tool), description, inputSchema, annotations, server and score; "
    "'fits' is false when nothing fits the query. Then call one with call_tool."
)
PLAN_DESCRIPTION = (
    "Plan a multi-step task over every connected server's tools: the tools to call in order, "
    "what each takes its inputs from (needs), alternatives for each step, and the argument "
    "values the task writes (stated_inputs, by server/tool.argument)."
)
CALL_DESCRIPTION = (
    "Call a tool found by search_tools, by its qualified name (server/tool), with its arguments. "
    "If its server is down, the same tool on another server is used; the upstream result is "
    "passed through, and so is an error the tool reports (isError): it is not retried, so read "
    "it and correct the call."
)


class Gateway:
    """``search_tools``, ``call_tool`` and ``plan_task`` over an entered server pool and a
    router of its tools.

    Build it with :meth:`open` (which indexes the pool's tools), or pass a router yourself;
    ``index_dir`` is where :meth:`follow` caches the indexes it rebuilds.
    """

    def __init__(
        self,
        servers: McpServers,
        router: SkillRouter,
        *,
        policy: Policy | None = None,
        listeners: Sequence[DecisionListener] = (),
        index_dir: Path | None = None,
    ) -> None:
        self.servers = servers
        self.policy = policy if policy is not None else load_policy()
        self.listeners = tuple(listeners)
        self.index_dir = index_dir
        self.invoker = McpInvoker(
            servers,
            {},
            arguments_of=_client_arguments,
            timeout_s=self.policy.mcp.call_timeout_s,
            output="result",
        )
        # Tool health outlives one call (and a re-index): every per-call executor shares these.
        self.breakers: dict[str, CircuitBreaker] = {}
        self.stats: dict[str, ToolStats] = {}
        self.runs: deque[RunResult] = deque(maxlen=_RECENT_RUNS)
        self._adopt(router)

    def _adopt(self, router: SkillRouter) -> None:
        """Serve ``router``'s tools: everything derived from them is replaced at once (between
        two awaits, so a call sees the old tools or the new ones, never half of each)."""
        self.router = router
        self.skills: dict[str, Skill] = {s.id: s for s in router.skills}
        self.invoker.use_skills(self.skills)
        self.allowed = [i for i, s in self.skills.items() if self.policy.mcp.denied_by(s) is None]
        self.twins: dict[str, list[str]] = {}
        for skill in self.skills.values():
            self.twins.setdefault(twin_key(skill), []).append(skill.id)
        self._planner: Planner | None = None
        self._graphs: dict[str, ToolGraph] = {}

    @classmethod
    def open(
        cls,
        servers: McpServers,
        *,
        policy: Policy | None = None,
        embedder: Embedder | str | Path | None = None,
        index_dir: Path | None = None,
        listeners: Sequence[DecisionListener] = (),
    ) -> Gateway:
        """Index the entered pool's tools (cached per server and tools-list hash in
        ``index_dir``) and build the gateway."""
        policy = policy if policy is not None else load_policy()
        tools = sum(len(c.tools) for c in servers if c.session is not None)
        model = embedder_for(policy.routing.index, embedder, skills=tools)
        index = server_indexes(servers, model, policy.routing.index, index_dir)
        router = SkillRouter(index, model, policy.routing)
        return cls(servers, router, policy=policy, listeners=listeners, index_dir=index_dir)

    async def follow(self) -> None:
        """Keep the index in step with the servers until cancelled.

        Servers that failed to start are tried again behind their backoff
        (``McpServers.keep_starting``); each time a server's tools change (it sent
        ``tools/list_changed``, a restart listed other tools, or it started late) the pool's
        tools are indexed again (only the changed server is embedded) and served from then on.
        """
        send, changes = anyio.create_memory_object_stream[str](math.inf)
        async with send, changes:
            # Subscribed only while both ends are open: the pool's callback must never fail.
            unsubscribe = self.servers.subscribe(lambda server: send.send_nowait(server.name))
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self.servers.keep_starting)
                    async for server in changes:
                        changed = {server}
                        while True:  # one re-index for every change known by now
                            try:
                                changed.add(changes.receive_nowait())
                            except anyio.WouldBlock:
                                break
                        servers = ", ".join(sorted(changed))
                        try:
                            router = await anyio.to_thread.run_sync(self._reindex)
                        except OrchestratorError as exc:  # a tool it cannot read, say
                            logger.warning(
                                "the tools of %s changed but cannot be indexed (%s); serving "
                                "the tools listed before",
                                servers,
                                exc,
                            )
                            continue
                        self._adopt(router)
                        logger.info("re-indexed the tools of %s", servers)
            finally:
                unsubscribe()

    def _reindex(self) -> SkillRouter:
        """A router over the pool's tools as they are listed now (on a worker thread)."""
        embedder = self.router.embedder
        index = server_indexes(self.servers, embedder, self.policy.routing.index, self.index_dir)
        return SkillRouter(index, embedder, self.policy.routing)

    # -- search_tools ---------------------------------------------------------------------------

    async def search(self, query: str, k: int = 5) -> dict[str, Any]:
        """The ``k`` best allowed tools for ``query`` and whether anything fits."""
        if not self.allowed:
            return {"tools": [], "fits": False}
        only = None if len(self.allowed) == len(self.skills) else self.allowed
        result = await self.router.aroute(query, k, only=only)
        tools = []
        cut = self.policy.mcp.max_description_chars
        for match in result.matches:
            skill = match.skill
            description = skill.description
            if len(description) > cut:
                description = description[: cut - 1].rstrip() + "…"
            tools.append(
                {
                    "name": skill.id,
                    "description": description,
                    "inputSchema": skill.parameters,
                    "annotations": skill.metadata.get("annotations", {}),
                    "server": skill.metadata.get("server", split_name(skill.id)[0]),
                    "score": round(match.score, 6),
                    "alternatives": self._alternatives(skill.id),
                }
            )
        return {"tools": tools, "fits": result.fits}

    # -- plan_task ------------------------------------------------------------------------------

    async def plan(self, task: str) -> dict[str, Any]:
        """The plan for ``task`` over the allowed tools (the dependency graph of the servers'
        tools is derived on first use)."""

        def make() -> dict[str, Any]:
            if self._planner is None:
                self._planner = Planner.from_router(self.router, self.policy)
            only = None if len(self.allowed) == len(self.skills) else self.allowed
            plan = self._planner.plan(task, only=only)
            return {
                "plan": plan.contract(),
                "steps": [step.to_dict() for step in plan.steps],
                "subgoals": list(plan.subgoals),
                "unplanned": list(plan.unplanned),
                "stated_inputs": dict(plan.stated_inputs),
            }

        return await anyio.to_thread.run_sync(make)

    # -- call_tool ------------------------------------------------------------------------------

    def _alternatives(self, name: str) -> list[str]:
        skill = self.skills[name]
        return [
            t
            for t in self.twins[twin_key(skill)]
            if t != name and self.policy.mcp.denied_by(self.skills[t]) is None
        ]

    def graph_for(self, name: str) -> ToolGraph:
        """start -> ``name`` (cost 0) or a twin on another server (cost 1) -> done.

        Built once per tool until the next re-index (``follow``): health lives in the shared
        stats and breakers, not in the graph."""
        graph = self._graphs.get(name)
        if graph is None:
            graph = self._graphs[name] = self._build_graph(name)
        return graph

    def _build_graph(self, name: str) -> ToolGraph:
        graph = ToolGraph(start=START, goal=DONE, name=f"call_tool {name}")
        timeout_s = self.policy.mcp.call_timeout_s * 1.1 + 0.5  # the per-call timeout wins
        for tool, cost in [(name, 0.0), *((t, _TWIN_COST) for t in self._alternatives(name))]:
            graph.add_tool(self.skills[tool], outputs=None, timeout_s=timeout_s)
            graph.add_edge(START, tool, cost)
            graph.add_edge(tool, DONE, 0.0)
        return graph

    def _executor(self, graph: ToolGraph) -> Executor:
        executor = Executor(
            graph, self.invoker, policy=self.policy, breakers=self.breakers, stats=self.stats
        )
        for tool in graph.tools():
            connection = self.servers.connections.get(split_name(tool)[0])
            if connection is not None and connection.state == "open circuit":
                # Its server crashed and waits out its restart backoff: avoid it in this call (an
                # open breaker of the call's own; the shared one keeps the tool's history).
                executor.breakers[tool] = CircuitBreaker(1, connection.circuit_remaining_s())
                executor.breakers[tool].open(connection.circuit_reason())
        return executor

    async def call(self, name: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
        """Run ``name`` through the self-healing executor; never raises for a tool's failure.

        An ``isError`` result is the tool's answer, returned as is (see ``_hand_back``)."""
        skill = self.skills.get(name)
        if skill is None:
            return _error(self._unknown(name))
        rule = self.policy.mcp.denied_by(skill)
        if rule is not None:
            return _error(f"tool {name} is denied by policy: {rule.describe()}")
        log = DecisionLog()
        for listener in self.listeners:
            log.subscribe(listener)
        executor = self._executor(self.graph_for(name))
        with traced_run(log, f"call_tool {name}", workflow="mcp_gateway", executor=executor) as t:
            run = await executor.run({CLIENT_ARGUMENTS: dict(arguments or {})}, log=log)
            used = run.path[-1] if run.outcome in ("completed", "demoted") and run.path else None
            if used is not None and run.outputs[used].is_error:
                run = _hand_back(run, used)
            t.set_result(run)
        self.runs.append(run)
        meta = {"orchestrator": {"requested": name, **run.to_dict()}}
        if used is not None:
            result: CallToolResult = run.outputs[used]
            meta["orchestrator"]["tool"] = used
            return result.model_copy(update={"meta": {**(result.meta or {}), **meta}})
        return CallToolResult(
            content=[TextContent(type="text", text=_exhausted(name, run))],
            is_error=True,
            _meta=meta,
        )

    def _unknown(self, name: str) -> str:
        server, own = split_name(name)
        failed = self.servers.failures.get(server)
        if failed is not None:
            return f"{name}: its server did not start, so none of its tools can run ({failed})"
        near = [t for t, s in self.skills.items() if s.name in (name, own)]
        hint = f"; did you mean {', '.join(sorted(near))}?" if near else ""
        return (
            f"unknown tool {name!r}: call_tool takes a qualified name server/tool as returned by "
            f"search_tools{hint}"
        )

    # -- serving --------------------------------------------------------------------------------

    def mcp_server(self) -> MCPServer:
        """The MCP server exposing ``search_tools``, ``plan_task`` and ``call_tool`` (one per
        gateway)."""
        server: MCPServer = MCPServer(
            name="orchestrator",
            instructions=(
                "Find tools with search_tools, then run one with call_tool by its qualified name."
            ),
        )

        @server.tool(
            name="search_tools",
            description=SEARCH_DESCRIPTION,
            annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
        )
        async def search_tools(
            query: str, k: Annotated[int, Field(ge=1, description="How many tools.")] = 5
        ) -> CallToolResult:
            found = await self.search(query, k)
            return CallToolResult(
                content=[TextContent(type="text", text=json.dumps(found))],
                structured_content=found,
            )

        @server.tool(
            name="plan_task",
            description=PLAN_DESCRIPTION,
            annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
        )
        async def plan_task(task: str) -> CallToolResult:
            planned = await self.plan(task)
            return CallToolResult(
                content=[TextContent(type="text", text=json.dumps(planned))],
                structured_content=planned,
            )

        @server.tool(name="call_tool", description=CALL_DESCRIPTION)
        async def call_tool(name: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
            try:
                return await self.call(name, arguments)
            except Exception as exc:  # a bug of ours: said to the client, traceback on stderr
                logger.exception("call_tool %s failed inside the gateway", name)
                return _error(
                    f"call_tool {name}: internal error in the gateway ({_causes(exc)}); whether "
                    "the tool ran is unknown; the gateway's stderr has the traceback"
                )

        return server


def _causes(exc: BaseException) -> str:
    """What went wrong, without the task groups' wrappers (whose own text says nothing)."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_causes(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


def _client_arguments(tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """A call_tool step's MCP arguments: the client's, from the run's envelope."""
    return dict(step_inputs(arguments)[CLIENT_ARGUMENTS])


def _error(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def _hand_back(run: RunResult, tool: str) -> RunResult:
    """Record that ``tool`` answered with an error and that the error goes to the client.

    An ``isError`` result is MCP's tool execution error (a wrong argument, a missing file), there
    for the model to read and correct. The call reached a working server, so the executor took it
    as an answer: no retry, no reroute (a twin would answer the same), nothing charged to the
    server's breaker. Handing it to the client is the run's escalation, logged after the
    executor's ``complete``; the run is ``escalated``, as every run that ends in an error is."""
    text = result_text(run.outputs[tool]) or "the tool reported an error without text"
    run.log.record(
        "escalate",
        tool,
        f"{TOOL_ERROR}: {text}; the tool's own answer, returned to the client: not retried, "
        "not rerouted, its server's health unchanged",
        kind=TOOL_ERROR,
    )
    return replace(run, outcome="escalated")


def _exhausted(name: str, run: RunResult) -> str:
    """What was tried and why each attempt failed, from the run's decision log; only what is
    wrong with the arguments when that is all that failed (nothing is down: the caller can
    mend the call)."""
    fails = [d for d in run.log if d.action == "fail"]
    if fails and all(d.data.get("kind") == "bad_arguments" for d in fails):
        return f"call_tool {name}: the arguments do not fit the tool: {fails[0].reason}"
    attempts = [f"{d.tool} ({d.reason})" for d in fails]
    avoided = [
        f"{d.tool} ({d.reason})" for d in run.log if d.action == "reroute" and "avoided" in d.reason
    ]
    escalations = [d.reason for d in run.log if d.action == "escalate"]
    lines = [f"call_tool {name}: healing exhausted, the run {run.outcome}."]
    if attempts:
        lines.append("tried: " + "; ".join(attempts))
    if avoided:
        lines.append("not called: " + "; ".join(avoided))
    if escalations:
        lines.append("why it stopped: " + "; ".join(escalations))
    return "\n".join(lines)


async def serve(
    config: Path,
    *,
    policy_file: Path | None = None,
    http: tuple[str, int] | None = None,
    index_dir: Path | None = None,
    embedder: Path | None = None,
    listeners: Sequence[DecisionListener] = (),
) -> None:
    """Start every configured server, index their tools, and serve the gateway (stdio, or
    streamable HTTP at ``http``) until the client goes away; then stop every server.

    ``listeners`` see every decision of every ``call_tool`` run as it is recorded (tracing)."""
    from orchestrator.integrations.mcp._config import load_servers_config

    specs: list[ServerSpec] = load_servers_config(config)
    policy = load_policy(policy_file)
    async with McpServers(specs, policy=policy.mcp) as servers:
        for failure in servers.failures.values():  # stdout is the protocol's: said on stderr
            sys.stderr.write(f"orchestrator mcp serve: not serving its tools: {failure}\n")
        gateway = await anyio.to_thread.run_sync(
            lambda: Gateway.open(
                servers, policy=policy, embedder=embedder, index_dir=index_dir, listeners=listeners
            )
        )
        server = gateway.mcp_server()
        async with anyio.create_task_group() as following:
            following.start_soon(gateway.follow)
            if http is None:
                await serve_stdio(server)
            else:
                host, port = http
                await server.run_streamable_http_async(host=host, port=port)
            following.cancel_scope.cancel()
