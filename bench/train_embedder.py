"""Fine-tune the embedder for tool retrieval, reproducibly, on the CPU, and judge it elsewhere.

    python bench/train_embedder.py                     # train, then validate off-distribution
    python bench/train_embedder.py --validate-only     # validate an already trained model

Training data (never the live split): BFCL's non-live categories and its unused ``exec_*``
categories (queries with their ground-truth functions; hard negatives mined by the base router
over those functions), and queries over a seeded synthetic SaaS catalog (``bench/synthetic.py``,
other seeds than its benchmark's; hard negatives mined over that catalog, never a member of the
query's own family). The model goes to ``$ORCHESTRATOR_CACHE/models/tool-minilm`` (outside
git; nothing is downloaded: it starts from the packaged all-MiniLM-L6-v2).

Validation, in the same run and against the base model, on data from other distributions:
BFCL multi-turn turns that call one tool (over the multi-turn functions plus the single-turn
pool) and the shipped sample catalog's labelled queries. The live split is reported by
``bench/retrieval.py --embedder`` (after ``bench/train_reranker.py --embedder`` fits its no-fit
model). Writes bench/results/train_embedder.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bfcl
import synthetic
from train_reranker import pool_router

from orchestrator._resources import data_path
from orchestrator.catalog import load_catalog
from orchestrator.policy import load_policy
from orchestrator.routing import (
    LabelledQuery,
    SkillIndex,
    SkillRouter,
    TrainingExample,
    fine_tune_embedder,
    training_examples,
)

RESULTS = Path(__file__).resolve().parent / "results"
EXEC = ("exec_simple", "exec_multiple", "exec_parallel", "exec_parallel_multiple")


def default_out() -> Path:
    root = os.environ.get("ORCHESTRATOR_CACHE") or Path.home() / ".cache" / "orchestrator"
    return Path(root) / "models" / "tool-minilm"


def bfcl_examples(hard_negatives: int) -> list[TrainingExample]:
    """BFCL non-live and exec queries over the union of their own functions."""
    records: dict[str, dict[str, Any]] = {}
    labelled: list[LabelledQuery] = []
    categories = [
        (f"BFCL_v4_{c}.json", f"possible_answer/BFCL_v4_{c}.json") for c in bfcl.NON_LIVE
    ] + [
        (
            f"unused_datasets/question/BFCL_v4_{c}.json",
            f"unused_datasets/possible_answer/BFCL_v4_{c}.json",
        )
        for c in EXEC
    ]
    for questions, answers in categories:
        gold_of = {a["id"]: a["ground_truth"] for a in bfcl.read_jsonl(answers)}
        for entry in bfcl.read_jsonl(questions):
            calls = gold_of.get(entry["id"])
            if not calls:
                continue
            # Non-live answers are [{name: args}, ...], exec ones ["name(args)", ...].
            names: set[str] = set()
            for call in calls:
                names.update([call.split("(", 1)[0]] if isinstance(call, str) else call)
            gold = []
            for function in entry["function"]:
                key = json.dumps(function, sort_keys=True)
                skill_id = records.setdefault(key, {**function, "id": f"f{len(records)}"})["id"]
                if function["name"] in names:
                    gold.append(skill_id)
            if gold:
                labelled.append(LabelledQuery(bfcl.query_text(entry), tuple(gold)))
    router = SkillRouter.from_catalog(load_catalog(list(records.values())))
    return training_examples(router, labelled, hard_negatives=hard_negatives)


def synthetic_examples(count: int, hard_negatives: int) -> list[TrainingExample]:
    """Queries over a seeded synthetic catalog: one example per query (its source skill); the
    rest of its family is gold too, so never a negative."""
    skills, family = synthetic.generate(4000, seed=11)
    queries = synthetic.queries(skills, family, count, seed=12)
    # Heads only: the bodies are boilerplate here, and this keeps the index build short.
    policy = load_policy().routing
    policy = policy.model_copy(
        update={"index": policy.index.model_copy(update={"head_only_above": 0})}
    )
    router = SkillRouter.from_catalog(skills, policy=policy)
    labelled = [LabelledQuery(q.text, (q.source, *sorted(q.gold - {q.source}))) for q in queries]
    return training_examples(router, labelled, hard_negatives=hard_negatives, max_positives=1)


def validation_sets(
    router: SkillRouter,
) -> dict[str, tuple[SkillRouter, list[tuple[str, set[str]]]]]:
    """Off-distribution sets, routed by ``router``'s embedder: multi-turn single-tool turns and
    the sample catalog's labelled queries (gold by skill id)."""
    skills = list(router.skills) + list(bfcl.multi_turn_functions())
    index = SkillIndex.build(skills, router.embedder, router.policy.index, previous=router.index)
    multi_turn = SkillRouter(index, router.embedder, router.policy)
    turns = [t for t in bfcl.multi_turn_tasks() if len(t.needed) == 1]
    sample = SkillRouter.from_catalog(data_path("skills", "sample.jsonl"), embedder=router.embedder)
    lines = data_path("skills", "sample_queries.jsonl").read_text(encoding="utf-8").splitlines()
    labelled = [json.loads(line) for line in lines if line.strip()]
    return {
        "multi_turn_one_tool": (multi_turn, [(t.text, {t.needed[0]}) for t in turns]),
        "sample_catalog": (sample, [(q["query"], set(q["gold"])) for q in labelled if q["gold"]]),
    }


