"""The graph section of a policy: how a tool's condition turns an edge's base cost into a weight.

    weight(u -> v) = max(min_tool_cost, cost(u, v) + price_weight * price(v))
                     * (1 + latency_weight * latency_ms(v) / latency_ref_ms)
                     * 1 / max(min_reliability, reliability(v))
                     * (1 + pressure_weight * pressure(v))

``latency_ms``, ``reliability`` and ``pressure`` start from what the graph declares and then follow
exponential moving averages (factor ``ewma_alpha``) of what execution observes. Observed failures
and pressure fade back toward the declared values while a tool goes uncalled (half-life
``recovery_half_life_s``), so a tool avoided after a bad spell is tried again. Edges into a state
(start, goal, join points) that is not a tool keep their base cost.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["GraphPolicy"]


class GraphPolicy(BaseModel):
    """Weight formula constants and how fast observed conditions move the weights."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_tool_cost: float = Field(
        default=0.001,
        ge=0.0,
        description="Floor of the base (edge cost plus price) of an edge into a tool: at 0, a "
        "free edge into a free tool weighs 0 whatever the tool's latency, reliability or "
        "observed failures, and a failing tool is routed to as readily as a sound one.",
    )
    price_weight: float = Field(default=1.0, ge=0.0, description="Cost units per unit of price.")
    latency_ref_ms: float = Field(default=1000.0, gt=0.0, description="Latency that adds 1x.")
    latency_weight: float = Field(default=1.0, ge=0.0)
    min_reliability: float = Field(
        default=0.05, gt=0.0, le=1.0, description="Floor of the reliability divisor."
    )
    pressure_weight: float = Field(
        default=4.0, ge=0.0, description="Extra factor at full rate-limit pressure."
    )
    ewma_alpha: float = Field(
        default=0.3, gt=0.0, le=1.0, description="Weight of the newest observation."
    )
    recovery_half_life_s: float | None = Field(
        default=60.0,
        gt=0.0,
        description="Observed failures and rate-limit pressure lose half their weight in this "
        "many seconds without a call; null keeps them until the next call.",
    )
