"""One live MCP server: its supervised session (stdio or streamable HTTP), circuit and restarts.

The session runs in a task of its own, so the transport's cancel scopes are entered and left in
one task (an ``AsyncExitStack`` inside the pool's task group). A relay between the transport and
the session notices the server going away even between calls, so a crash opens the circuit at
once; the server's stderr is kept as a bounded tail (``StderrTail``) that says why a start
failed. A server's ``tools/list_changed`` notification has its tools listed again; whenever a
listing (that one, or a restart's) differs from the last, ``on_tools_changed`` is told.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from contextlib import AsyncExitStack, suppress
from pathlib import Path
from typing import Any, Literal, TextIO

import anyio
import httpx2
from anyio.abc import TaskGroup, TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp import ClientSession
from mcp.client.session import IncomingMessage, MessageHandlerFnT
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp_types import (
    CONNECTION_CLOSED,
    INVALID_PARAMS,
    REQUEST_TIMEOUT,
    CallToolResult,
    PaginatedRequestParams,
    Tool,
    ToolListChangedNotification,
)
from pydantic import ValidationError

from orchestrator.errors import (
    CircuitOpenError,
    ConnectionLostError,
    MalformedOutputError,
    McpServerError,
    ToolArgumentError,
    ToolCallError,
    ToolTimeoutError,
    ToolUnavailableError,
)
from orchestrator.execution import STATE_OPEN, CircuitBreaker
from orchestrator.integrations.mcp._config import ServerSpec
from orchestrator.integrations.mcp._policy import McpPolicy
from orchestrator.integrations.mcp._stderr import StderrTail
from orchestrator.integrations.mcp._tools import tools_hash

__all__ = ["ServerConnection", "ServerState"]

ServerState = Literal["up", "down", "open circuit"]

logger = logging.getLogger("orchestrator.mcp")

_MAX_PAGES = 1000
# How the SDK words its own -32000 for a request whose answer can no longer come: the
# connection closed, or (streamable HTTP) the response stream broke or ended without it.
_SDK_CLOSED = ("Connection closed", "SSE stream ", "server answered a request with 202")
_TAIL_CHARS = 600
_TransportItem = SessionMessage | Exception


class ServerConnection:
    """A server of the pool: started on demand, reused across calls, restarted with backoff.

    The circuit opens when the server crashes or fails to start and stays open for a backoff that
    doubles per failed restart; while it is open, calls fail fast with ``CircuitOpenError``.
    ``on_tools_changed`` (set by the pool once every server has started) is called with the
    connection each time its listed tools differ from the listing before.
    """

    def __init__(
        self, spec: ServerSpec, policy: McpPolicy, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.spec = spec
        self.policy = policy
        self.breaker = CircuitBreaker(1, policy.restart.initial_s, clock=clock)
        self.session: ClientSession | None = None
        self.tools: list[Tool] = []
        self.tools_hash = ""
        self.last_error: str | None = None
        self.starts = 0
        self.on_tools_changed: Callable[[ServerConnection], None] | None = None
        self._clock = clock
        self._failures_in_row = 0
        self._opened_at = 0.0
        self._stop: anyio.Event | None = None
        self._lock = anyio.Lock()
        self._group: TaskGroup | None = None
        self.stderr = StderrTail()  # every start's, a bounded tail
        self._refusals = _Refusals()  # an HTTP server's refused connections

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def unstartable(self) -> str | None:
        """Why the server cannot be started as configured (the config's to mend), if so."""
        return _unstartable(self.spec)

    @property
    def state(self) -> ServerState:
        if self.session is not None:
            return "up"
        return "open circuit" if self.breaker.state == STATE_OPEN else "down"

    def circuit_remaining_s(self) -> float:
        """How long the circuit stays open before a restart may be tried (0 when not open)."""
        if self.breaker.state != STATE_OPEN:
            return 0.0
        return max(1e-3, self.breaker.reset_timeout - (self._clock() - self._opened_at))

    def circuit_reason(self) -> str:
        """Why calls of this server fail fast now: its open circuit, its last error and when
        it may be restarted."""
        return (
            f"server {self.name} circuit open ({self.last_error}); next restart in "
            f"{self.circuit_remaining_s():.1f} s"
        )

    def stderr_tail(self) -> str:
        """The last few hundred characters the server wrote to stderr, on one line."""
        return self.stderr.text(_TAIL_CHARS)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self, group: TaskGroup) -> None:
        """Start the server (unless up), initialize and list its tools, following pagination.

        Raises
        ------
        McpServerError
            It did not start, initialize or list its tools in time; names the server, its command
            and its stderr tail. The circuit opens for the restart backoff.
        """
        async with self._lock:
            if self.session is not None:
                return
            self._group = group
            unstartable = self.unstartable
            if unstartable is not None:  # the config's to mend: no process, no restart backoff
                self.last_error = unstartable
                raise McpServerError(self.name, self.spec.describe(), unstartable)
            self.starts += 1
            try:
                await group.start(self._supervise)
            except Exception as exc:  # every way a start fails is reported, with stderr
                reason, tail = _describe(exc), self.stderr_tail()
                self._crashed(f"{reason}; stderr: {tail}" if tail else reason)
                raise McpServerError(self.name, self.spec.describe(), reason, tail) from exc

    async def ensure_up(self, tool: str) -> ClientSession:
        """The live session, restarting the server if its circuit allows (else fail fast)."""
        session = self.session
        if session is not None:
            return session
        if not self.breaker.allows_call():
            raise CircuitOpenError(self.circuit_reason(), tool=tool)
        if self._group is None:
            raise ToolUnavailableError(f"server {self.name} was never started", tool=tool)
        try:
            await self.start(self._group)
        except McpServerError as exc:
            raise ToolUnavailableError(str(exc), tool=tool) from exc
        if self.session is None:  # pragma: no cover - start() either sets it or raises
            raise ToolUnavailableError(f"server {self.name} did not come up", tool=tool)
        return self.session

    def stop(self) -> None:
        """Ask the supervising task to close the session and stop the server."""
        if self._stop is not None:
            self._stop.set()

    async def _supervise(self, *, task_status: TaskStatus[None]) -> None:
        stop = anyio.Event()
        started = False
        deadline = anyio.current_time() + self.policy.startup_timeout_s
        try:
            with anyio.CancelScope(deadline=deadline) as scope:
                async with AsyncExitStack() as stack:
                    read, write = await self._open_transport(stack)
                    relays = await stack.enter_async_context(anyio.create_task_group())
                    send, receive = anyio.create_memory_object_stream[_TransportItem](0)
                    relays.start_soon(self._relay, read, send, stop)
                    # One pending re-listing is enough, however many notifications arrive.
                    relist, relists = anyio.create_memory_object_stream[None](1)
                    stack.enter_context(relist)
                    stack.enter_context(relists)
                    session = await stack.enter_async_context(
                        ClientSession(receive, write, message_handler=_relist_on_change(relist))
                    )
                    await session.initialize()
                    tools = await _list_tools(session)
                    scope.deadline = math.inf
                    self.session = session
                    self._listed(tools)
                    relays.start_soon(self._follow_tools, session, relists)
                    self._stop = stop
                    self.breaker.record_success()
                    self._failures_in_row = 0
                    started = True
                    task_status.started()
                    try:
                        await stop.wait()
                    finally:
                        self.session = None
                        relays.cancel_scope.cancel()
            if not started and scope.cancelled_caught:
                raise TimeoutError(
                    f"no answer within {self.policy.startup_timeout_s:.3g} s (startup_timeout_s)"
                )
        except Exception as exc:
            if not started:
                raise
            # After start, a failing shutdown must not take the pool's other servers down.
            self.last_error = f"while stopping: {_describe(exc)}"

    async def _open_transport(
        self, stack: AsyncExitStack
    ) -> tuple[MemoryObjectReceiveStream[_TransportItem], MemoryObjectSendStream[SessionMessage]]:
        spec = self.spec
        if spec.command is not None:
            params = StdioServerParameters(
                command=spec.command, args=list(spec.args), env=spec.env, cwd=spec.cwd
            )
            errlog: TextIO = await self.stderr.capture(stack)  # closed after the process
            streams: Any = await stack.enter_async_context(stdio_client(params, errlog=errlog))
        else:
            transport = self._refusals.watching(httpx2.AsyncHTTPTransport())
            client = await stack.enter_async_context(
                httpx2.AsyncClient(
                    timeout=httpx2.Timeout(MCP_DEFAULT_TIMEOUT, read=MCP_DEFAULT_SSE_READ_TIMEOUT),
                    headers=spec.headers or None,
                    transport=transport,
                )
            )
            streams = await stack.enter_async_context(
                streamable_http_client(str(spec.url), http_client=client)
            )
        read, write = streams
        return read, write

    async def _relay(
        self,
        read: MemoryObjectReceiveStream[_TransportItem],
        send: MemoryObjectSendStream[_TransportItem],
        stop: anyio.Event,
    ) -> None:
        """Pass messages to the session; at end of stream the server is gone: say so at once."""
        async with send:
            try:
                async for item in read:
                    await send.send(item)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                return  # the session closed first: our own shutdown
        if self._stop is stop and not stop.is_set():  # up, and not stopped by us
            self._crashed("the server closed the connection (exited or crashed)")
            stop.set()

    def _listed(self, tools: list[Tool]) -> None:
        """Keep a new listing of the server's tools; say so if it differs from the last. A name
        listed twice keeps its first listing (warned once per listing): a catalog load had
        failed on the duplicate id, every server with it, while the gateway offered both."""
        digest = tools_hash(tools)
        changed = digest != self.tools_hash
        kept: dict[str, Tool] = {}
        for tool in tools:
            if tool.name not in kept:
                kept[tool.name] = tool
            elif changed:
                logger.warning(
                    "MCP server %r lists the tool %r twice; the first listing is kept",
                    self.name,
                    tool.name,
                )
        self.tools, self.tools_hash = list(kept.values()), digest
        if changed and self.on_tools_changed is not None:
            self.on_tools_changed(self)

    async def _follow_tools(
        self, session: ClientSession, relists: MemoryObjectReceiveStream[None]
    ) -> None:
        """List the tools again each time the server says they changed (the session's life)."""
        async with relists:
            async for _ in relists:
                try:
                    with anyio.fail_after(self.policy.call_timeout_s):
                        tools = await _list_tools(session)
                except (MCPError, TimeoutError, RuntimeError, anyio.BrokenResourceError) as exc:
                    # The tools listed before stand; a lost connection is the relay's to report.
                    self.last_error = f"tools/list after tools/list_changed: {_describe(exc)}"
                    continue
                self._listed(tools)

    def _crashed(self, reason: str) -> None:
        """Record a crash or failed start and open the circuit for the next backoff."""
        self.last_error = reason
        self._failures_in_row += 1
        restart = self.policy.restart
        self.breaker.reset_timeout = min(
            restart.max_s, restart.initial_s * 2 ** (self._failures_in_row - 1)
        )
        self.breaker.open()
        self._opened_at = self._clock()

    # -- calls ----------------------------------------------------------------------------------

    async def call(
        self, tool: str, arguments: dict[str, Any], *, qualified: str, timeout_s: float
    ) -> CallToolResult:
        """One ``tools/call``, its failures raised as the executor's ``ToolFailure`` kinds.

        A result with ``isError`` is returned as is, and any other JSON-RPC error is a
        ``ToolCallError``: whether its words mean a rate limit is the invoker's to judge, since
        only it knows whether the tool is safe to call again.
        """
        session = await self.ensure_up(qualified)
        started = time.monotonic()
        try:
            return await session.call_tool(tool, arguments, read_timeout_seconds=timeout_s)
        except MCPError as exc:
            # The SDK raises its own "connection closed" and "timed out" with the codes of
            # JSON-RPC's server-error range (-32000, -32001) that servers also send for errors
            # of their own ("database connection refused"): only the SDK's are the connection's.
            if exc.code == CONNECTION_CLOSED and exc.message.startswith(_SDK_CLOSED):
                refused = self._refusals.refused(tool, arguments, since=started)
                raise self._lost(qualified, refused=refused) from exc
            # Timers may fire a clock tick early: 5% of slack, far from a server's own -32001.
            if exc.code == REQUEST_TIMEOUT and time.monotonic() - started >= 0.95 * timeout_s:
                raise ToolTimeoutError(
                    f"no answer within {timeout_s:.3g} s", tool=qualified
                ) from exc
            if exc.code == INVALID_PARAMS:  # refused before running: the same call fails again
                raise ToolArgumentError(
                    f"MCP error {exc.code}: {exc.message}", tool=qualified
                ) from exc
            raise ToolCallError(f"MCP error {exc.code}: {exc.message}", tool=qualified) from exc
        except RuntimeError as exc:
            # The SDK checks structuredContent against the listed outputSchema itself.
            if "structured content" in str(exc):
                raise MalformedOutputError(str(exc), tool=qualified) from exc
            raise ToolCallError(f"{type(exc).__name__}: {exc}", tool=qualified) from exc
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, ConnectionError) as exc:
            raise self._lost(qualified) from exc

    def _lost(self, qualified: str, *, refused: bool = False) -> ToolUnavailableError:
        """The session ended under a call: a connection lost mid-call (it may have taken
        effect), or, for an HTTP server that refused the call's connection, a server down that
        never received it (so a tool not safe to repeat may still be rerouted)."""
        why = "refused the call's connection" if refused else "the connection was lost mid-call"
        if self.session is not None or self.breaker.state != STATE_OPEN:
            self._crashed(why)
        self.stop()
        tail = self.stderr_tail()
        detail = f"; stderr: {tail}" if tail else ""
        if refused:
            return ToolUnavailableError(
                f"server {self.name} refused the connection, so the call was not delivered",
                tool=qualified,
            )
        return ConnectionLostError(
            f"connection to server {self.name} lost mid-call, so the call may have taken "
            f"effect{detail}",
            tool=qualified,
        )


