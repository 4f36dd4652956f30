"""Effective edge weights: a tool's declared and observed condition applied to an edge's cost.

``Weights`` is the ``(u, v, data) -> float | None`` callable networkx's shortest-path functions
accept; returning ``None`` hides the edge, which is how failed or open-circuit tools are masked
without mutating the graph. The formula is documented in ``orchestrator.graph._policy``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.graph._graph import ToolGraph, ToolNode
from orchestrator.graph._policy import GraphPolicy

__all__ = ["EdgeCost", "ToolStats", "Weights"]


@dataclass
class ToolStats:
    """What execution has observed of one tool, as moving averages seeded by its declared hints."""

    latency_ms: float
    failure_rate: float
    pressure: float = 0.0
    last_latency_ms: float | None = None
    calls: int = 0
    failures: int = 0
    # Clock reading (``Executor``'s clock) when the averages were last moved: by a call, or by
    # ``recover``. None before any call.
    observed_at: float | None = None

    @classmethod
    def prior(cls, node: ToolNode) -> ToolStats:
        """Stats before any observation: the graph's declared latency and reliability."""
        return cls(latency_ms=node.latency_ms, failure_rate=1.0 - node.reliability)

    def recover(self, node: ToolNode, now: float, half_life_s: float) -> None:
        """Let failures and rate-limit pressure fade toward what ``node`` declares, halving their
        excess every ``half_life_s`` seconds since the last observation.

        Why: a tool that failed is weighed down, routes then prefer its alternatives, and a tool
        nobody calls is never observed again; without forgetting, one bad minute would divert
        its calls for as long as the process lives. Fading lets it win a route again once its
        excess cost falls below its alternatives', and that call is the trial that tells.
        """
        if self.observed_at is None or now <= self.observed_at:
            return
        keep = 0.5 ** ((now - self.observed_at) / half_life_s)
        prior = 1.0 - node.reliability
        self.failure_rate = prior + keep * (self.failure_rate - prior)
        self.pressure *= keep
        self.observed_at = now

    def observe(
        self,
        *,
        latency_ms: float | None,
        failed: bool,
        rate_limited: bool,
        alpha: float,
        now: float | None = None,
    ) -> None:
        """Fold one call's outcome into the averages (``alpha`` is the newest call's weight),
        observed at clock reading ``now``."""
        if now is not None:
            self.observed_at = now
        self.calls += 1
        self.failures += int(failed)
        if latency_ms is not None:
            self.last_latency_ms = latency_ms
            self.latency_ms += alpha * (latency_ms - self.latency_ms)
        self.failure_rate += alpha * (float(failed) - self.failure_rate)
        self.pressure += alpha * (float(rate_limited) - self.pressure)


@dataclass(frozen=True)
class EdgeCost:
    """One edge's weight and the factors it is made of, for explanations."""

    source: str
    target: str
    base: float
    price: float
    latency_factor: float
    reliability_factor: float
    pressure_factor: float
    weight: float
    floor: float | None = None  # the policy's min_tool_cost, when it replaced base + price

    def describe(self) -> str:
        floor = f", at least {self.floor:.3g}" if self.floor is not None else ""
        return (
            f"{self.source} -> {self.target}: ({self.base:.3g} + price {self.price:.3g}{floor})"
            f" x latency {self.latency_factor:.3f} x 1/reliability {self.reliability_factor:.3f}"
            f" x pressure {self.pressure_factor:.3f} = {self.weight:.4g}"
        )


_NEUTRAL = (0.0, 1.0, 1.0, 1.0)


class Weights:
    """The weight callable for one routing decision.

    Parameters
    ----------
    graph
        The tool graph.
    policy
        Formula constants.
    stats
        Observed conditions by tool; tools without an entry use their declared hints.
    masked
        Tools to hide: every edge into them weighs ``None``.
    """

    def __init__(
        self,
        graph: ToolGraph,
        policy: GraphPolicy | None = None,
        stats: Mapping[str, ToolStats] | None = None,
        masked: Collection[str] = (),
    ) -> None:
        self.graph = graph
        self.policy = policy or GraphPolicy()
        self.stats = stats or {}
        self.masked = frozenset(masked)
        self._nodes = graph.digraph.nodes
        # Per-target (price term, latency, reliability, pressure factors), computed once per node.
        self._factors: dict[str, tuple[float, float, float, float]] = {}
        self._assumed: Mapping[str, tuple[float, float, float, float]] = {}

    def assume(self, factors: Mapping[str, tuple[float, float, float, float]]) -> None:
        """Take ``factors`` for every node not computed yet.

        For ``GoalBound``, which computes the nodes whose observations changed since its snapshot
        first, so the rest are exactly its snapshot; it saves recomputing them on every route.
        """
        self._assumed = factors

    def factors(self, target: str) -> tuple[float, float, float, float]:
        """(price term, latency, reliability, pressure factors) of edges into ``target``."""
        cached = self._factors.get(target) or self._assumed.get(target)
        if cached is not None:
            return cached
        node: ToolNode = self._nodes[target]["node"]
        if not node.is_tool:
            result = _NEUTRAL
        else:
            p = self.policy
            stats = self.stats.get(target) or ToolStats.prior(node)
            reliability = max(p.min_reliability, 1.0 - stats.failure_rate)
            result = (
                p.price_weight * node.price,
                1.0 + p.latency_weight * stats.latency_ms / p.latency_ref_ms,
                1.0 / reliability,
                1.0 + p.pressure_weight * stats.pressure,
            )
        self._factors[target] = result
        return result

    def base(self, target: str, cost: float, price: float) -> float:
        """The base of an edge into ``target``: its cost plus the price charged, at least the
        policy's ``min_tool_cost`` into a tool, so the tool's condition still scales it."""
        base = cost + price
        floor = self.policy.min_tool_cost
        # Every edge of every route search comes here: the node is looked up only for a base
        # under the floor, which few edges have.
        if base >= floor or not self._nodes[target]["node"].is_tool:
            return base
        return floor

    def __call__(self, source: str, target: str, data: Mapping[str, Any]) -> float | None:
        if target in self.masked:
            return None
        price, latency, reliability, pressure = self.factors(target)
        return self.base(target, float(data["cost"]), price) * latency * reliability * pressure

    def breakdown(self, source: str, target: str, *, price: bool = True) -> EdgeCost:
        """The weight of ``source -> target`` and its factors (the edge must exist).
        ``price=False``: without the target's price, for a join's inputs after the first, since
        a step is paid once however many inputs it waits for."""
        base = float(self.graph.digraph.edges[source, target]["cost"])
        charged, latency, reliability, pressure = self.factors(target)
        price_term = charged if price else 0.0
        # The floor, like the price, is charged once per step: with its first input.
        floored = self.base(target, base, price_term) if price else base
        return EdgeCost(
            source=source,
            target=target,
            base=base,
            price=price_term,
            latency_factor=latency,
            reliability_factor=reliability,
            pressure_factor=pressure,
            weight=floored * latency * reliability * pressure,
            floor=floored if floored != base + price_term else None,
        )
