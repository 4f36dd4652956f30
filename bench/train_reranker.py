"""Fit the no-fit model (weights, bias, threshold) on BFCL's non-live split.

    python bench/train_reranker.py            # fit and print
    python bench/train_reranker.py --write    # also write them into policies/default.yaml

Reproducible and CPU-only. Positives are non-live queries that have a fitting function, routed
over the whole pool and over their own function list; negatives are the non-live irrelevance
queries, routed over their own (non-fitting) lists. The threshold keeps 97% of the positives
fitting. Live data is never read here; judge the result with ``bench/retrieval.py``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bfcl

from orchestrator._resources import data_path
from orchestrator.errors import IndexFormatError
from orchestrator.policy import load_policy
from orchestrator.routing import (
    FIT_FEATURES,
    SkillIndex,
    SkillRouter,
    fit_features,
    fit_logistic,
    load_embedder,
)

BEGIN, END = "    # >>> trained fit model", "    # <<< trained fit model"
KEEP = 0.97


def pool_router(reuse: bool, embedder_path: Path | None = None) -> tuple[SkillRouter, float]:
    """The router over the BFCL pool, and how long its index took to build (nan if reused)."""
    import time

    policy = load_policy().routing
    skills, _ = bfcl.pool()
    embedder = load_embedder(embedder_path)
    cache = bfcl.cache_dir() / f"pool-index-{embedder.name}"
    index = None
    if reuse and (cache / "manifest.json").exists():
        try:
            index = SkillIndex.load(cache)
        except IndexFormatError:
            index = None
        if index and (index.embedder_name != embedder.name or index.policy != policy.index):
            index = None
    build_s = float("nan")
    if index is None:
        start = time.perf_counter()
        index = SkillIndex.build(list(skills), embedder, policy.index)
        build_s = time.perf_counter() - start
        index.save(cache)
    return SkillRouter(index, embedder, policy), build_s


def top_features(router: SkillRouter, queries: list[bfcl.Query], own_list: bool) -> np.ndarray:
    vectors = router.embedder.encode([q.text for q in queries], batch_size=64)
    rows = []
    for query, vector in zip(queries, vectors, strict=True):
        only = query.own_ids if own_list else None
        result = router.route(query.text, k=2, only=only)
        cands = router.candidates(query.text, only=only, vector=vector)
        by_id = {router.skills[c.row].id: c for c in cands}
        ranked = [by_id[m.skill.id] for m in result.matches if m.skill.id in by_id]
        if ranked:
            rows.append(fit_features(ranked[0], ranked[1] if len(ranked) > 1 else None))
    return np.vstack(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="write into policies/default.yaml")
    parser.add_argument("--reuse-index", action="store_true", help="reuse the cached pool index")
    parser.add_argument("--l2", type=float, default=1e-2)
    args = parser.parse_args()

    router, _ = pool_router(args.reuse_index)
    relevant = [q for c in bfcl.NON_LIVE for q in bfcl.queries(c)]
    irrelevant = [q for c in bfcl.IRRELEVANCE_NON_LIVE for q in bfcl.queries(c)]
    pos = np.vstack([top_features(router, relevant, False), top_features(router, relevant, True)])
    neg = top_features(router, irrelevant, True)
    x = np.vstack([pos, neg])
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    # Balance the classes so the threshold, not the class ratio, sets the trade-off.
    x_bal = np.vstack([x, np.repeat(neg, max(1, len(pos) // len(neg)) - 1, axis=0)])
    y_bal = np.concatenate([y, np.zeros(len(x_bal) - len(x))])
    w, b = fit_logistic(x_bal, y_bal, l2=args.l2)
    p_pos = 1 / (1 + np.exp(-(pos @ w + b)))
    p_neg = 1 / (1 + np.exp(-(neg @ w + b)))
    threshold = float(np.quantile(p_pos, 1 - KEEP))
    print(f"positives {len(pos)}, negatives {len(neg)}")
    print(
        f"threshold {threshold:.4f}: keeps {np.mean(p_pos >= threshold):.3f} of relevant, "
        f"flags {np.mean(p_neg < threshold):.3f} of irrelevance (non-live, in-sample)"
    )
    weights = {f: round(float(v), 5) for f, v in zip(FIT_FEATURES, w, strict=True)}
    for f, v in weights.items():
        print(f"  {f:<14} {v:+.4f}")
    print(f"  {'bias':<14} {b:+.4f}")
    if args.write:
        write_policy(weights, round(b, 5), round(threshold, 4))


def write_policy(weights: dict[str, float], bias: float, threshold: float) -> None:
    path = data_path("policies", "default.yaml")
    text = path.read_text(encoding="utf-8")
    block = [
        BEGIN + " (bench/train_reranker.py --write; do not edit by hand)",
        f"    threshold: {threshold}",
        "    weights:",
        *[f"      {f}: {v}" for f, v in weights.items()],
        f"    bias: {bias}",
        END,
    ]
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path}: markers {BEGIN!r} ... {END!r} not found under routing.no_fit")
    path.write_text(pattern.sub(lambda _: "\n".join(block), text), encoding="utf-8")
    print(f"wrote the fit model into {path}")


if __name__ == "__main__":
    main()
