"""The effort section of a policy: the levels, the router's model and its priors."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["EffortPolicy", "EffortPrior"]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EffortPrior(_Section):
    """What the router assumes per level before it has seen outcomes, and the pseudo-count with
    which it shrinks sparse neighbourhoods towards the observed per-level rate."""

    success: dict[str, float] = {"low": 0.6, "medium": 0.8, "high": 0.9}
    tokens: dict[str, float] = {"low": 300.0, "medium": 1000.0, "high": 3000.0}
    strength: float = Field(default=2.0, ge=0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _in_range(self) -> EffortPrior:
        """A chance is in [0, 1] and a token count finite and >= 0: a success of 1.7 or a NaN
        count had been accepted, and a NaN made every later choice fail with a misleading
        message."""
        for level, chance in self.success.items():
            if not 0.0 <= chance <= 1.0:
                raise ValueError(f"prior.success.{level} = {chance}: expected a chance in [0, 1]")
        for level, count in self.tokens.items():
            if not (math.isfinite(count) and count >= 0):
                raise ValueError(f"prior.tokens.{level} = {count}: expected a finite count >= 0")
        return self


class EffortPolicy(_Section):
    """How the effort router models a step and trades tokens against success."""

    levels: tuple[str, ...] = ("low", "medium", "high")
    model: Literal["knn", "logistic"] = "knn"
    features: Literal["text", "signals"] = Field(
        default="text", description="text: MiniLM embedding of the step plus signals."
    )
    neighbours: int = Field(default=25, ge=1)
    l2: float = Field(default=1.0, ge=0.0, description="Logistic model's ridge penalty.")
    signal_weight: float = Field(
        default=0.5, ge=0.0, description="Weight of the numeric signals beside the text (knn)."
    )
    failure_cost_tokens: float = Field(
        default=50000.0,
        ge=0.0,
        allow_inf_nan=False,
        description="What a failed step costs, in tokens, when deciding to stop escalating.",
    )
    max_attempts: int = Field(default=3, ge=1, description="Efforts tried per step, at most.")
    max_observations: int = Field(
        default=50000,
        ge=1,
        description="Outcomes kept to fit on, the most recent: a router learning from every run "
        "of a long-lived agent stays bounded in memory and fitting time, and follows change.",
    )
    prior: EffortPrior = EffortPrior()

    @model_validator(mode="after")
    def _levels_are_known(self) -> EffortPolicy:
        if len(set(self.levels)) != len(self.levels) or not self.levels:
            raise ValueError(f"levels {list(self.levels)}: expected distinct names, cheapest first")
        for table in ("success", "tokens"):
            missing = set(self.levels) - set(getattr(self.prior, table))
            if missing:
                raise ValueError(f"prior.{table}: no value for levels {sorted(missing)}")
        return self
