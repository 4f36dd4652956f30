"""The one way the executor invokes a tool: an ``Invoker``.

A Python callable, an MCP session or a scenario's simulated tool is each one implementation, and
fault injection wraps any of them (as httpx's ``MockTransport`` is one transport among others).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, runtime_checkable

from orchestrator._threads import in_daemon_thread
from orchestrator.errors import ToolBusyError, ToolNotServedError

__all__ = [
    "AbandonedCalls",
    "ArgumentRefusal",
    "CallableInvoker",
    "CheckingInvoker",
    "CompositeInvoker",
    "EffortInvoker",
    "Invoker",
    "ProbingInvoker",
    "Reasoned",
    "invoke_at",
    "refusal_of",
    "step_inputs",
    "takes_effort_of",
]


@runtime_checkable
class Invoker(Protocol):
    """Calls a tool by name with its arguments and returns its output, or raises ``ToolFailure``.

    Any other exception is classified by the executor (``TimeoutError`` as a timeout,
    ``ConnectionError`` as down, except a connection reset, aborted or a broken pipe: lost
    mid-call, so the call may have acted; anything else as an error).
    """

    async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any: ...


@runtime_checkable
class ProbingInvoker(Invoker, Protocol):
    """An invoker that can also check a tool's health without doing work (a recovery probe)."""

    async def probe(self, tool: str) -> bool: ...


@runtime_checkable
class EffortInvoker(Invoker, Protocol):
    """An invoker whose calls reason (an agent step, an LLM-backed tool) and so take the effort
    the executor's effort router chose; ``invoke`` stays the call without one.

    To teach the router what each effort costs and achieves, return :class:`Reasoned` (the
    output and the tokens spent), and raise failures with ``tokens=`` (``ToolCallError("wrong
    answer", tool=..., tokens=812)``): the executor observes every call that reports tokens,
    except an answer the model gives at any effort (a ``ToolAnswerError``, such as a refusal),
    whose tokens it only logs.
    """

    async def invoke_with_effort(
        self, tool: str, arguments: Mapping[str, Any], effort: str
    ) -> Any: ...


@dataclass(frozen=True)
class Reasoned:
    """A reasoning call's output and the tokens it spent, as an ``EffortInvoker`` reports it.

    The executor passes ``output`` on (to validation, the next steps and the result) and records
    the call as an outcome for its effort router: the router can only weigh an effort's tokens
    against its success if calls say what they spent.
    """

    output: Any
    tokens: float


def step_inputs(arguments: Mapping[str, Any]) -> Mapping[str, Any]:
    """A step's own arguments: the run's ``inputs`` when the executor passes its envelope
    (``{"inputs": ..., "upstream": ...}``, both keys always), else the mapping itself (arguments
    already bound, as ``BindingInvoker`` passes them: ``{"inputs": {...}}`` alone is a tool's
    argument named ``inputs``)."""
    inputs = arguments.get("inputs")
    if isinstance(inputs, Mapping) and set(arguments) == {"inputs", "upstream"}:
        return inputs
    return arguments


@dataclass(frozen=True)
class ArgumentRefusal:
    """Why a tool cannot be called with some arguments: ``why`` in words, and ``missing``, the
    required arguments they leave out (what an input could supply; empty when that would not
    help, say because nothing serves the tool). ``served`` is false when nothing in the run can
    call the tool at all, whatever the arguments (no function, no server for it): a run leaves
    such a tool out of its graph rather than try it (``not_served``)."""

    why: str
    missing: tuple[str, ...] = ()
    served: bool = True

    @classmethod
    def not_served(cls, why: str) -> ArgumentRefusal:
        """The refusal of a tool nothing in the run can call."""
        return cls(why, served=False)


@runtime_checkable
class CheckingInvoker(Invoker, Protocol):
    """An invoker that can tell before any call whether a tool can be called with arguments of
    these ``names`` (None: it can, or the invoker cannot tell). A run over such an invoker
    that would be stopped half-way by a step no tool can be called for does not start."""

    def refusal(self, tool: str, names: Collection[str]) -> ArgumentRefusal | None: ...


def refusal_of(invoker: Invoker, tool: str, names: Collection[str]) -> ArgumentRefusal | None:
    """What ``invoker`` can tell before a call (``CheckingInvoker.refusal``); None when it
    cannot tell: for invokers that wrap another one and add nothing to its answer."""
    return invoker.refusal(tool, names) if isinstance(invoker, CheckingInvoker) else None


def takes_effort_of(invoker: Invoker, tool: str) -> bool:
    """Whether ``tool``'s calls through ``invoker`` take a reasoning effort: an
    ``EffortInvoker``'s do, unless it says otherwise for the tool (a ``takes_effort(tool)``
    method, as invokers that route or wrap others have). A plain function given an effort
    router beside LLM-backed tools had its retries turned into effort escalations, none left
    after "high", and a transient error escalated the run."""
    says = getattr(invoker, "takes_effort", None)
    if callable(says):
        return bool(says(tool))
    return isinstance(invoker, EffortInvoker)


