"""What each part of learning from past runs adds to planning on BFCL multi-turn (not a test).

Routes every task of ``bench/planning.py`` once (the task and its sub-goals, as ``Planner.plan``
does) and caches the results outside git; then replays ``Planner.assemble`` under each variant,
so a variant costs a fraction of a second instead of a full routing pass. Same tasks, halves and
usage model as ``bench/planning.py``: the tuning half's ground-truth call sequences are the past
runs; a tuning task is planned with the model of the tuning half minus its own conversation.

    python bench/planning_ablation.py             # route (or reuse the cache), print the table
    python bench/planning_ablation.py --reroute   # route again (after a routing change)

Writes bench/results/planning_ablation.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bfcl
from planning import RESULTS, conversation, half, multi_turn_router, score_plan, summarise

from orchestrator.planning import PastRun, Planner, PlanningPolicy, UsageModel
from orchestrator.policy import load_policy
from orchestrator.routing import RouteResult, SkillRouter

Routed = tuple[bfcl.Task, list[str], RouteResult, list[RouteResult]]


def routed_tasks(planner: Planner, tasks: list[bfcl.Task], reroute: bool) -> list[Routed]:
    """Each task with its sub-goals and routing results, from a cache keyed by the routing
    policy, the index and the queries routed (``Planner.routing_queries``)."""
    router = planner.router
    queries = {t.id: planner.routing_queries(t.text, planner.subgoals(t.text)) for t in tasks}
    key = hashlib.sha256(
        json.dumps(
            [
                router.policy.model_dump_json(),
                str(router.index_dir),
                planner.policy.candidates,
                [queries[t.id] for t in tasks],
            ]
        ).encode()
    ).hexdigest()[:12]
    cache = bfcl.cache_dir() / f"planning-routes-{key}.pkl"
    if cache.exists() and not reroute:
        routed: list[Routed] = pickle.loads(cache.read_bytes())
        return routed
    routed = []
    for task in tasks:
        goals = planner.subgoals(task.text)
        results = router.route_batch(queries[task.id], k=planner.policy.candidates)
        routed.append((task, goals, results[0], results[1:] if len(goals) > 1 else results))
    temporary = cache.with_suffix(".tmp")
    temporary.write_bytes(pickle.dumps(routed))
    temporary.replace(cache)
    return routed


def with_usage(policy: PlanningPolicy, **changes: Any) -> PlanningPolicy:
    return policy.model_copy(update={"usage": policy.usage.model_copy(update=changes)})


def plan_rows(
    planner: Planner,
    routed: list[Routed],
    models: Callable[[bfcl.Task], UsageModel | None] | None,
    vectors: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Each routed task planned again by ``Planner.assemble`` with the usage model ``models``
    gives it (none: from routing alone), scored: one row per task, with its plan and whether
    the model recalled anything for it."""
    rows: list[dict[str, Any]] = []
    for task, goals, whole, per_goal in routed:
        planner.usage = models(task) if models else None
        recalled = planner.recall(task.text, vectors[task.id], routed=whole)
        plan = planner.assemble(task.text, goals, whole, per_goal, recalled=recalled)
        rows.append(
            score_plan(plan.ids, task.needed)
            | {
                "id": task.id,
                "needed": len(task.needed),
                "half": half(task),
                "plan": plan.ids,
                "recalled": bool(recalled),
            }
        )
    planner.usage = None
    return rows


def replay(
    planner: Planner,
    routed: list[Routed],
    models: Callable[[bfcl.Task], UsageModel] | None,
    vectors: Mapping[str, Any],
) -> dict[str, dict[str, float]]:
    rows = plan_rows(planner, routed, models, vectors)
    return {part: summarise([r for r in rows if r["half"] == part]) for part in ("tune", "held")}


def fitted(past: Iterable[bfcl.Task], known: KnownVectors) -> UsageModel:
    """A usage model of these tasks' ground-truth runs, embedded from ``known``."""
    model = UsageModel.fit(PastRun(t.text, t.needed) for t in past)
    model.embed(known)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--reroute", action="store_true", help="route again, ignore the cache")
    parser.add_argument("--out", type=Path, default=RESULTS / "planning_ablation.json")
    args = parser.parse_args()

    router, _ = multi_turn_router(reuse=True)
    policy = load_policy(None)
    router = SkillRouter(router.index, router.embedder, policy.routing, index_dir=router.index_dir)
    planner = Planner.from_router(router, policy)
    tasks = bfcl.multi_turn_tasks()
    routed = routed_tasks(planner, tasks, args.reroute)
    embedded = router.embedder.encode([t.text for t in tasks])
    vectors = {t.id: v for t, v in zip(tasks, embedded, strict=True)}
    known = KnownVectors(router.embedder.name, {t.text.strip(): vectors[t.id] for t in tasks})
    past = [t for t in tasks if half(t) == "tune"]
    whole = fitted(past, known)
    per_conversation: dict[str, UsageModel] = {}

    def model_for(task: bfcl.Task) -> UsageModel:
        if half(task) == "held":
            return whole
        name = conversation(task)
        if name not in per_conversation:
            per_conversation[name] = fitted((t for t in past if conversation(t) != name), known)
        return per_conversation[name]

    base = planner.policy
    variants: list[tuple[str, PlanningPolicy, bool]] = [
        ("planner (no usage model)", base, False),
        ("+ learned prerequisites and order only", with_usage(base, neighbours=0), True),
        # Embedding cosines run higher than the blend's: 0.4 was this variant's tuning-half choice.
        (
            "+ recall, embeddings only",
            with_usage(base, lexical_weight=0.0, min_similarity=0.4),
            True,
        ),
        ("+ recall, blend (default)", base, True),
        ("  default, routed steps kept", with_usage(base, drop_unrecalled=False), True),
        ("  default, no learned prerequisites", with_usage(base, min_runs=10**9), True),
        ("  default, schema window as without", with_usage(base, prerequisite_window=5), True),
    ]
    report: dict[str, Any] = {}
    print(f"{'variant':<40} {'half':<5} {'full':>6} {'prec':>6} {'recall':>7} {'ordered':>8}")
    for name, variant, learned in variants:
        planner.policy = variant
        result = replay(planner, routed, model_for if learned else None, vectors)
        report[name] = result
        for part in ("tune", "held"):
            m = result[part]
            print(
                f"{name:<40} {part:<5} {m['full']:6.3f} {m['precision']:6.3f} "
                f"{m['recall']:7.3f} {m['ordered_of_full']:8.3f}"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


class KnownVectors:
    """The embedder's vectors of the tasks, computed once: each model fitted on some of them
    reads them instead of embedding its past tasks again."""

    def __init__(self, name: str, by_text: dict[str, Any]) -> None:
        self.name = name
        self.by_text = by_text
        self.dimension = len(next(iter(by_text.values())))

    def encode(
        self, texts: list[str], *, batch_size: int = 64, max_tokens: int | None = None
    ) -> npt.NDArray[np.float32]:
        return np.stack([self.by_text[t] for t in texts]).astype(np.float32)


if __name__ == "__main__":
    main()
