"""Calibrate the no-fit model on your own labelled queries.

The shipped fit model (weights, bias, threshold in ``policies/default.yaml``) was fitted on
BFCL and the sample catalog with the packaged MiniLM. Its inputs are cosines and coverage
shares, whose scale moves with the embedder and the catalog: after ``orchestrator train
embedder``, or on a catalog unlike those, "nothing fits" needs refitting on queries from the
catalog's own users, some of which nothing in it fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from orchestrator.errors import TrainingError
from orchestrator.routing._policy import NoFitPolicy
from orchestrator.routing._rerank import FIT_FEATURES, fit_logistic
from orchestrator.routing._router import SkillRouter
from orchestrator.routing._training import LabelledQuery, check_gold

__all__ = ["MIN_QUERIES_PER_CLASS", "NoFitCalibration", "calibrate_no_fit"]

MIN_QUERIES_PER_CLASS = 5
"""Fewer queries of either kind than this give a threshold that is mostly chance."""


@dataclass(frozen=True, slots=True)
class NoFitCalibration:
    """A fitted no-fit model and how it splits the queries it was fitted on (in-sample shares:
    judge it on other queries before trusting them)."""

    policy: NoFitPolicy
    relevant: int
    """Queries some skill fits (non-empty gold)."""
    unrelated: int
    """Queries nothing fits (empty gold)."""
    relevant_fit: float
    """Share of the relevant queries whose result keeps ``fits``."""
    unrelated_flagged: float
    """Share of the unrelated queries flagged ``fits=false``."""


def calibrate_no_fit(
    router: SkillRouter,
    labelled: Sequence[LabelledQuery],
    *,
    keep: float = 0.97,
    l2: float = 1e-2,
) -> NoFitCalibration:
    """Fit the no-fit model's weights and bias on ``labelled`` queries routed by ``router``,
    then set the threshold so that ``keep`` of the queries some skill fits keep ``fits``.

    Both kinds of query weigh the same in the fit, so their ratio in the file does not decide
    the trade-off; ``keep`` does (the shipped model keeps 0.97 of BFCL's relevant non-live
    queries). Deterministic: the same router and queries give the same model.

    Raises
    ------
    TrainingError
        ``keep`` out of (0, 1], a gold id not in the catalog, or fewer than
        :data:`MIN_QUERIES_PER_CLASS` queries with gold skills or without.
    """
    if not 0.0 < keep <= 1.0:
        raise TrainingError(f"keep must be in (0, 1], got {keep}")
    check_gold(router, labelled)
    relevant = [q.query for q in labelled if q.gold]
    unrelated = [q.query for q in labelled if not q.gold]
    if min(len(relevant), len(unrelated)) < MIN_QUERIES_PER_CLASS:
        raise TrainingError(
            f"calibrating the no-fit model needs at least {MIN_QUERIES_PER_CLASS} queries with "
            f'gold skills and {MIN_QUERIES_PER_CLASS} that nothing fits ("gold": []), got '
            f"{len(relevant)} and {len(unrelated)}"
        )
    x_fit = router.fit_evidence(relevant)
    x_unrelated = router.fit_evidence(unrelated)
    x = np.vstack([x_fit, x_unrelated])
    y = np.concatenate([np.ones(len(relevant)), np.zeros(len(unrelated))])
    weight = np.concatenate(
        [np.full(len(relevant), 0.5 / len(relevant)), np.full(len(unrelated), 0.5 / len(unrelated))]
    )
    w, b = fit_logistic(x, y, l2=l2, sample_weight=weight * len(x))
    weights = {f: round(float(v), 5) for f, v in zip(FIT_FEATURES, w, strict=True)}
    bias = round(b, 5)
    w_rounded = np.asarray([weights[f] for f in FIT_FEATURES])

    def probability(rows: np.ndarray) -> np.ndarray:
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(rows @ w_rounded + bias, -40, 40))))

    p_fit, p_unrelated = probability(x_fit), probability(x_unrelated)
    # The lower quantile, rounded down: at least ``keep`` of the relevant queries fit.
    threshold = float(np.floor(np.quantile(p_fit, 1.0 - keep, method="lower") * 1e4) / 1e4)
    return NoFitCalibration(
        policy=NoFitPolicy(threshold=threshold, weights=weights, bias=bias),
        relevant=len(relevant),
        unrelated=len(unrelated),
        relevant_fit=float(np.mean(p_fit >= threshold)),
        unrelated_flagged=float(np.mean(p_unrelated < threshold)),
    )