def score(router: SkillRouter, items: list[tuple[str, set[str]]]) -> dict[str, float]:
    """Top-1 and recall@10 of the full router, a match counting for its near-duplicate group."""
    top1 = r10 = 0.0
    results = router.route_batch([text for text, _ in items], k=10)
    for (_, gold), result in zip(items, results, strict=True):
        groups = [{m.id, *(d.id for d in m.duplicates)} for m in result.matches]
        top1 += bool(groups) and bool(groups[0] & gold)
        r10 += len(gold & set().union(*groups)) / len(gold)
    n = max(1, len(items))
    return {"queries": len(items), "top1": top1 / n, "recall@10": r10 / n}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=default_out())
    parser.add_argument("--synthetic", type=int, default=1200, help="synthetic queries")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--hard-negatives", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--validate-only", action="store_true")
    args = parser.parse_args()

    report: dict[str, Any] = {"model": str(args.out)}
    if args.validate_only:
        record = args.out / "orchestrator-training.json"  # written by fine_tune_embedder
        if record.exists():
            report["training"] = json.loads(record.read_text(encoding="utf-8"))
    else:
        start = time.perf_counter()
        examples = bfcl_examples(args.hard_negatives)
        report["bfcl_examples"] = len(examples)
        extra = synthetic_examples(args.synthetic, args.hard_negatives) if args.synthetic else []
        report["synthetic_examples"] = len(extra)
        report["mining_s"] = time.perf_counter() - start
        print(
            f"{len(examples)} BFCL + {len(extra)} synthetic examples ({report['mining_s']:.0f} s)"
        )
        start = time.perf_counter()

        def progress(step: int, total: int, loss: float) -> None:
            if step % 20 == 0 or step == total:
                print(
                    f"  step {step}/{total} loss {loss:.3f} ({time.perf_counter() - start:.0f} s)",
                    flush=True,
                )

        training = fine_tune_embedder(
            examples + extra, args.out, epochs=args.epochs, seed=args.seed, progress=progress
        )
        report["training"] = dataclasses.asdict(training)
        report["training_s"] = time.perf_counter() - start
        print(f"trained in {report['training_s']:.0f} s -> {args.out}")

    print(f"{'set':<22} {'model':<8} {'top1':>6} {'R@10':>6}")
    for label, path in (("base", None), ("trained", args.out)):
        router, _ = pool_router(reuse=True, embedder_path=path)
        for name, (set_router, items) in validation_sets(router).items():
            result = score(set_router, items)
            report.setdefault(name, {})[label] = result
            print(f"{name:<22} {label:<8} {result['top1']:6.3f} {result['recall@10']:6.3f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "train_embedder.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