async def invoke_at(invoker: Invoker, tool: str, arguments: Mapping[str, Any], effort: str) -> Any:
    """Call ``tool`` through ``invoker`` at ``effort`` when it takes one (``EffortInvoker``),
    else without: for invokers that wrap another one and pass the effort on."""
    if isinstance(invoker, EffortInvoker):
        return await invoker.invoke_with_effort(tool, arguments, effort)
    return await invoker.invoke(tool, arguments)


class AbandonedCalls:
    """Sync tool calls abandoned (by a timeout, or no longer needed) that still run in their
    threads, counted by tool. Shared by the invokers of several runs (an ``Orchestrator`` builds
    one invoker per run), so a call one run left running keeps the next run from starting it
    again beside it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[str, int] = {}


class CallableInvoker:
    """Invoke plain Python callables, sync or async, each taking the arguments mapping.

    Sync callables run in a thread of their own (``threaded=True``) so that a step timeout can
    abandon them; pass ``threaded=False`` for cheap pure functions. A thread cannot be stopped:
    a call abandoned by a timeout (or no longer needed) runs on, and until it ends the function
    is not called again (its next call fails as busy, so it is rerouted instead of run twice at
    once); pass ``abandoned`` to share that record with other invokers.
    """

    def __init__(
        self,
        tools: Mapping[str, Callable[[Mapping[str, Any]], Any]],
        *,
        threaded: bool = True,
        abandoned: AbandonedCalls | None = None,
    ) -> None:
        self.tools = dict(tools)
        self.threaded = threaded
        self.abandoned = abandoned if abandoned is not None else AbandonedCalls()

    async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        try:
            fn = self.tools[tool]
        except KeyError:
            raise ToolNotServedError("no callable registered", tool=tool) from None
        if inspect.iscoroutinefunction(fn):
            return await fn(arguments)
        if self.threaded:
            result = await self._in_thread(tool, partial(fn, arguments))
        else:
            result = fn(arguments)
        if inspect.isawaitable(result):
            return await result
        return result

    async def _in_thread(self, tool: str, call: Callable[[], Any]) -> Any:
        started = ended = abandoned = given_up = False
        ledger = self.abandoned

        def run() -> Any:
            nonlocal started, ended
            with ledger.lock:
                if given_up:  # cancelled before the thread got here: the call is not made
                    return None
                started = True
            try:
                return call()
            finally:
                with ledger.lock:
                    ended = True
                    if abandoned:
                        ledger.running[tool] -= 1

        with ledger.lock:
            if ledger.running.get(tool):
                raise ToolBusyError(
                    "its earlier call, abandoned (a timeout, or no longer needed), is still "
                    "running in its thread (a thread cannot be stopped); not called again "
                    "until it ends",
                    tool=tool,
                )
        try:
            return await in_daemon_thread(run, name=f"orchestrator tool {tool}")
        except BaseException:  # cancelled (a timeout, the run done): a started thread runs on
            with ledger.lock:
                given_up = True
                if started and not ended:
                    abandoned = True
                    ledger.running[tool] = ledger.running.get(tool, 0) + 1
            raise


class CompositeInvoker:
    """Send each tool to the invoker that serves it, the rest to ``default``: real functions for
    some tools and simulated or remote ones for the others, in one run."""

    def __init__(self, routes: Mapping[str, Invoker], default: Invoker | None = None) -> None:
        self.routes = dict(routes)
        self.default = default

    async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        return await self._serving(tool).invoke(tool, arguments)

    async def invoke_with_effort(self, tool: str, arguments: Mapping[str, Any], effort: str) -> Any:
        """Pass the effort on when the serving invoker takes one."""
        return await invoke_at(self._serving(tool), tool, arguments, effort)

    def takes_effort(self, tool: str) -> bool:
        """Whether the serving invoker takes an effort for ``tool``."""
        invoker = self.routes.get(tool, self.default)
        return invoker is not None and takes_effort_of(invoker, tool)

    def _serving(self, tool: str) -> Invoker:
        invoker = self.routes.get(tool, self.default)
        if invoker is None:
            raise ToolNotServedError("no invoker serves this tool", tool=tool)
        return invoker

    def refusal(self, tool: str, names: Collection[str]) -> ArgumentRefusal | None:
        """The serving invoker's answer, when it can tell."""
        invoker = self.routes.get(tool, self.default)
        if invoker is None:
            return ArgumentRefusal.not_served("no invoker serves this tool")
        return refusal_of(invoker, tool, names)
