"""Per-step reasoning effort: the step model, its features, the learned router and the replay
evaluation behind ``orchestrator effort replay``."""

from orchestrator.effort._features import SIGNALS, TextEncoder, signals
from orchestrator.effort._policy import EffortPolicy, EffortPrior
from orchestrator.effort._replay import (
    Outcome,
    PolicyResult,
    ReplayReport,
    ReplayStep,
    fit_and_replay,
    read_replay,
    replay,
    training_observations,
    write_choices,
)
from orchestrator.effort._router import EffortRouter, Estimate, Observation
from orchestrator.effort._step import Effort, Step

__all__ = [
    "SIGNALS",
    "Effort",
    "EffortPolicy",
    "EffortPrior",
    "EffortRouter",
    "Estimate",
    "Observation",
    "Outcome",
    "PolicyResult",
    "ReplayReport",
    "ReplayStep",
    "Step",
    "TextEncoder",
    "fit_and_replay",
    "read_replay",
    "replay",
    "signals",
    "training_observations",
    "write_choices",
]
