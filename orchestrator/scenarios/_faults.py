"""Fault injection as a wrapper around any invoker, as httpx's ``MockTransport`` is a transport.

``FaultInjector(inner, faults, seed=...)`` is itself an ``Invoker``: it decides, per call, whether
a fault applies (after ``after`` successful calls of the tool, for ``times`` calls) and otherwise
passes the call through. Flaky faults draw from a generator seeded by the scenario's seed.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import anyio

from orchestrator.errors import (
    RateLimitedError,
    ToolArgumentError,
    ToolCallError,
    ToolUnavailableError,
)
from orchestrator.execution import ArgumentRefusal, Invoker, refusal_of, step_inputs
from orchestrator.scenarios._model import (
    DownFault,
    ErrorFault,
    FlakyFault,
    InjectedFault,
    LatencyFault,
    MalformedFault,
    MissingInputFault,
    RateLimitedFault,
    TimeoutFault,
)

__all__ = ["FaultInjector", "InjectedFault"]


class FaultInjector:
    """Wrap ``inner`` so that calls to the faulted tools fail as the faults say."""

    def __init__(self, inner: Invoker, faults: Sequence[InjectedFault], *, seed: int = 0) -> None:
        self.inner = inner
        self.faults = list(faults)
        self.seed = seed
        self.successes: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self._applied: Counter[int] = Counter()
        self._random: dict[str, random.Random] = {}

    def _active(self, tool: str) -> list[tuple[int, InjectedFault]]:
        found = []
        for i, fault in enumerate(self.faults):
            if fault.tool != tool or self.successes[tool] < fault.after:
                continue
            times = getattr(fault, "times", None)
            if times is not None and self._applied[i] >= times:
                continue
            found.append((i, fault))
        return found

    def _draw(self, tool: str) -> float:
        rng = self._random.get(tool)
        if rng is None:
            rng = self._random[tool] = random.Random(f"{self.seed}:{tool}")
        return rng.random()

    async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        self.calls[tool] += 1
        garble = False
        for i, fault in self._active(tool):
            if isinstance(fault, FlakyFault):
                if self._draw(tool) < fault.p:
                    raise ToolCallError("flaky failure (injected)", tool=tool)
                continue
            if isinstance(fault, MissingInputFault):
                given = step_inputs(arguments)
                absent = [name for name in fault.inputs if name not in given]
                if absent:
                    raise ToolArgumentError(
                        f"missing required input(s) {absent} (injected)", tool=tool, missing=absent
                    )
                continue
            self._applied[i] += 1
            if isinstance(fault, DownFault):
                raise ToolUnavailableError("connection refused (injected)", tool=tool)
            if isinstance(fault, ErrorFault):
                raise ToolCallError("internal error (injected)", tool=tool)
            if isinstance(fault, RateLimitedFault):
                retry_after = fault.retry_after_ms / 1000.0 if fault.retry_after_ms else None
                raise RateLimitedError("429 (injected)", tool=tool, retry_after=retry_after)
            if isinstance(fault, TimeoutFault):
                await anyio.sleep_forever()
            if isinstance(fault, LatencyFault):
                await anyio.sleep(fault.ms / 1000.0)
            if isinstance(fault, MalformedFault):
                garble = True
        output = await self.inner.invoke(tool, arguments)
        if garble:
            return {"garbled": True}  # a failed call: no success for a later fault's ``after``
        self.successes[tool] += 1
        return output

    def refusal(self, tool: str, names: Collection[str]) -> ArgumentRefusal | None:
        """The wrapped invoker's answer: faults strike at call time, not before."""
        return refusal_of(self.inner, tool, names)

    async def probe(self, tool: str) -> bool:
        """Healthy unless a ``down`` fault is in force for the tool."""
        return not any(isinstance(f, DownFault) for _, f in self._active(tool))
