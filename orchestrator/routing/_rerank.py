"""Stage 2: re-score the fused candidates over the full body of each skill, and decide fit.

Two questions, two models. *Which candidate is best* is answered by rank fusion over evidence
read from the whole skill: BM25 over every field, the best dense match among the head and all
body chunks (late interaction), the head alone, and how much of the query the body covers.
Rank fusion is used rather than a learned score combination because it survives distribution
shift: weights fitted on BFCL's non-live split ranked its live split worse than plain RRF, while
fusing ranks helped both. *Does anything fit at all* is answered by a small logistic model over
absolute evidence of the top candidate (:class:`FitModel`), whose weights and threshold live in
``policies/`` and are fitted by ``bench/train_reranker.py``.

A sentence-transformers CrossEncoder, loaded from a local path, can replace the ranking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from orchestrator.errors import ModelLoadError

__all__ = [
    "FIT_FEATURES",
    "RANK_SIGNALS",
    "Candidate",
    "CrossEncoderReranker",
    "FitModel",
    "RankFusionReranker",
    "Reranker",
    "fit_features",
    "fit_logistic",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One fused candidate with the evidence stage 1 gathered about it."""

    row: int
    bm25: float
    bm25_signature: float
    dense_head: float
    dense_best: float
    rrf: float
    coverage: float
    coverage_signature: float
    passages: tuple[str, ...] = ()


def query_coverage(query_tokens: Sequence[str], skill_tokens: frozenset[str]) -> float:
    """Share of the query's distinct tokens that occur anywhere in the skill's text."""
    q = set(query_tokens)
    return len(q & skill_tokens) / len(q) if q else 0.0


RANK_SIGNALS: tuple[str, ...] = (
    "bm25",
    "bm25_signature",
    "dense_best",
    "dense_head",
    "coverage",
    "coverage_signature",
)


class Reranker(Protocol):
    """Orders candidates for a query: returns one score per candidate, higher is better."""

    name: str

    def score(self, query: str, candidates: Sequence[Candidate]) -> npt.NDArray[np.float64]: ...


def _ranks(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """1-based competition ranks, best (highest) first; ties share the better rank."""
    # rank = 1 + how many candidates score strictly higher; a few dozen candidates, so the
    # pairwise comparison is cheaper than sorting and handles ties for free.
    higher: npt.NDArray[np.float64] = (values[None, :] > values[:, None]).sum(axis=1) + 1.0
    return higher


class RankFusionReranker:
    """Weighted reciprocal rank fusion of :data:`RANK_SIGNALS` among the candidates."""

    name = "fusion"

    def __init__(self, weights: Mapping[str, float], k: float) -> None:
        unknown = set(weights) - set(RANK_SIGNALS)
        if unknown:
            raise ValueError(
                f"unknown rerank signal(s) {sorted(unknown)}; expected some of {list(RANK_SIGNALS)}"
            )
        self._weights = {s: float(weights.get(s, 1.0)) for s in RANK_SIGNALS}
        self._k = k

    def score(self, query: str, candidates: Sequence[Candidate]) -> npt.NDArray[np.float64]:
        total = np.zeros(len(candidates))
        if not candidates:
            return total
        for signal, weight in self._weights.items():
            if weight:
                values = np.asarray([getattr(c, signal) for c in candidates], dtype=np.float64)
                total += weight / (self._k + _ranks(values))
        return total


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder read from a local directory; a skill's score is its
    best passage's (the head, then body chunks)."""

    name = "cross-encoder"

    def __init__(self, path: str | Path, *, max_passages: int = 8, device: str = "cpu") -> None:
        model_path = Path(path)
        if not model_path.is_dir():
            raise ModelLoadError(
                f"{model_path}: cross-encoder directory does not exist (models are loaded "
                "from local paths only)"
            )
        from orchestrator.routing._embedder import force_offline

        force_offline()
        from sentence_transformers import CrossEncoder

        try:
            self._model: Any = CrossEncoder(str(model_path), device=device, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{model_path}: not a loadable CrossEncoder: {exc}") from exc
        self._max_passages = max_passages

    def score(self, query: str, candidates: Sequence[Candidate]) -> npt.NDArray[np.float64]:
        pairs: list[tuple[str, str]] = []
        owner: list[int] = []
        for i, c in enumerate(candidates):
            for passage in c.passages[: self._max_passages]:
                pairs.append((query, passage))
                owner.append(i)
        best = np.full(len(candidates), -np.inf)
        if pairs:
            logits = np.asarray(
                self._model.predict(pairs, show_progress_bar=False, convert_to_numpy=True),
                dtype=np.float64,
            ).reshape(len(pairs), -1)[:, -1]
            np.maximum.at(best, np.asarray(owner), logits)
        return best


# ---------------------------------------------------------------------------- fit / no fit

FIT_FEATURES: tuple[str, ...] = (
    "dense_head",
    "dense_best",
    "coverage",
    "coverage_signature",
    "dense_margin",
)
"""Bounded evidence only (cosines, coverage shares): BM25 scores depend on the catalog's size and
document lengths, so a threshold on them would not carry from one catalog to another."""


def fit_features(top: Candidate, runner_up: Candidate | None) -> npt.NDArray[np.float64]:
    """Evidence that the best candidate fits (columns in :data:`FIT_FEATURES` order)."""
    margin = top.dense_best - runner_up.dense_best if runner_up is not None else 0.0
    return np.asarray(
        [top.dense_head, top.dense_best, top.coverage, top.coverage_signature, margin]
    )


def _sigmoid(x: npt.NDArray[np.float64] | float) -> Any:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))


class FitModel:
    """Probability that the best candidate fits the query: logistic over :data:`FIT_FEATURES`.

    Without fitted weights it falls back to the dense similarity of the best candidate, which
    is still a usable (if less calibrated) fit score.
    """

    def __init__(self, weights: Mapping[str, float], bias: float) -> None:
        unknown = set(weights) - set(FIT_FEATURES)
        if unknown:
            raise ValueError(
                f"unknown fit feature(s) {sorted(unknown)}; expected some of {list(FIT_FEATURES)}"
            )
        self._w = np.asarray([weights.get(f, 0.0) for f in FIT_FEATURES], dtype=np.float64)
        self._b = bias
        self.trained = bool(np.any(self._w))

    def probability(self, top: Candidate, runner_up: Candidate | None) -> float:
        return float(self.probabilities(fit_features(top, runner_up)[None, :])[0])

    def probabilities(self, features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The fit probability of each row of fit features (columns in FIT_FEATURES order)."""
        if not self.trained:
            return np.clip(features[:, FIT_FEATURES.index("dense_best")], 0.0, 1.0)
        return np.asarray(_sigmoid(features @ self._w + self._b), dtype=np.float64)


def fit_logistic(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    *,
    l2: float = 1e-2,
    iterations: int = 50,
    sample_weight: npt.NDArray[np.float64] | None = None,
) -> tuple[npt.NDArray[np.float64], float]:
    """L2-regularised logistic regression by Newton's method: returns (weights, bias).

    Small and deterministic, so refitting the fit model on a user's own labelled queries needs
    no extra dependency.
    """
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(iterations):
        p = _sigmoid(xb @ w)
        grad = xb.T @ (sw * (p - y)) / n + reg * w
        hess = (xb.T * (sw * p * (1 - p))) @ xb / n + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w[:-1], float(w[-1])
