"""Simulated tools: an invoker that answers every tool of a graph or catalog with a schema-valid
output."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import anyio

from orchestrator.catalog import Skill
from orchestrator.errors import ToolUnavailableError
from orchestrator.execution import ArgumentRefusal
from orchestrator.graph import ToolGraph

__all__ = ["SimulatedInvoker", "sample_output"]

_SAMPLES: dict[str, Any] = {
    "string": "simulated",
    "integer": 1,
    "number": 1.0,
    "boolean": True,
    "array": [],
    "object": {},
    "null": None,
}


def sample_output(tool: str, schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"ok": true, "tool": ...}`` plus a sample value for every required property."""
    output: dict[str, Any] = {"ok": True, "tool": tool}
    if not schema:
        return output
    properties = schema.get("properties") or {}
    for name in schema.get("required") or []:
        if name in output:
            continue
        prop = properties.get(name) or {}
        if "const" in prop:
            output[name] = prop["const"]
        elif "enum" in prop:
            output[name] = prop["enum"][0]
        else:
            kind = prop.get("type", "string")
            output[name] = _SAMPLES.get(kind if isinstance(kind, str) else kind[0], "simulated")
    return output


class SimulatedInvoker:
    """Every tool of ``tools`` succeeds at once (``latency_scale`` > 0 sleeps for a fraction of
    its declared latency), returning ``sample_output`` for its outputs schema.

    ``tools`` is a tool graph (its tool nodes) or a catalog's skills (whatever graph a plan makes
    of them); a tool's output is built on its first call.
    """

    def __init__(self, tools: ToolGraph | Iterable[Skill], *, latency_scale: float = 0.0) -> None:
        if isinstance(tools, ToolGraph):
            nodes = [tools.node(t) for t in tools.tools()]
            described = [(n.name, n.outputs, n.latency_ms) for n in nodes]
        else:
            described = [(s.id, s.outputs, s.latency_ms) for s in tools]
        self._schemas = {name: outputs for name, outputs, _ in described}
        self._latency_ms = {name: latency for name, _, latency in described}
        self._outputs: dict[str, dict[str, Any]] = {}
        self.latency_scale = latency_scale

    def refusal(self, tool: str, names: Collection[str]) -> ArgumentRefusal | None:
        """Any arguments will do for a simulated tool; a tool not simulated cannot be called."""
        return None if tool in self._schemas else ArgumentRefusal("not a simulated tool")

    async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        if tool not in self._schemas:
            raise ToolUnavailableError("not a simulated tool", tool=tool)
        output = self._outputs.get(tool)
        if output is None:
            output = self._outputs[tool] = sample_output(tool, self._schemas[tool])
        if self.latency_scale > 0:
            await anyio.sleep(self._latency_ms[tool] * self.latency_scale / 1000.0)
        return dict(output)