class _Refusals:
    """The ``tools/call`` requests an HTTP server refused the connection of, by tool and
    arguments, and when: the SDK reports a refused POST as the session's end, as it does a
    connection lost mid-call, but a refused connection delivered nothing. Only the call's own
    POST counts: a refusal of another request (another call's, the SDK's reconnecting event
    stream) says nothing of whether this one arrived."""

    def __init__(self) -> None:
        self._at: dict[tuple[str, str], float] = {}

    def refused(self, tool: str, arguments: Any, *, since: float) -> bool:
        return self._at.get(_call_key(tool, arguments), -math.inf) >= since

    def note(self, request: httpx2.Request) -> None:
        """Keep when ``request``, if it is a ``tools/call``, was refused."""
        key = _refused_call(request)
        if key is not None:
            self._at[key] = time.monotonic()

    def watching(self, inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        refusals = self

        class Watched(httpx2.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
                try:
                    return await inner.handle_async_request(request)
                except httpx2.ConnectError:
                    refusals.note(request)
                    raise

            async def aclose(self) -> None:
                await inner.aclose()

        return Watched()


def _call_key(tool: str, arguments: Any) -> tuple[str, str]:
    return tool, json.dumps(arguments, sort_keys=True, default=str)


def _refused_call(request: httpx2.Request) -> tuple[str, str] | None:
    """The tool and arguments of a ``tools/call`` POST, as ``_call_key`` keys them."""
    try:
        message = json.loads(request.content)
    except (ValueError, httpx2.RequestNotRead):
        return None
    if not isinstance(message, dict) or message.get("method") != "tools/call":
        return None
    params = message.get("params")
    if not isinstance(params, dict) or not isinstance(params.get("name"), str):
        return None
    return _call_key(params["name"], params.get("arguments") or {})


def _relist_on_change(relist: MemoryObjectSendStream[None]) -> MessageHandlerFnT:
    """The session's message handler: a ``tools/list_changed`` asks for one more listing. It
    must not list itself: it runs in the session's receive loop, which the answer needs."""

    async def notified(message: IncomingMessage) -> None:
        if isinstance(message, ToolListChangedNotification):
            # When a listing is already asked for, it will see this change too.
            with suppress(anyio.WouldBlock):
                relist.send_nowait(None)

    return notified


def _unstartable(spec: ServerSpec) -> str | None:
    """Why the server cannot be started as configured, said in the config's terms (a missing
    working directory had read as "command not found")."""
    if spec.unsupported is not None:
        return spec.unsupported
    if spec.command is not None and spec.cwd is not None and not Path(spec.cwd).is_dir():
        return f"its working directory {spec.cwd} (the 'cwd' field) does not exist"
    return None


async def _list_tools(session: ClientSession) -> list[Tool]:
    """Every tool the server lists, following ``nextCursor`` pagination."""
    tools: list[Tool] = []
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        params = PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools
    # Converted by start() into an McpServerError naming the server.
    raise RuntimeError(f"tools/list did not end after {_MAX_PAGES} pages")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    if isinstance(exc, McpServerError):
        return exc.reason
    if isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED:
        return "the server closed the connection during startup (exited or crashed)"
    if isinstance(exc, FileNotFoundError):
        return f"command not found ({exc.filename or exc})"
    if isinstance(exc, ValidationError):
        return _invalid_answer(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _invalid_answer(exc: ValidationError) -> str:
    """An answer the SDK refused, on one line naming what is wrong where: a tool without an
    ``inputSchema`` had read as pydantic's multi-line dump, with a link to its docs."""
    problems = []
    for error in exc.errors()[:3]:
        where = list(error["loc"])
        named = ""
        if len(where) >= 2 and where[0] == "tools" and isinstance(where[1], int):
            # The tool's name, when the value pydantic quotes is the tool itself.
            quoted = error.get("input")
            if error["type"] == "missing" and isinstance(quoted, dict) and "name" in quoted:
                named = f" ({quoted['name']!r})"
            where = [f"tool {where[1]}{named}", *where[2:]]
        head, *rest = [str(w) for w in where] or ["the answer"]
        field = f"{head}: {'.'.join(rest)}" if rest else head  # "tool 1 ('bare'): inputSchema"
        problems.append(f"{field}: {error['msg']}")
    more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    return f"the server's {exc.title} is not valid MCP: {'; '.join(problems)}{more}"
