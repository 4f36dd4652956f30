"""Routing quality on the shipped sample catalog (not a test): its labelled queries, with long
bodies and near-duplicate families that BFCL lacks. It was used as a development set for the
rank signals and half of it trains the no-fit model, so treat it as in-distribution.

    python bench/sample_catalog.py        # prints a table, writes bench/results/sample_catalog.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from orchestrator._resources import data_path
from orchestrator.routing import SkillRouter

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    router = SkillRouter.from_catalog(data_path("skills", "sample.jsonl"))
    lines = data_path("skills", "sample_queries.jsonl").read_text(encoding="utf-8").splitlines()
    queries = [json.loads(line) for line in lines if line.strip()]
    relevant = [q for q in queries if q["gold"]]
    unrelated = [q for q in queries if not q["gold"]]
    top1 = recall5 = fits = 0.0
    latencies = []
    for q in relevant:
        start = time.perf_counter()
        result = router.route(q["query"], k=5)
        latencies.append((time.perf_counter() - start) * 1000)
        gold = set(q["gold"])
        top1 += result.matches[0].id in gold
        # A match stands for its near-duplicate group, so its group counts toward recall.
        shown = {s.id for m in result.matches for s in (m.skill, *m.duplicates)}
        recall5 += len(gold & shown) / len(gold)
        fits += result.fits
    flagged = sum(not router.route(q["query"], k=5).fits for q in unrelated)
    report = {
        "skills": len(router.skills),
        "queries": len(relevant),
        "no_fit_queries": len(unrelated),
        "top1": top1 / len(relevant),
        "recall@5_with_groups": recall5 / len(relevant),
        "relevant_fits": fits / len(relevant),
        "unrelated_flagged": flagged / max(1, len(unrelated)),
        "p50_ms": sorted(latencies)[len(latencies) // 2],
    }
    for key, value in report.items():
        print(f"{key:<22} {value:.3f}" if isinstance(value, float) else f"{key:<22} {value}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sample_catalog.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
