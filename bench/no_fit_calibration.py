"""Calibrating "nothing fits" on a catalog's own queries (not a test): fit on one half of the
labelled queries with ``calibrate_no_fit`` (what ``orchestrator train no-fit`` runs), judge on
the other half, against the shipped no-fit model on that same half, in one process. Both
calibrations are run: the shipped weights with a new threshold, and weights fitted anew.

    python bench/no_fit_calibration.py                     # the sample catalog
    python bench/no_fit_calibration.py --catalog C --queries Q [--embedder DIR] [--keep 0.97]

Queries are split by line parity: even lines calibrate, odd lines judge. The shipped model was
fitted with the even lines of the sample catalog's queries too (``bench/train_reranker.py``), so
on the sample catalog both are judged on lines neither saw. Writes
bench/results/no_fit_calibration.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from orchestrator._resources import data_path
from orchestrator.routing import (
    LabelledQuery,
    SkillRouter,
    calibrate_no_fit,
    read_labelled_queries,
)

RESULTS = Path(__file__).resolve().parent / "results"


def shares(router: SkillRouter, queries: list[LabelledQuery]) -> dict[str, float]:
    """Share of relevant queries that keep ``fits``, and of unrelated ones flagged."""
    relevant = [q.query for q in queries if q.gold]
    unrelated = [q.query for q in queries if not q.gold]
    fit = [r.fits for r in router.route_batch(relevant, k=1)]
    flagged = [not r.fits for r in router.route_batch(unrelated, k=1)]
    return {
        "relevant": len(relevant),
        "relevant_fit": sum(fit) / max(1, len(fit)),
        "unrelated": len(unrelated),
        "unrelated_flagged": sum(flagged) / max(1, len(flagged)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--catalog", type=Path, default=data_path("skills", "sample.jsonl"))
    parser.add_argument("--queries", type=Path, default=data_path("skills", "sample_queries.jsonl"))
    parser.add_argument("--embedder", type=Path, default=None)
    parser.add_argument("--keep", type=float, default=0.97)
    args = parser.parse_args()

    router = SkillRouter.from_catalog(args.catalog, embedder=args.embedder)
    labelled = read_labelled_queries(args.queries)
    calibrate_on, judge_on = labelled[0::2], labelled[1::2]
    routers = {"shipped": router}
    thresholds = {"shipped": router.policy.no_fit.threshold}
    for name, refit in (("threshold only", False), ("refitted", True)):
        calibration = calibrate_no_fit(router, calibrate_on, keep=args.keep, refit_weights=refit)
        thresholds[name] = calibration.policy.threshold
        routers[name] = SkillRouter(
            router.index,
            router.embedder,
            router.policy.model_copy(update={"no_fit": calibration.policy}),
        )
    report = {
        "catalog": str(args.catalog),
        "embedder": router.embedder.name,
        "keep": args.keep,
        "threshold": thresholds,
        "held_out": {name: shares(r, judge_on) for name, r in routers.items()},
    }
    print(
        f"{args.catalog.name}: calibrated on {len(calibrate_on)} queries (keep {args.keep}), "
        f"judged on {len(judge_on)} others ({router.embedder.name})"
    )
    print(f"{'no-fit model':<15} {'threshold':>9} {'relevant fit':>15} {'unrelated flagged':>18}")
    for name, row in report["held_out"].items():
        print(
            f"{name:<15} {thresholds[name]:9.4f} "
            f"{row['relevant_fit']:8.3f} (n={row['relevant']}) "
            f"{row['unrelated_flagged']:8.3f} (n={row['unrelated']})"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "no_fit_calibration.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
