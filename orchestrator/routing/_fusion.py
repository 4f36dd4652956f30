"""Rank fusion: combine the rankings of several retrievers without calibrating their scores."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["reciprocal_rank_fusion"]


def reciprocal_rank_fusion(rankings: Iterable[Sequence[int]], k: float = 60.0) -> dict[int, float]:
    """Reciprocal rank fusion (Cormack et al., 2009): ``score(d) = sum 1 / (k + rank_i(d))``.

    Each ranking lists item ids best first (rank 1 is the first). An item missing from a ranking
    contributes nothing for it, so an item both retrievers like beats one only a single retriever
    ranks first. Returns a score per item; sort by it descending for the fused ranking.

    Examples
    --------
    >>> scores = reciprocal_rank_fusion([[1, 2, 3], [2, 1]], k=60)
    >>> sorted(scores, key=scores.get, reverse=True)
    [1, 2, 3]
    """
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused
