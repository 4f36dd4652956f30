"""The execution section of a policy: timeouts, retries, breakers, monitors, escalation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "BreakerPolicy",
    "EscalationPolicy",
    "ExecutionPolicy",
    "MonitorPolicy",
    "RetryPolicy",
]

FailureName = Literal[
    "down", "error", "timeout", "malformed", "rate_limited", "bad_arguments", "tool_error"
]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RetryPolicy(_Section):
    """Bounded retries of transient failures: exponential backoff with jitter, capped."""

    max_attempts: int = Field(default=3, ge=1, description="Calls per step, the first included.")
    initial_s: float = Field(default=0.02, ge=0.0, description="Backoff before the first retry.")
    max_s: float = Field(default=2.0, ge=0.0, description="Cap of one backoff.")
    jitter_s: float = Field(default=0.01, ge=0.0)
    max_retry_after_s: float = Field(
        default=5.0, ge=0.0, description="A longer retry_after is treated as a hard failure."
    )
    transient: tuple[FailureName, ...] = ("error", "timeout", "rate_limited")

    @model_validator(mode="after")
    def _first_backoff_within_the_cap(self) -> RetryPolicy:
        if self.initial_s > self.max_s:
            raise ValueError(
                f"initial_s ({self.initial_s}) is more than max_s ({self.max_s}), the cap of "
                "every backoff"
            )
        return self


class BreakerPolicy(_Section):
    """Per-tool circuit breaker; pybreaker's defaults."""

    fail_max: int = Field(default=5, ge=1, description="Consecutive failures that open it.")
    reset_timeout_s: float = Field(default=60.0, gt=0.0, description="Open time before a probe.")


class MonitorPolicy(_Section):
    """Health monitors that score tool conditions beside execution."""

    interval_s: float = Field(default=0.05, gt=0.0, description="How often monitors run.")
    latency_spike_factor: float = Field(default=3.0, gt=1.0)
    latency_spike_min_ms: float = Field(
        default=10.0,
        ge=0.0,
        description="A call faster than this is no spike, whatever the ratio: against a tool "
        "declared at 0 ms, a 0.1 ms call was one.",
    )
    pressure_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    risk_threshold: float = Field(default=0.8, ge=0.0, le=1.0)


class EscalationPolicy(_Section):
    """When no path is left, how many times the escalation handler may be asked per run."""

    max_escalations: int = Field(default=2, ge=0)


class ExecutionPolicy(_Section):
    step_timeout_s: float = Field(default=30.0, gt=0.0, description="Unless the node sets one.")
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerPolicy = BreakerPolicy()
    monitors: MonitorPolicy = MonitorPolicy()
    escalation: EscalationPolicy = EscalationPolicy()
