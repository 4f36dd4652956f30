"""The effort router on replay data from BFCL multi-turn (bench/effort_data.py): fit on the
train episodes, walk the held-out ones, and compare with fixed levels, a medium->high cascade,
a low->medium->high cascade and the oracle, all in the same run.

    python bench/effort_data.py        # writes bench/results/effort/{train,test}.jsonl
    python bench/effort_replay.py      # table + bench/results/effort_replay_effort.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from effort_data import ABILITY, CATEGORIES, REASONING

from orchestrator.effort import (
    EffortPolicy,
    EffortRouter,
    Estimate,
    PolicyResult,
    ReplayStep,
    Step,
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


class _Told(EffortRouter):
    """A router told the step's (hidden) difficulty: an upper bound, not a policy."""

    current: Estimate

    def estimate(self, step: Step) -> Estimate:
        return self.current


def _told_estimate(d: float, spread: float) -> Estimate:
    """P(success) and expected tokens per level for difficulty d plus N(0, spread) unknown."""
    z = np.random.default_rng(0).normal(0.0, 1.0, 400) * spread if spread else np.zeros(1)
    ds = d + z
    success = {e: float((1 / (1 + np.exp(-2 * (a - ds)))).mean()) for e, a in ABILITY.items()}
    scale = np.exp(0.3 * np.clip(ds, -2, 4)).mean() * np.exp(0.25**2 / 2)
    tokens = {e: float(r * scale + 25) for e, r in REASONING.items()}
    return Estimate(success, tokens)


def _bound(
    name: str, test: list[ReplayStep], hidden: dict[tuple[str, int], dict[str, float]], key: str
) -> PolicyResult:
    """Walk ``test`` as the replay does, with the router told ``key`` (d or d_call)."""
    router = _Told(EffortPolicy(features="signals"))
    offset = float(np.mean(list(CATEGORIES.values())))
    spread = 0.0 if key == "d" else float(np.hypot(0.6, 0.6))
    result = PolicyResult(name)
    episodes: dict[str, list[ReplayStep]] = {}
    for s in test:
        episodes.setdefault(s.episode, []).append(s)
    for steps in episodes.values():
        solved = True
        for s in steps:
            d = hidden[(s.episode, s.step)][key] + (0.0 if key == "d" else offset)
            router.current = _told_estimate(d, spread)
            step = s.as_step(0)
            effort: str | None = router.choose(step)
            tried: list[str] = []
            while effort is not None:
                tried.append(effort)
                if s.outcomes[effort].success:
                    break
                effort = router.escalate(replace(step, tried=tuple(tried)), effort)
            ok = any(s.outcomes[e].success for e in tried)
            result.tokens += sum(s.outcomes[e].tokens for e in tried)
            result.attempts += len(tried)
            result.steps += 1
            result.steps_solved += ok
            solved = solved and ok
        result.episodes += 1
        result.episodes_solved += solved
    return result


def _auc(router: EffortRouter, test: list[ReplayStep], level: str) -> float:
    """How well the router ranks held-out steps by P(success at level) (0.5: not at all)."""
    p = np.asarray([router.estimate(s.as_step(0)).success[level] for s in test])
    y = np.asarray([s.outcomes[level].success for s in test])
    pos, neg = p[y], p[~y]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


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
        auc = {level: _auc(router, test, level) for level in levels}
        rows.append(
            {**policy, "policy": f"router: {name}", "fit_s": fit_s, "walk_s": walk_s, "auc": auc}
        )
        print(
            f"{name}: held-out AUC of P(success) "
            + ", ".join(f"{level} {value:.3f}" for level, value in auc.items())
        )
        baselines = report.results[1:]
    # The low->medium->high cascade is the router's own fallback without a model: a baseline.
    ladder = replay(EffortRouter(EffortPolicy(features="signals", failure_cost_tokens=1e12)), test)
    ladder_row = ladder.results[0].to_dict(ladder.high_tokens)
    ladder_row["policy"] = "cascade low->medium->high"
    rows += [r.to_dict(high) for r in baselines] + [ladder_row]
    hidden_file = args.data / "test.hidden.jsonl"
    if hidden_file.exists():
        hidden = {}
        for text in hidden_file.read_text().splitlines():
            h = json.loads(text)
            hidden[(h["episode"], h["step"])] = h
        for key, label in (("d_call", "bound: told d_call"), ("d", "bound: told d")):
            rows.append(_bound(label, test, hidden, key).to_dict(high))
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
    out = RESULTS / f"effort_replay_{args.data.name}.json"
    out.write_text(json.dumps({"rows": rows}, indent=2))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
