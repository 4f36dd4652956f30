"""The pool of configured servers: started together, each in its own supervised task.

One async context manager owns them all: entering starts every server concurrently (a server that
fails is recorded, the others still load); leaving closes every session and stops every child
process before it returns. Meanwhile ``keep_starting`` tries the failed ones again behind their
backoff, and ``subscribe`` tells a listener (the gateway's index) when a server's tools change.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio
import networkx as nx
from anyio.abc import TaskGroup

from orchestrator.catalog import Skill
from orchestrator.errors import McpServerError
from orchestrator.integrations.mcp._config import ServerSpec
from orchestrator.integrations.mcp._connection import ServerConnection, ServerState
from orchestrator.integrations.mcp._policy import McpPolicy
from orchestrator.integrations.mcp._tools import tool_skill

__all__ = ["McpServers", "ServerStatus"]


@dataclass(frozen=True)
class ServerStatus:
    """One server as ``orchestrator mcp status`` shows it."""

    server: str
    target: str
    state: ServerState
    tools: int
    tools_hash: str
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "target": self.target,
            "state": self.state,
            "tools": self.tools,
            "tools_hash": self.tools_hash,
            "last_error": self.last_error,
        }


class McpServers:
    """Live connections to the configured servers.

    Examples
    --------
    >>> async with McpServers(load_servers_config("servers.json")) as servers:  # doctest: +SKIP
    ...     skills = servers.skills()
    """

    def __init__(
        self,
        specs: Sequence[ServerSpec],
        *,
        policy: McpPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy if policy is not None else McpPolicy()
        self.connections = {
            spec.name: ServerConnection(spec, self.policy, clock=clock) for spec in specs
        }
        self.failures: dict[str, McpServerError] = {}
        self._group: TaskGroup | None = None
        self._listeners: list[Callable[[ServerConnection], None]] = []
        self._replicas = _replica_keys(specs, self.policy)

    def __iter__(self) -> Iterator[ServerConnection]:
        return iter(self.connections.values())

    def connection(self, server: str) -> ServerConnection:
        return self.connections[server]

    async def __aenter__(self) -> McpServers:
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        try:
            async with anyio.create_task_group() as starting:
                for connection in self:
                    starting.start_soon(self._start, connection)
        except BaseException:
            await self.aclose()
            raise
        # From now on, a server's tools differing from what it listed at the start is news.
        for connection in self:
            connection.on_tools_changed = self._tools_changed
        return self

    def subscribe(self, listener: Callable[[ServerConnection], None]) -> Callable[[], None]:
        """Call ``listener`` with a server whose tools changed since they were last listed (it
        said so, a restart listed others, or it started late). Returns the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _tools_changed(self, connection: ServerConnection) -> None:
        for listener in list(self._listeners):
            listener(connection)

    async def keep_starting(self) -> None:
        """Start again the servers that failed to start, each when its restart backoff ends,
        until every one is up (or only servers the config must mend are left).

        Nothing else would: a server that never listed tools is never called, so it is never
        restarted on demand as a crashed one is."""
        while True:
            waiting = [c for c in self if c.name in self.failures and c.unstartable is None]
            if not waiting:
                return
            await anyio.sleep(min(c.circuit_remaining_s() for c in waiting))
            for connection in waiting:
                if connection.breaker.allows_call():  # the backoff is over
                    await self._start(connection)  # at once if a call restarted it meanwhile
                if connection.state == "up":
                    self.failures.pop(connection.name, None)

    async def _start(self, connection: ServerConnection) -> None:
        assert self._group is not None
        try:
            await connection.start(self._group)
        except McpServerError as exc:
            self.failures[connection.name] = exc

    async def aclose(self) -> None:
        """Close every session and stop every server; returns once the children are gone."""
        group, self._group = self._group, None
        if group is None:
            return
        for connection in self:
            connection.stop()
        await group.__aexit__(None, None, None)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def skills(self) -> list[Skill]:
        """Every listed tool of every server as a Skill, server by server in config order."""
        return [skill for connection in self for skill in self.server_skills(connection)]

    def server_skills(self, connection: ServerConnection) -> list[Skill]:
        """The listed tools of one server as Skills, with its replica group and program."""
        return [
            tool_skill(
                connection.name,
                tool,
                source=f"mcp:{connection.name}",
                launch=self.replica_key(connection.spec),
                program=connection.spec.program,
            )
            for tool in connection.tools
        ]

    def replica_key(self, spec: ServerSpec) -> str:
        """Equal for servers that serve the same data: started the same way
        (``ServerSpec.launch_key``) or declared replicas (``mcp.replicas``), and so on through
        either (a server started as a declared replica was is one too)."""
        return self._replicas.get(spec.name, spec.launch_key)

    def status(self) -> list[ServerStatus]:
        return [
            ServerStatus(
                server=c.name,
                target=c.spec.describe(),
                state=c.state,
                tools=len(c.tools),
                tools_hash=c.tools_hash,
                last_error=c.last_error,
            )
            for c in self
        ]


def _replica_keys(specs: Sequence[ServerSpec], policy: McpPolicy) -> dict[str, str]:
    """Each server's replica group, named by its first member in config order: servers joined
    by an equal launch or a declared group (``mcp.replicas``; names not in the config are
    ignored: one policy may serve several configs)."""
    order = [spec.name for spec in specs]
    joined = nx.Graph()
    joined.add_nodes_from(order)
    first_of_launch: dict[str, str] = {}
    for spec in specs:
        joined.add_edge(first_of_launch.setdefault(spec.launch_key, spec.name), spec.name)
    for group in policy.replicas:
        present = [name for name in group if name in joined]
        joined.add_edges_from(itertools.pairwise(present))
    keys: dict[str, str] = {}
    for members in nx.connected_components(joined):
        leader = min(members, key=order.index)
        keys.update(dict.fromkeys(members, f"replicas:{leader}"))
    return keys
