"""The effort router learning online, through the executor (not a test).

`bench/effort_replay.py` fits the router on training episodes whose outcomes are known at every
effort. A deployed router learns otherwise: from its own runs, seeing only the outcome of the
efforts it tried. This walks the held-out replay episodes (bench/effort_data.py) through real
``Executor`` runs, one run per step, with an ``EffortInvoker`` that answers each call with the
replay's outcome at the effort chosen: ``Reasoned`` output and tokens on success, a
``ToolCallError`` with the tokens spent on failure. The executor observes every call; the router
is fitted again on what it observed after every ``--refit-every`` episodes. Three routers walk
the same episodes in the same order, in the same process: one learning online from the policy's
priors (cold start), one fitted on the training episodes first and learning on (warm start), and
that fitted one frozen (what ``effort_replay.py`` measures); beside them fixed-high and the
low->medium->high cascade, computed from the outcomes.

    python bench/effort_data.py                  # replay data first
    python bench/effort_online.py                # text + signals (kNN, the default policy)
    python bench/effort_online.py --features signals

Prints tokens against fixed-high and episode success per window of episodes, in the order
walked, and writes bench/results/effort_online[_signals].json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio

from orchestrator.effort import (
    EffortPolicy,
    EffortRouter,
    ReplayStep,
    Step,
    TextEncoder,
    read_replay,
    training_observations,
)
from orchestrator.errors import ToolCallError
from orchestrator.execution import DecisionLog, Executor, Reasoned
from orchestrator.graph import ToolGraph
from orchestrator.policy import Policy

RESULTS = Path(__file__).resolve().parent / "results"


class ReplayedCalls:
    """An ``EffortInvoker`` whose answer at each effort is the replay's outcome for the step in
    hand; it counts the tokens the calls cost."""

    def __init__(self) -> None:
        self.step: ReplayStep | None = None
        self.tokens = 0.0

    async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        raise AssertionError("the executor has an effort router: every call has an effort")

    async def invoke_with_effort(self, tool: str, arguments: Mapping[str, Any], effort: str) -> Any:
        assert self.step is not None
        outcome = self.step.outcomes[effort]
        self.tokens += outcome.tokens
        if not outcome.success:
            raise ToolCallError(f"wrong at {effort} effort", tool=tool, tokens=outcome.tokens)
        return Reasoned({"tool": tool}, tokens=outcome.tokens)


def fast_retries() -> Policy:
    """The default policy without backoff sleeps: a retry here is a call at a higher effort."""
    data = Policy().model_dump()
    data["execution"]["retry"].update({"initial_s": 1e-6, "max_s": 1e-6, "jitter_s": 0.0})
    return Policy.model_validate(data)


def one_step_graph(s: ReplayStep) -> ToolGraph:
    graph = ToolGraph(start="Start", goal="Done", name=s.episode)
    graph.add_tool(s.tool, description=s.tool_description)
    graph.add_edge("Start", s.tool)
    graph.add_edge(s.tool, "Done")
    return graph


async def walk(
    router: EffortRouter,
    episodes: list[list[ReplayStep]],
    refit_every: int,
    policy: Policy,
) -> list[dict[str, Any]]:
    """Each episode's tokens and success with ``router``, in the order walked; the router is
    fitted again on all it observed after every ``refit_every`` episodes (0: never)."""
    calls = ReplayedCalls()
    rows: list[dict[str, Any]] = []
    for n, episode in enumerate(episodes, start=1):
        log = DecisionLog()  # one per episode: the router counts its earlier failures
        calls.tokens, solved = 0.0, True
        for s in episode:
            calls.step = s
            executor = Executor(one_step_graph(s), calls, policy=policy, effort=router)
            result = await executor.run({"task": s.context, "routing": s.signals}, log=log)
            solved = solved and result.outcome == "completed"
        rows.append({"tokens": calls.tokens, "solved": solved})
        if refit_every and n % refit_every == 0:
            router.fit()
    return rows


def fixed(episode: list[ReplayStep], ladder: tuple[str, ...]) -> dict[str, Any]:
    """An episode walked by a fixed ladder of efforts, each step climbing until it succeeds."""
    tokens, solved = 0.0, True
    for s in episode:
        ok = False
        for effort in ladder:
            tokens += s.outcomes[effort].tokens
            if s.outcomes[effort].success:
                ok = True
                break
        solved = solved and ok
    return {"tokens": tokens, "solved": solved}


def summary(rows: list[dict[str, Any]], high: list[dict[str, Any]]) -> dict[str, float]:
    spent, reference = sum(r["tokens"] for r in rows), sum(r["tokens"] for r in high)
    return {
        "tokens_vs_high": round(spent / reference, 4),
        "episode_success": round(sum(r["solved"] for r in rows) / len(rows), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=RESULTS / "effort")
    parser.add_argument("--features", choices=["text", "signals"], default="text")
    parser.add_argument("--refit-every", type=int, default=20, help="episodes between fits")
    parser.add_argument("--windows", type=int, default=4, help="report windows of episodes")
    parser.add_argument("--seed", type=int, default=0, help="order of the held-out episodes")
    args = parser.parse_args()
    train_file, test_file = args.data / "train.jsonl", args.data / "test.jsonl"
    if not test_file.exists():
        sys.exit(f"{test_file} missing: run python bench/effort_data.py first")
    encoder = TextEncoder()  # one embedding cache for every router
    policy = EffortPolicy(features=args.features)
    levels = policy.levels
    test = read_replay(test_file, levels)
    train = training_observations(read_replay(train_file, levels), levels)
    grouped: dict[str, list[ReplayStep]] = {}
    for s in test:
        grouped.setdefault(s.episode, []).append(s)
    episodes = [sorted(steps, key=lambda s: s.step) for steps in grouped.values()]
    random.Random(args.seed).shuffle(episodes)
    if args.features == "text":  # embed every text the executor will show, in batches
        encoder.warm([Step(s.context, s.tool, s.tool_description).text() for s in test])
    routers = {
        "online, cold start": (EffortRouter(policy, encoder=encoder), args.refit_every),
        "online, warm start": (EffortRouter(policy, encoder=encoder).fit(train), args.refit_every),
        "offline (trained, frozen)": (EffortRouter(policy, encoder=encoder).fit(train), 0),
    }
    high = [fixed(e, (levels[-1],)) for e in episodes]
    results = {
        "fixed-high": high,
        "cascade low->medium->high": [fixed(e, levels) for e in episodes],
    }
    started = time.perf_counter()
    for name, (router, refit_every) in routers.items():
        results[name] = anyio.run(walk, router, episodes, refit_every, fast_retries())
    walk_s = time.perf_counter() - started
    size = -(-len(episodes) // args.windows)
    spans = [(i, min(i + size, len(episodes))) for i in range(0, len(episodes), size)]
    table = {
        name: {
            **{f"{a + 1}-{b}": summary(rows[a:b], high[a:b]) for a, b in spans},
            "all": summary(rows, high),
        }
        for name, rows in results.items()
    }
    print(
        f"{len(test)} held-out steps in {len(episodes)} episodes, walked in a shuffled order "
        f"(seed {args.seed}); features {args.features}; online routers fitted again every "
        f"{args.refit_every} episodes; {walk_s:.0f} s for the three routers' walks"
    )
    columns = list(next(iter(table.values())))
    print("tokens vs fixed-high / episode success, by episodes walked")
    print(f"{'policy':<28}" + "".join(f"{c:>16}" for c in columns))
    for name, cells in table.items():
        row = "".join(
            f"{cells[c]['tokens_vs_high']:.3f} / {cells[c]['episode_success']:.3f}".rjust(16)
            for c in columns
        )
        print(f"{name:<28}{row}")
    suffix = "" if args.features == "text" else "_signals"
    out = RESULTS / f"effort_online{suffix}.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {"args": {**vars(args), "data": str(args.data)}, "table": table}
    out.write_text(json.dumps(report, indent=2))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
