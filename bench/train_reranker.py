"""Fit the no-fit model (weights, bias, threshold) on BFCL's non-live split.

    python bench/train_reranker.py            # fit and print
    python bench/train_reranker.py --write    # also write them into policies/default.yaml
    python bench/train_reranker.py --embedder DIR --policy-out FILE   # for another embedder:
                                              # a policy overlay with its own fit model

Reproducible and CPU-only. Two catalogs, so the model does not learn one catalog's score scale:
BFCL non-live (positives: queries with a fitting function, routed over the whole pool and over
their own function list; negatives: the irrelevance queries over their own lists) and the
sample catalog (every other query of ``skills/sample_queries.jsonl``; the rest is held out). The
threshold keeps 97% of BFCL's non-live relevant queries fitting. Live data is never read here;
judge the result with ``bench/retrieval.py``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bfcl

from orchestrator._files import write_text_atomic
from orchestrator._resources import data_path
from orchestrator.errors import IndexFormatError
from orchestrator.policy import load_policy
from orchestrator.routing import (
    FIT_FEATURES,
    SkillIndex,
    SkillRouter,
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


def top_features(
    router: SkillRouter, texts: list[str], only: list[tuple[str, ...]] | None = None
) -> np.ndarray:
    """The fit features of each query's best match (over ``only[i]`` when given; a query with
    an empty list has no match and no row)."""
    if only is None:
        return router.fit_evidence(texts)
    vectors = router.embed_queries(texts)
    rows = [
        router.fit_evidence([t], only=o, vectors=v[None, :])
        for t, o, v in zip(texts, only, vectors, strict=True)
        if o
    ]
    return np.vstack(rows)


def sample_queries(half: int) -> tuple[list[str], list[str]]:
    """The sample catalog's queries, every other line (half 0 trains, half 1 is held out):
    (texts with a fitting skill, texts without)."""
    lines = data_path("skills", "sample_queries.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()][half::2]
    return [q["query"] for q in items if q["gold"]], [q["query"] for q in items if not q["gold"]]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="write into policies/default.yaml")
    parser.add_argument("--reuse-index", action="store_true", help="reuse the cached pool index")
    parser.add_argument("--l2", type=float, default=1e-2)
    parser.add_argument(
        "--embedder", type=Path, help="fit for this local embedder instead of the default"
    )
    parser.add_argument(
        "--policy-out", type=Path, help="write the fit model as a policy overlay (YAML) here"
    )
    args = parser.parse_args()
    if args.write and args.embedder is not None:
        parser.error("--write is for the default embedder; use --policy-out with --embedder")

    router, _ = pool_router(args.reuse_index, args.embedder)
    sample = SkillRouter.from_catalog(
        data_path("skills", "sample.jsonl"),
        index_dir=bfcl.cache_dir() / f"sample-index-{router.embedder.name}",
        embedder=router.embedder,
    )
    relevant = [q for c in bfcl.NON_LIVE for q in bfcl.queries(c)]
    irrelevant = [q for c in bfcl.IRRELEVANCE_NON_LIVE for q in bfcl.queries(c)]
    texts = [q.text for q in relevant]
    sample_pos, sample_neg = sample_queries(0)
    pos_parts = [
        top_features(router, texts),
        top_features(router, texts, [q.own_ids for q in relevant]),
        top_features(sample, sample_pos),
    ]
    neg_parts = [
        top_features(router, [q.text for q in irrelevant], [q.own_ids for q in irrelevant]),
        top_features(sample, sample_neg),
    ]
    # Each source weighs the same, and so do the two classes, so neither BFCL's size nor the
    # class ratio sets the trade-off: the threshold does.
    x = np.vstack(pos_parts + neg_parts)
    y = np.concatenate([np.ones(sum(map(len, pos_parts))), np.zeros(sum(map(len, neg_parts)))])
    weight = np.concatenate(
        [np.full(len(p), 1.0 / (len(p) * len(pos_parts))) for p in pos_parts]
        + [np.full(len(n), 1.0 / (len(n) * len(neg_parts))) for n in neg_parts]
    )
    w, b = fit_logistic(x, y, l2=args.l2, sample_weight=weight * len(x))
    threshold = float(np.quantile(_prob(pos_parts[0], w, b), 1 - KEEP))
    print(f"no-fit threshold {threshold:.4f} (keeps {KEEP:.0%} of BFCL non-live relevant queries)")
    held_pos, held_neg = sample_queries(1)
    for name, part, fits_expected in [
        ("BFCL non-live relevant, pool", pos_parts[0], True),
        ("BFCL non-live relevant, own list", pos_parts[1], True),
        ("BFCL non-live irrelevance, own list", neg_parts[0], False),
        ("sample catalog relevant (train half)", pos_parts[2], True),
        ("sample catalog no-fit (train half)", neg_parts[1], False),
        ("sample catalog relevant (held-out half)", top_features(sample, held_pos), True),
        ("sample catalog no-fit (held-out half)", top_features(sample, held_neg), False),
    ]:
        fits = _prob(part, w, b) >= threshold
        share = fits.mean() if fits_expected else 1 - fits.mean()
        verb = "fit" if fits_expected else "flagged"
        print(f"  {name:<42} {share:.3f} {verb} (n={len(part)})")
    weights = {f: round(float(v), 5) for f, v in zip(FIT_FEATURES, w, strict=True)}
    for f, v in weights.items():
        print(f"  {f:<14} {v:+.4f}")
    print(f"  {'bias':<14} {b:+.4f}")
    if args.write:
        write_policy(weights, round(b, 5), round(threshold, 4))
    if args.policy_out is not None:
        no_fit = {"threshold": round(threshold, 4), "weights": weights, "bias": round(b, 5)}
        header = f"# The fit model for {router.embedder.name} (bench/train_reranker.py).\n"
        write_text_atomic(args.policy_out, header + yaml.safe_dump({"routing": {"no_fit": no_fit}}))
        print(f"wrote {args.policy_out}")


def _prob(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-(x @ w + b))))


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
