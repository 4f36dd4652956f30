"""Health monitors: score each tool's condition (down, rate-limit pressure, latency spike, risk).

Monitors are pure functions of what is known about a tool; the executor runs them beside
execution on a timer and after every step. A ``down`` condition masks the tool before anyone calls
it. Rate-limit pressure and latency spikes act through the weights: they are read from the same
moving averages (``ToolStats.pressure``, ``ToolStats.latency_ms``) the weight formula multiplies
by, so a tool under either costs more and routes prefer its alternatives; the executor logs each
such condition once per run as a ``monitor`` decision with the factor it now weighs. A ``risk``
condition is logged when a risky tool is about to be called.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from orchestrator.execution._breaker import STATE_OPEN, CircuitBreaker
from orchestrator.execution._policy import MonitorPolicy
from orchestrator.graph import ToolNode, ToolStats

__all__ = [
    "DEFAULT_MONITORS",
    "Condition",
    "ConditionKind",
    "HealthMonitor",
    "LatencySpikeMonitor",
    "RateLimitMonitor",
    "RiskMonitor",
    "ToolDownMonitor",
    "assess",
]

ConditionKind = Literal["down", "rate_limit_pressure", "latency_spike", "risk"]


@dataclass(frozen=True)
class Condition:
    """A scored condition of one tool; lower ``priority`` is more urgent, ``score`` is 0..1."""

    kind: ConditionKind
    tool: str
    score: float
    priority: int
    detail: str


class HealthMonitor(Protocol):
    def assess(
        self, node: ToolNode, stats: ToolStats, breaker: CircuitBreaker, policy: MonitorPolicy
    ) -> Condition | None: ...


class ToolDownMonitor:
    """A tool whose breaker is open is down until its recovery probe succeeds."""

    def assess(
        self, node: ToolNode, stats: ToolStats, breaker: CircuitBreaker, policy: MonitorPolicy
    ) -> Condition | None:
        if breaker.state != STATE_OPEN:
            return None
        return Condition("down", node.name, 1.0, 0, breaker.opened_because)


class RateLimitMonitor:
    """Recent calls were refused for rate limits often enough to matter."""

    def assess(
        self, node: ToolNode, stats: ToolStats, breaker: CircuitBreaker, policy: MonitorPolicy
    ) -> Condition | None:
        if stats.pressure < policy.pressure_threshold:
            return None
        detail = f"rate-limit pressure {stats.pressure:.2f}"
        return Condition("rate_limit_pressure", node.name, stats.pressure, 1, detail)


class LatencySpikeMonitor:
    """The last call took several times the tool's moving-average latency."""

    def assess(
        self, node: ToolNode, stats: ToolStats, breaker: CircuitBreaker, policy: MonitorPolicy
    ) -> Condition | None:
        last = stats.last_latency_ms
        if last is None or stats.latency_ms <= 0 or last < policy.latency_spike_min_ms:
            return None
        ratio = last / stats.latency_ms
        if ratio < policy.latency_spike_factor:
            return None
        score = min(1.0, ratio / (2 * policy.latency_spike_factor))
        if stats.calls <= 1:  # the average is still mostly the declared latency: say that
            detail = f"last call {last:.1f} ms vs {node.latency_ms:.1f} ms declared"
        else:
            detail = f"last call {last:.1f} ms vs average {stats.latency_ms:.1f} ms"
        return Condition("latency_spike", node.name, score, 2, detail)


class RiskMonitor:
    """The graph declares the tool risky (irreversible, costly side effects)."""

    def assess(
        self, node: ToolNode, stats: ToolStats, breaker: CircuitBreaker, policy: MonitorPolicy
    ) -> Condition | None:
        if node.risk < policy.risk_threshold:
            return None
        return Condition("risk", node.name, node.risk, 3, f"declared risk {node.risk:.2f}")


DEFAULT_MONITORS: tuple[HealthMonitor, ...] = (
    ToolDownMonitor(),
    RateLimitMonitor(),
    LatencySpikeMonitor(),
    RiskMonitor(),
)


def assess(
    monitors: Sequence[HealthMonitor],
    nodes: Iterable[ToolNode],
    stats: Mapping[str, ToolStats],
    breakers: Mapping[str, CircuitBreaker],
    policy: MonitorPolicy,
) -> list[Condition]:
    """Every condition the monitors raise, most urgent first."""
    found = []
    for node in nodes:
        if not node.is_tool:
            continue
        node_stats = stats.get(node.name) or ToolStats.prior(node)
        breaker = breakers.get(node.name) or CircuitBreaker()
        for monitor in monitors:
            condition = monitor.assess(node, node_stats, breaker, policy)
            if condition is not None:
                found.append(condition)
    return sorted(found, key=lambda c: (c.priority, -c.score, c.tool))
