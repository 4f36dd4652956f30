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
from orchestrator.routing._rerank import FIT_FEATURES, FitModel, fit_logistic
from orchestrator.routing._router import SkillRouter
from orchestrator.routing._training import LabelledQuery, check_gold

__all__ = [
    "MIN_QUERIES_PER_CLASS",
    "MIN_UNRELATED_TO_REFIT",
    "NoFitCalibration",
    "calibrate_no_fit",
]

MIN_QUERIES_PER_CLASS = 5
"""Fewer queries some skill fits than this give a threshold that is mostly chance."""

MIN_UNRELATED_TO_REFIT = 50
"""Unrelated queries needed before the weights are refitted by default: a judgment call, not a
measured optimum. Five weights and a bias fitted on a handful of negatives follow those few
queries; on the sample catalog, weights fitted on its 9 unrelated calibration queries did no
better on held-out queries than the shipped weights with a new threshold (one of 8 unrelated
queries worse at the same share fitting; ``bench/README.md``)."""


@dataclass(frozen=True, slots=True)
class NoFitCalibration:
    """A calibrated no-fit model and how it splits the queries it was calibrated on
    (in-sample shares: judge it on other queries before trusting them)."""

    policy: NoFitPolicy
    refitted: bool
    """Whether the weights were fitted anew (else the router's, with a new threshold)."""
    relevant: int
    """Queries some skill fits (non-empty gold)."""
    unrelated: int
    """Queries nothing fits (empty gold)."""
    relevant_fit: float
    """Share of the relevant queries whose result keeps ``fits``."""
    unrelated_flagged: float | None
    """Share of the unrelated queries flagged ``fits=false`` (None without any)."""


def calibrate_no_fit(
    router: SkillRouter,
    labelled: Sequence[LabelledQuery],
    *,
    keep: float = 0.97,
    refit_weights: bool | None = None,
    l2: float = 1e-2,
) -> NoFitCalibration:
    """Calibrate the no-fit model on ``labelled`` queries routed by ``router``: set the
    threshold so that ``keep`` of the queries some skill fits keep ``fits``, after fitting the
    weights and bias anew when ``refit_weights`` (by default: with at least
    :data:`MIN_UNRELATED_TO_REFIT` queries nothing fits; else the router's weights are kept).

    In a refit both kinds of query weigh the same, so their ratio in the file does not decide
    the trade-off; ``keep`` does (the shipped model keeps 0.97 of BFCL's relevant non-live
    queries). Deterministic: the same router and queries give the same model.

    Raises
    ------
    TrainingError
        ``keep`` out of (0, 1], a gold id not in the catalog, fewer than
        :data:`MIN_QUERIES_PER_CLASS` queries with gold skills, or, to refit, fewer than
        that many without.
    """
    if not 0.0 < keep <= 1.0:
        raise TrainingError(f"keep must be in (0, 1], got {keep}")
    check_gold(router, labelled)
    relevant = [q.query for q in labelled if q.gold]
    unrelated = [q.query for q in labelled if not q.gold]
    refit = len(unrelated) >= MIN_UNRELATED_TO_REFIT if refit_weights is None else refit_weights
    needed = (len(relevant), len(unrelated)) if refit else (len(relevant),)
    if min(needed) < MIN_QUERIES_PER_CLASS:
        also = f' and {MIN_QUERIES_PER_CLASS} that nothing fits ("gold": [])' if refit else ""
        raise TrainingError(
            f"calibrating the no-fit model needs at least {MIN_QUERIES_PER_CLASS} queries with "
            f"gold skills{also}, got {len(relevant)} and {len(unrelated)}"
        )
    x_fit = router.fit_evidence(relevant)
    x_unrelated = router.fit_evidence(unrelated)
    if refit:
        x = np.vstack([x_fit, x_unrelated])
        y = np.concatenate([np.ones(len(relevant)), np.zeros(len(unrelated))])
        weight = np.concatenate(
            [
                np.full(len(x_fit), 0.5 / len(x_fit)),
                np.full(len(x_unrelated), 0.5 / len(x_unrelated)),
            ]
        )
        w, b = fit_logistic(x, y, l2=l2, sample_weight=weight * len(x))
        weights = {f: round(float(v), 5) for f, v in zip(FIT_FEATURES, w, strict=True)}
        bias = round(b, 5)
    else:
        weights, bias = dict(router.policy.no_fit.weights), router.policy.no_fit.bias
    model = FitModel(weights, bias)
    p_fit, p_unrelated = model.probabilities(x_fit), model.probabilities(x_unrelated)
    # The lower quantile, rounded down: at least ``keep`` of the relevant queries fit.
    threshold = float(np.floor(np.quantile(p_fit, 1.0 - keep, method="lower") * 1e4) / 1e4)
    return NoFitCalibration(
        policy=NoFitPolicy(threshold=threshold, weights=weights, bias=bias),
        refitted=refit,
        relevant=len(relevant),
        unrelated=len(unrelated),
        relevant_fit=float(np.mean(p_fit >= threshold)),
        unrelated_flagged=float(np.mean(p_unrelated < threshold)) if unrelated else None,
    )
