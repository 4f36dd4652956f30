"""Skill-routing benchmark on BFCL (not a test): quality and speed of the full router against
BM25-only, dense-only and RRF baselines, all in the same run.

    python bench/retrieval.py                 # live split (the report), irrelevance, timings
    python bench/retrieval.py --split nonlive # the tuning split

Prints a table and writes JSON to bench/results/retrieval.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bfcl
from train_reranker import pool_router

from orchestrator.catalog import load_catalog
from orchestrator.policy import load_policy
from orchestrator.routing import SkillIndex, SkillRouter

RESULTS = Path(__file__).resolve().parent / "results"


def _metrics(ranked_names: list[list[str]], gold: list[frozenset[str]]) -> dict[str, float]:
    top1 = r5 = r10 = mrr = 0.0
    for names, g in zip(ranked_names, gold, strict=True):
        top1 += bool(names[:1]) and names[0] in g
        r5 += len(g & set(names[:5])) / len(g)
        r10 += len(g & set(names[:10])) / len(g)
        for rank, name in enumerate(names[:20], start=1):
            if name in g:
                mrr += 1.0 / rank
                break
    n = max(1, len(gold))
    return {"top1": top1 / n, "recall@5": r5 / n, "recall@10": r10 / n, "mrr@20": mrr / n}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def evaluate(router: SkillRouter, queries: list[bfcl.Query]) -> dict[str, Any]:
    texts = [q.text for q in queries]
    gold = [q.gold for q in queries]
    vectors = router.embedder.encode(texts, batch_size=64)
    out: dict[str, Any] = {"queries": len(queries)}
    for method in ("bm25", "dense", "rrf"):
        ranked = [
            [s.name for s, _ in router.retrieve(t, 20, method=method, vector=v)]
            for t, v in zip(texts, vectors, strict=True)
        ]
        out[method] = _metrics(ranked, gold)
    for warm in texts[:5]:
        router.route(warm, k=20)
    latencies = []
    ranked: list[list[str]] = []
    grouped: list[list[set[str]]] = []
    fits = 0
    for text in texts:
        start = time.perf_counter()
        result = router.route(text, k=20)
        latencies.append((time.perf_counter() - start) * 1000)
        ranked.append([m.skill.name for m in result.matches])
        grouped.append([{s.name for s in (m.skill, *m.duplicates)} for m in result.matches])
        fits += result.fits
    out["router"] = _metrics(ranked, gold)
    # A match stands for its near-duplicate group (RouteResult exposes it), as in
    # bench/sample_catalog.py: a gold tool grouped under an equivalent leader is still offered.
    out["router"]["recall@10_with_groups"] = sum(
        len(g & {n for group in groups[:10] for n in group}) / len(g)
        for g, groups in zip(gold, grouped, strict=True)
    ) / max(1, len(gold))
    out["_misses"] = [
        {"id": q.id, "query": q.text[:300], "gold": sorted(q.gold), "got": names[:3]}
        for q, names in zip(queries, ranked, strict=True)
        if not names or names[0] not in q.gold
    ]
    out["router"]["fits"] = fits / max(1, len(texts))
    out["latency_ms"] = {"p50": _pct(latencies, 0.5), "p95": _pct(latencies, 0.95)}
    return out


def irrelevance(
    router: SkillRouter, category: str, own_lists: dict[str, tuple[str, ...]]
) -> dict[str, float]:
    """Each irrelevance query routed over its own (non-fitting) function list, as indexed by
    :func:`union_router` (``own_lists``: query id -> skill ids)."""
    flagged = 0
    items = bfcl.irrelevance_catalog(category)
    for query, _ in items:
        # A few live_irrelevance entries list no function at all: nothing can fit them.
        result = router.route(query.text, k=5, only=own_lists[query.id])
        flagged += not result.fits
    return {"queries": len(items), "flagged_no_fit": flagged / max(1, len(items))}


def own_list_fits(router: SkillRouter, queries: list[bfcl.Query]) -> float:
    """Relevant queries routed over their own function list, as irrelevance ones are."""
    kept = sum(router.route(q.text, k=5, only=q.own_ids).fits for q in queries)
    return kept / max(1, len(queries))


def union_router(
    router: SkillRouter, categories: tuple[str, ...]
) -> tuple[SkillRouter, dict[str, tuple[str, ...]]]:
    """The pool plus the irrelevance categories' own functions (only those are embedded), and
    each irrelevance query's own list as skill ids of that union.

    The lists are returned rather than read from ``Query.own_ids``: those are pool ids, and
    live_irrelevance's functions are mostly not in the pool (routing over the few that are, or
    over none, flagged queries for the wrong reason)."""
    extra: dict[str, dict[str, Any]] = {}
    own_lists: dict[str, tuple[str, ...]] = {}
    for category in categories:
        for query, functions in bfcl.irrelevance_catalog(category):
            ids = []
            for n, function in enumerate(functions):
                skill_id = f"{query.id}::{n}::{function['name']}"
                extra[skill_id] = {**function, "id": skill_id}
                ids.append(skill_id)
            own_lists[query.id] = tuple(ids)
    skills = list(router.skills) + load_catalog(list(extra.values()))
    index = SkillIndex.build(skills, router.embedder, router.policy.index, previous=router.index)
    return SkillRouter(index, router.embedder, router.policy), own_lists


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--split", choices=["live", "nonlive"], default="live")
    parser.add_argument("--policy", type=Path, default=None)
    parser.add_argument(
        "--embedder", type=Path, default=None, help="local sentence-transformers model"
    )
    parser.add_argument("--limit", type=int, default=0, help="at most N queries per category")
    parser.add_argument("--no-irrelevance", action="store_true")
    parser.add_argument(
        "--reuse-index", action="store_true", help="reuse the cached pool index (no build time)"
    )
    parser.add_argument("--failures", type=Path, help="write the router's top-1 misses here")
    parser.add_argument("--out", type=Path, default=RESULTS / "retrieval.json")
    args = parser.parse_args()

    router, build_s = pool_router(args.reuse_index, args.embedder)
    if args.policy is not None:
        router = SkillRouter(router.index, router.embedder, load_policy(args.policy).routing)
    skills = router.skills
    categories = bfcl.LIVE if args.split == "live" else bfcl.NON_LIVE
    queries = [q for c in categories for q in (bfcl.queries(c)[: args.limit or None])]
    report: dict[str, Any] = {
        "split": args.split,
        "pool": len(skills),
        "index_build_s": build_s,
        **evaluate(router, queries),
    }
    if not args.no_irrelevance:
        irr_cats = bfcl.IRRELEVANCE_LIVE if args.split == "live" else bfcl.IRRELEVANCE_NON_LIVE
        union, own_lists = union_router(router, irr_cats)
        report["irrelevance"] = {c: irrelevance(union, c, own_lists) for c in irr_cats}
        report["relevant_own_list_fits"] = own_list_fits(union, queries)

    print(f"BFCL {args.split}: {len(queries)} queries over a pool of {len(skills)} functions")
    print(f"index build: {build_s:.1f} s")
    header = f"{'method':<8} {'top1':>6} {'R@5':>6} {'R@10':>6} {'MRR@20':>7}"
    print(header)
    for method in ("bm25", "dense", "rrf", "router"):
        m = report[method]
        print(
            f"{method:<8} {m['top1']:6.3f} {m['recall@5']:6.3f} {m['recall@10']:6.3f} "
            f"{m['mrr@20']:7.3f}"
        )
    with_groups = report["router"]["recall@10_with_groups"]
    print(f"router R@10 counting each match's duplicate group: {with_groups:.3f}")
    lat = report["latency_ms"]
    print(f"router latency per query (warm): p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms")
    print(f"relevant queries with fits=true over the pool: {report['router']['fits']:.3f}")
    if "irrelevance" in report:
        for c, r in report["irrelevance"].items():
            print(f"{c}: {r['flagged_no_fit']:.3f} of {r['queries']} flagged fits=false")
        own = report["relevant_own_list_fits"]
        print(f"relevant queries with fits=true over their own list: {own:.3f}")
    misses = report.pop("_misses")
    if args.failures:
        args.failures.write_text("\n".join(json.dumps(m) for m in misses) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
