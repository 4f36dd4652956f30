"""Near-duplicate grouping: functionally equal skills (the same tool from several providers or
community copies) form one group, so they take one slot of the top-k instead of all of them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from orchestrator.routing._policy import DuplicatePolicy

__all__ = ["group_duplicates"]


def group_duplicates(
    head_vectors: npt.NDArray[np.float32],
    parameter_sets: Sequence[frozenset[str]],
    policy: DuplicatePolicy,
) -> list[list[int]]:
    """Group ranked items (best first) into near-duplicate groups, best first within each.

    Item ``i`` joins the first group whose leader is at least ``policy.similarity`` cosine-similar
    to it, or at least ``policy.same_parameters_similarity`` similar while taking exactly the same
    parameter names (two providers of one operation usually agree on the arguments, while two
    different operations with similar wording, such as current weather and a forecast, differ).
    ``head_vectors`` must be L2-normalised, one row per item in rank order.
    """
    groups: list[list[int]] = []
    leaders: list[int] = []
    for item in range(len(head_vectors)):
        joined = False
        if leaders:
            sims = head_vectors[leaders] @ head_vectors[item]
            for g, leader in enumerate(leaders):
                sim = float(sims[g])
                same_params = parameter_sets[leader] == parameter_sets[item]
                if sim >= policy.similarity or (
                    same_params and sim >= policy.same_parameters_similarity
                ):
                    groups[g].append(item)
                    joined = True
                    break
        if not joined:
            leaders.append(item)
            groups.append([item])
    return groups
