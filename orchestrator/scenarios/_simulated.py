"""Simulated tools: an invoker that answers every tool of a graph with a schema-valid output."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import anyio

from orchestrator.catalog import Skill
from orchestrator.errors import ToolUnavailableError
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
    """Every tool of ``graph`` succeeds at once (``latency_scale`` > 0 sleeps for a fraction of
    its declared latency), returning ``sample_output`` for its outputs schema."""

    def __init__(self, graph: ToolGraph, *, latency_scale: float = 0.0) -> None:
        tools = [graph.node(t) for t in graph.tools()]
        self._outputs = {t.name: sample_output(t.name, t.outputs) for t in tools}
        self._latency_ms = {t.name: t.latency_ms for t in tools}
        self.latency_scale = latency_scale

    @classmethod
    def for_skills(cls, skills: Iterable[Skill], *, latency_scale: float = 0.0) -> SimulatedInvoker:
        """Simulate every skill of a catalog, whatever graph a plan makes of them."""
        graph = ToolGraph(start="Start", goal="Done", name="catalog")
        for skill in skills:
            graph.add_tool(skill)
        return cls(graph, latency_scale=latency_scale)

    async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        try:
            output = self._outputs[tool]
        except KeyError:
            raise ToolUnavailableError("not a simulated tool", tool=tool) from None
        if self.latency_scale > 0:
            await anyio.sleep(self._latency_ms[tool] * self.latency_scale / 1000.0)
        return dict(output)
