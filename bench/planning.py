"""Multi-step planning benchmark on BFCL multi-turn (not a test).

Each user turn of ``multi_turn_base`` with its ground-truth calls is a multi-step task. The
catalog is every multi-turn function (``{file}.{name}``) plus the single-turn pool (~2.8K) as
distractors. Reported, for the planner and for single-shot top-10 retrieval in the same run:

- full: share of tasks whose plan (or top-10) holds every needed tool;
- precision / recall: per task, averaged (plan ∩ needed over plan, over needed);
- ordered: share of full plans whose order of the needed tools matches the reference;
- p50 / p95 planning latency per task (rule decomposition, routing, closure, ordering).

Entries are split by id parity: even ids are the tuning half, odd ids the held-out half.

Learning from past runs (``UsageModel``): the tuning half's ground-truth call sequences, with
their turns' text, stand in for past successful runs. The planner with that model is reported
beside the planner without it, in the same run: on the held-out half with the model of the whole
tuning half, on the tuning half with the model of the tuning half minus the task's own
conversation. Both halves use the same tool set and the same kind of conversations: this is
in-domain learning.

    python bench/planning.py                  # build or reuse the index, print the table
    python bench/planning.py --failures F     # also write the held-out misses to F (JSONL)
    python bench/planning.py --usage-out U    # also save the fitted usage model to U
    python bench/planning.py --embedder DIR --policy P   # route with another embedder

Writes bench/results/planning.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bfcl
from train_reranker import pool_router

from orchestrator.planning import USAGE_FORMAT, Planner, TaskPlan, UsageModel
from orchestrator.policy import load_policy
from orchestrator.routing import SkillIndex, SkillRouter

RESULTS = Path(__file__).resolve().parent / "results"


def multi_turn_router(reuse: bool, embedder_path: Path | None = None) -> tuple[SkillRouter, float]:
    """The router over pool + multi-turn functions; only the multi-turn ones are embedded anew."""
    pool, _ = pool_router(reuse=True, embedder_path=embedder_path)
    skills = list(pool.skills) + list(bfcl.multi_turn_functions())
    cache = bfcl.cache_dir() / f"multi-turn-index-{pool.embedder.name}"
    start = time.perf_counter()
    index = None
    if reuse and (cache / "manifest.json").exists():
        index = SkillIndex.load(cache)
        if len(index) != len(skills):
            index = None
    if index is None:
        index = SkillIndex.build(skills, pool.embedder, pool.policy.index, previous=pool.index)
        index.save(cache)
    return SkillRouter(index, pool.embedder, pool.policy, index_dir=cache), (
        time.perf_counter() - start
    )


def score_plan(ids: list[str], needed: tuple[str, ...]) -> dict[str, float]:
    got = set(ids)
    hits = got & set(needed)
    full = hits == set(needed)
    order = [i for i in ids if i in set(needed)]
    return {
        "full": float(full),
        "precision": len(hits) / len(got) if got else 0.0,
        "recall": len(hits) / len(needed),
        "ordered": float(full and order == list(needed)),
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, float]:
    if not rows:
        return {}
    full = [r for r in rows if r["full"]]
    return {
        "tasks": len(rows),
        "full": statistics.fmean(r["full"] for r in rows),
        "precision": statistics.fmean(r["precision"] for r in rows),
        "recall": statistics.fmean(r["recall"] for r in rows),
        "ordered_of_full": statistics.fmean(r["ordered"] for r in full) if full else 0.0,
        "multi_step_full": statistics.fmean(r["full"] for r in rows if r["needed"] > 1),
    }


def half(task: bfcl.Task) -> str:
    return "tune" if int(conversation(task).split("_")[-1]) % 2 == 0 else "held"


def conversation(task: bfcl.Task) -> str:
    return task.id.split(":")[0]


def usage_planners(
    planner: Planner, tasks: list[bfcl.Task]
) -> tuple[Callable[[bfcl.Task], Planner], UsageModel]:
    """The planner with a usage model fitted on the tuning half, per task: the whole tuning half
    for a held-out task, the tuning half without the task's own conversation for a tuning task.

    The per-conversation models are built through the documented file format, so the tuning
    tasks are embedded once."""
    policy = planner.policy
    past = [t for t in tasks if half(t) == "tune"]
    embedder = planner.router.embedder
    vectors = embedder.encode([t.text for t in past]).astype(np.float32)

    def model(keep: list[int]) -> UsageModel:
        return UsageModel.from_dict(
            {
                "format": USAGE_FORMAT,
                "runs": [{"task": past[i].text, "tools": list(past[i].needed)} for i in keep],
                "vectors": {
                    "model": embedder.name,
                    "dimension": int(vectors.shape[1]),
                    "float16": base64.b64encode(vectors[keep].astype("<f2").tobytes()).decode(),
                },
            }
        )

    whole = model(list(range(len(past))))
    held_planner = Planner(planner.router, planner.dependencies, policy, usage=whole)
    per_conversation: dict[str, Planner] = {}

    def planner_for(task: bfcl.Task) -> Planner:
        if half(task) == "held":
            return held_planner
        name = conversation(task)
        if name not in per_conversation:
            keep = [i for i, t in enumerate(past) if conversation(t) != name]
            per_conversation[name] = Planner(
                planner.router, planner.dependencies, policy, usage=model(keep)
            )
        return per_conversation[name]

    return planner_for, whole


def evaluate(
    methods: dict[str, Callable[[bfcl.Task], Planner]], tasks: list[bfcl.Task], router: SkillRouter
) -> dict[str, Any]:
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in (*methods, "top10")}
    latency: dict[str, list[float]] = {name: [] for name in methods}
    misses = []
    for task in tasks:
        where: dict[str, Any] = {"needed": len(task.needed), "half": half(task)}
        for name, planner_for in methods.items():
            planner = planner_for(task)
            started = time.perf_counter()
            plan: TaskPlan = planner.plan(task.text)
            latency[name].append((time.perf_counter() - started) * 1000.0)
            row: dict[str, Any] = {**score_plan(plan.ids, task.needed), **where}
            rows[name].append(row)
            if name == "planner+usage" and (not row["full"] or row["precision"] < 1.0):
                misses.append(
                    {
                        "id": task.id,
                        "half": row["half"],
                        "text": task.text,
                        "needed": list(task.needed),
                        "plan": plan.ids,
                        "subgoals": list(plan.subgoals),
                        "reasons": [s.reason for s in plan.steps],
                    }
                )
        top10 = [m.id for m in router.route(task.text, k=10).matches]
        rows["top10"].append(score_plan(top10, task.needed) | where)
    report: dict[str, Any] = {}
    for part in ("tune", "held", "all"):
        report[part] = {
            name: summarise([r for r in method_rows if part == "all" or r["half"] == part])
            for name, method_rows in rows.items()
        }
    report["latency_ms"] = {
        name: {
            "p50": statistics.median(values),
            "p95": sorted(values)[int(0.95 * (len(values) - 1))],
        }
        for name, values in latency.items()
    }
    report["_misses"] = misses
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--policy", type=Path, default=None)
    parser.add_argument(
        "--embedder", type=Path, default=None, help="local sentence-transformers model"
    )
    parser.add_argument("--limit", type=int, default=0, help="at most N tasks")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the multi-turn index")
    parser.add_argument("--failures", type=Path, help="write plans that missed or overshot here")
    parser.add_argument("--out", type=Path, default=RESULTS / "planning.json")
    parser.add_argument("--usage-out", type=Path, help="save the fitted usage model here")
    args = parser.parse_args()

    router, index_s = multi_turn_router(reuse=not args.rebuild, embedder_path=args.embedder)
    policy = load_policy(args.policy)
    router = SkillRouter(router.index, router.embedder, policy.routing, index_dir=router.index_dir)
    started = time.perf_counter()
    planner = Planner.from_router(router, policy)
    deps_s = time.perf_counter() - started
    tasks = bfcl.multi_turn_tasks()[: args.limit or None]
    started = time.perf_counter()
    with_usage, model = usage_planners(planner, tasks)
    fit_s = time.perf_counter() - started
    if args.usage_out:
        model.save(args.usage_out)
    methods = {"planner": lambda task: planner, "planner+usage": with_usage}
    report = evaluate(methods, tasks, router)
    report.update(
        {
            "embedder": router.embedder.name,
            "catalog": len(router.skills),
            "dependency_edges": len(planner.dependencies),
            "index_s": index_s,
            "dependencies_s": deps_s,
            "usage_runs": len(model),
            "usage_fit_s": fit_s,
        }
    )
    print(
        f"BFCL multi_turn_base: {len(tasks)} tasks over {len(router.skills)} skills "
        f"({len(planner.dependencies)} dependency edges, derived in {deps_s:.1f} s)"
    )
    print(f"usage model: {len(model)} past runs (the tuning half), fitted in {fit_s:.1f} s")
    print(
        f"{'half':<5} {'method':<21} {'full':>6} {'prec':>6} {'recall':>7} {'ordered':>8} "
        f"{'multi':>6}"
    )
    for part in ("tune", "held", "all"):
        for method in (*methods, "top10"):
            m = report[part][method]
            print(
                f"{part:<5} {method:<21} {m['full']:6.3f} {m['precision']:6.3f} "
                f"{m['recall']:7.3f} {m['ordered_of_full']:8.3f} {m['multi_step_full']:6.3f}"
            )
    for method, lat in report["latency_ms"].items():
        print(f"{method} latency per task: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms")
    misses = report.pop("_misses")
    if args.failures:
        args.failures.write_text("\n".join(json.dumps(m) for m in misses) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
