"""Multi-step planning benchmark on BFCL multi-turn (not a test).

Each user turn of ``multi_turn_base`` with its ground-truth calls is a multi-step task. The
catalog is every multi-turn function (``{file}.{name}``) plus the single-turn pool (~2.8K) as
distractors. Reported, for the planner and for single-shot top-10 retrieval in the same run:

- full: share of tasks whose plan (or top-10) holds every needed tool;
- precision / recall: per task, averaged (plan ∩ needed over plan, over needed);
- ordered: share of full plans whose order of the needed tools matches the reference;
- p50 / p95 planning latency per task (rule decomposition, routing, closure, ordering).

Entries are split by id parity: even ids are the tuning half, odd ids the held-out half.

    python bench/planning.py                  # build or reuse the index, print the table
    python bench/planning.py --failures F     # also write the held-out misses to F (JSONL)

Writes bench/results/planning.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bfcl
from train_reranker import pool_router

from orchestrator.planning import Planner, TaskPlan
from orchestrator.policy import load_policy
from orchestrator.routing import SkillIndex, SkillRouter

RESULTS = Path(__file__).resolve().parent / "results"


def multi_turn_router(reuse: bool) -> tuple[SkillRouter, float]:
    """The router over pool + multi-turn functions; only the multi-turn ones are embedded anew."""
    pool, _ = pool_router(reuse=True)
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


def summarise(rows: list[dict[str, float]]) -> dict[str, float]:
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


def evaluate(planner: Planner, tasks: list[bfcl.Task]) -> dict[str, Any]:
    router = planner.router
    plan_rows, top_rows, misses, latency = [], [], [], []
    for task in tasks:
        started = time.perf_counter()
        plan: TaskPlan = planner.plan(task.text)
        latency.append((time.perf_counter() - started) * 1000.0)
        row = score_plan(plan.ids, task.needed) | {"needed": len(task.needed)}
        row["half"] = "tune" if int(task.id.split("_")[-1].split(":")[0]) % 2 == 0 else "held"
        plan_rows.append(row)
        top10 = [m.id for m in router.route(task.text, k=10).matches]
        top_rows.append(score_plan(top10, task.needed) | {"needed": len(task.needed)})
        top_rows[-1]["half"] = row["half"]
        if not row["full"] or row["precision"] < 1.0:
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
    report: dict[str, Any] = {}
    for half in ("tune", "held", "all"):
        keep = [i for i, r in enumerate(plan_rows) if half == "all" or r["half"] == half]
        report[half] = {
            "planner": summarise([plan_rows[i] for i in keep]),
            "top10": summarise([top_rows[i] for i in keep]),
        }
    report["latency_ms"] = {
        "p50": statistics.median(latency),
        "p95": sorted(latency)[int(0.95 * (len(latency) - 1))],
    }
    report["_misses"] = misses
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--policy", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=0, help="at most N tasks")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the multi-turn index")
    parser.add_argument("--failures", type=Path, help="write plans that missed or overshot here")
    parser.add_argument("--out", type=Path, default=RESULTS / "planning.json")
    args = parser.parse_args()

    router, index_s = multi_turn_router(reuse=not args.rebuild)
    policy = load_policy(args.policy)
    router = SkillRouter(router.index, router.embedder, policy.routing, index_dir=router.index_dir)
    started = time.perf_counter()
    planner = Planner.from_router(router, policy)
    deps_s = time.perf_counter() - started
    tasks = bfcl.multi_turn_tasks()[: args.limit or None]
    report = evaluate(planner, tasks)
    report.update(
        {
            "catalog": len(router.skills),
            "dependency_edges": len(planner.dependencies),
            "index_s": index_s,
            "dependencies_s": deps_s,
        }
    )
    print(
        f"BFCL multi_turn_base: {len(tasks)} tasks over {len(router.skills)} skills "
        f"({len(planner.dependencies)} dependency edges, derived in {deps_s:.1f} s)"
    )
    print(
        f"{'half':<5} {'method':<8} {'full':>6} {'prec':>6} {'recall':>7} {'ordered':>8} "
        f"{'multi':>6}"
    )
    for half in ("tune", "held", "all"):
        for method in ("planner", "top10"):
            m = report[half][method]
            print(
                f"{half:<5} {method:<8} {m['full']:6.3f} {m['precision']:6.3f} "
                f"{m['recall']:7.3f} {m['ordered_of_full']:8.3f} {m['multi_step_full']:6.3f}"
            )
    lat = report["latency_ms"]
    print(f"planning latency per task: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms")
    misses = report.pop("_misses")
    if args.failures:
        args.failures.write_text("\n".join(json.dumps(m) for m in misses) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
