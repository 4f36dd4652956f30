"""The effort router on replay data from BFCL multi-turn (bench/effort_data.py): fit on the
train episodes, walk the held-out ones, and compare with fixed levels, a medium->high cascade,
a low->medium->high cascade and the oracle, all in the same run.

    python bench/effort_data.py        # writes bench/results/effort/{train,test}.jsonl
    python bench/effort_replay.py      # table + bench/results/effort_replay.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from orchestrator.effort import (
    EffortPolicy,
    EffortRouter,
    PolicyResult,
    TextEncoder,
    read_replay,
    replay,
    training_observations,
)

RESULTS = Path(__file__).resolve().parent / "results"
CONFIGS: dict[str, dict[str, Any]] = {
    "knn text+signals (default)": {},
    "knn signals only": {"features": "signals"},
    "logistic text+signals": {"model": "logistic"},
    "logistic signals only": {"model": "logistic", "features": "signals"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=RESULTS / "effort")
    parser.add_argument("--only", choices=list(CONFIGS), help="run one router configuration")
    args = parser.parse_args()
    train_file, test_file = args.data / "train.jsonl", args.data / "test.jsonl"
    if not train_file.exists():
        sys.exit(f"{train_file} missing: run python bench/effort_data.py first")
    levels = EffortPolicy().levels
    train = training_observations(read_replay(train_file, levels), levels)
    test = read_replay(test_file, levels)
    encoder = TextEncoder()  # one embedding cache for every configuration
    rows: list[dict[str, Any]] = []
    baselines: list[PolicyResult] = []
    for name, overrides in CONFIGS.items():
        if args.only and name != args.only:
            continue
        router = EffortRouter(EffortPolicy(**overrides), encoder=encoder)
        started = time.perf_counter()
        router.fit(train)
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        report = replay(router, test)
        walk_s = time.perf_counter() - started
        high = report.high_tokens
        policy = report.results[0].to_dict(high)
        rows.append({**policy, "policy": f"router: {name}", "fit_s": fit_s, "walk_s": walk_s})
        baselines = report.results[1:]
    # The low->medium->high cascade is the router's own fallback without a model: a baseline.
    ladder = replay(EffortRouter(EffortPolicy(features="signals", failure_cost_tokens=1e12)), test)
    ladder_row = ladder.results[0].to_dict(ladder.high_tokens)
    ladder_row["policy"] = "cascade low->medium->high"
    rows += [r.to_dict(high) for r in baselines] + [ladder_row]
    print(
        f"held-out: {len(test)} steps in {baselines[0].episodes} episodes; train "
        f"{len(train) // len(levels)} steps"
    )
    header = (
        "policy",
        "tokens",
        "tokens_vs_high",
        "episode_success",
        "step_success",
        "attempts_per_step",
    )
    widths = [34, 11, 14, 15, 12, 17]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        cells = [str(row[h]) for h in header]
        print(" | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "effort_replay.json"
    out.write_text(json.dumps({"rows": rows}, indent=2))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
