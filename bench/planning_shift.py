"""Does learning from past runs carry to other tools and other conversations? (not a test)

``bench/planning.py`` judges the usage model in-domain: fitted on the tuning half of
``multi_turn_base``, measured on the held-out half, over the same APIs and the same kind of
conversations. Here the same model is judged on data it was not fitted for, against the planner
alone (and the in-domain model) on the same tasks, in the same run:

- **Unseen tools** (leave one API out): for each API class of the multi-turn data, the model of
  the tuning-half runs whose conversation does not involve that class plans the held-out tasks
  of the conversations that do. Row "no API seen": each held-out task with the model of the
  tuning runs that share no class with its conversation.
- **Other conversations, same tools**: the model of the whole ``multi_turn_base`` tuning half
  (even entry ids) plans the held-out half (odd ids) of ``multi_turn_long_context`` and
  ``multi_turn_miss_param``. An entry of those shares its number with the base conversation it
  was made from, so the parity split keeps every tuning conversation's twin out of the
  evaluation. For reference, the model of that category's own tuning half (in-domain). The
  planner reads only the user's turn, and most turns of these categories are base turns word
  for word (long_context changes the environment and the tools' outputs, which the planner does
  not see); "new turns" are the held-out turns that are no base turn (in miss_param, mostly the
  follow-ups that give a missing parameter: "The folder name is 'backup_tests'.").

*helped* / *hurt*: share of the tasks whose plan became full / stopped being full with the model
(against the planner alone); *recalled*: share of the tasks for which the model recalled similar
past tasks (otherwise it changes a plan only through learned prerequisites and order).

Replays ``Planner.assemble`` over each task's routing, cached as ``bench/planning_ablation.py``
does (the same cache for ``multi_turn_base``), so all models see the same routing.

    python bench/planning_shift.py              # route (or reuse the cache), print the table
    python bench/planning_shift.py --reroute    # route again (after a routing change)

Writes bench/results/planning_shift.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bfcl
from planning import RESULTS, conversation, half, multi_turn_router, summarise
from planning_ablation import KnownVectors, Routed, fitted, plan_rows, routed_tasks

from orchestrator.planning import Planner, UsageModel
from orchestrator.policy import load_policy
from orchestrator.routing import SkillRouter

BASE = "multi_turn_base"
OTHER_CONVERSATIONS = ("multi_turn_long_context", "multi_turn_miss_param")
ModelFor = Callable[[bfcl.Task], UsageModel | None]


def compare(
    rows: dict[str, list[dict[str, Any]]], keep: Callable[[dict[str, Any]], bool]
) -> dict[str, dict[str, float]]:
    """Each method's summary on the kept tasks, with what it changed against the planner
    alone (the first method)."""
    alone = [r for r in next(iter(rows.values())) if keep(r)]
    out = {}
    for name, method_rows in rows.items():
        kept = [r for r in method_rows if keep(r)]
        summary = summarise(kept)
        if not kept:
            out[name] = summary
            continue
        pairs = list(zip(alone, kept, strict=True))
        summary["helped"] = statistics.fmean(float(b["full"] > a["full"]) for a, b in pairs)
        summary["hurt"] = statistics.fmean(float(b["full"] < a["full"]) for a, b in pairs)
        summary["changed"] = statistics.fmean(float(b["plan"] != a["plan"]) for a, b in pairs)
        summary["recalled"] = statistics.fmean(float(r["recalled"]) for r in kept)
        out[name] = summary
    return out


def unseen_tools(
    planner: Planner,
    routed: list[Routed],
    past: list[bfcl.Task],
    known: KnownVectors,
    vectors: dict[str, Any],
) -> dict[str, Any]:
    """Held-out base tasks planned by models that never saw their API (leave one class out)."""
    classes = bfcl.multi_turn_classes(BASE)
    held = [r for r in routed if half(r[0]) == "held"]
    in_domain = fitted(past, known)
    by_excluded: dict[frozenset[str], UsageModel] = {}

    def without(excluded: Iterable[str]) -> UsageModel:
        key = frozenset(excluded)
        if key not in by_excluded:
            kept = (t for t in past if not key & set(classes[conversation(t)]))
            by_excluded[key] = fitted(kept, known)
        return by_excluded[key]

    def of(task_id: str) -> tuple[str, ...]:
        return classes[task_id.split(":")[0]]

    alone = plan_rows(planner, held, None, vectors)
    with_in_domain = plan_rows(planner, held, lambda t: in_domain, vectors)
    strict = plan_rows(planner, held, lambda t: without(of(t.id)), vectors)
    report: dict[str, Any] = {
        "no API seen": compare(
            {"planner": alone, "+ in-domain model": with_in_domain, "+ model, API unseen": strict},
            lambda r: True,
        )
    }
    report["no API seen"]["past_runs"] = statistics.fmean(len(without(of(r.id))) for r, *_ in held)
    for api in sorted({c for names in classes.values() for c in names}):
        routed_api = [r for r in held if api in of(r[0].id)]
        if not routed_api:
            continue
        model = without([api])
        left_out = plan_rows(planner, routed_api, lambda t, m=model: m, vectors)
        ids = {r[0].id for r in routed_api}
        report[api] = compare(
            {
                "planner": [r for r in alone if r["id"] in ids],
                "+ in-domain model": [r for r in with_in_domain if r["id"] in ids],
                "+ model, API unseen": left_out,
            },
            lambda r: True,
        )
        report[api]["past_runs"] = len(model)
    return report


def other_conversations(
    planner: Planner,
    category: str,
    past: list[bfcl.Task],
    reroute: bool,
    known: KnownVectors,
    vectors: dict[str, Any],
) -> dict[str, Any]:
    """The base tuning half's model on another category's held-out half."""
    tasks = bfcl.multi_turn_tasks(category)
    own_past = [t for t in tasks if half(t) == "tune"]
    held = [t for t in tasks if half(t) == "held"]
    assert not {conversation(t).rsplit("_", 1)[1] for t in held} & {
        conversation(t).rsplit("_", 1)[1] for t in past
    }, "a tuning conversation's twin is in the evaluation"
    routed = routed_tasks(planner, held, reroute)
    base_model = fitted(past, known)
    own_model = fitted(own_past, known)
    rows = {
        "planner": plan_rows(planner, routed, None, vectors),
        "+ base model (shift)": plan_rows(planner, routed, lambda t: base_model, vectors),
        "+ own-category model": plan_rows(planner, routed, lambda t: own_model, vectors),
    }
    # Most turns of these categories are base turns word for word (their twins, held out too);
    # the new ones are what the planner, which reads only the turn, sees differently.
    base_texts = {t.text.strip() for t in bfcl.multi_turn_tasks(BASE)}
    new = {t.id for t in held if t.text.strip() not in base_texts}
    report: dict[str, Any] = {
        "all turns": compare(rows, lambda r: True),
        "new turns": compare(rows, lambda r: r["id"] in new),
    }
    tuning_texts = {t.text.strip() for t in past}
    report["verbatim_in_base_tuning"] = statistics.fmean(
        float(t.text.strip() in tuning_texts) for t in held
    )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--reroute", action="store_true", help="route again, ignore the cache")
    parser.add_argument("--out", type=Path, default=RESULTS / "planning_shift.json")
    args = parser.parse_args()

    started = time.perf_counter()
    load = [os.getloadavg()[0]]
    router, _ = multi_turn_router(reuse=True)
    policy = load_policy(None)
    router = SkillRouter(router.index, router.embedder, policy.routing, index_dir=router.index_dir)
    planner = Planner.from_router(router, policy)
    base = bfcl.multi_turn_tasks(BASE)
    routed = routed_tasks(planner, base, args.reroute)
    load.append(os.getloadavg()[0])
    others = {c: bfcl.multi_turn_tasks(c) for c in OTHER_CONVERSATIONS}
    every = [*base, *(t for tasks in others.values() for t in tasks)]
    texts = sorted({t.text.strip() for t in every})
    known = KnownVectors(
        router.embedder.name, dict(zip(texts, router.embedder.encode(texts), strict=True))
    )
    vectors = {t.id: known.by_text[t.text.strip()] for t in every}
    past = [t for t in base if half(t) == "tune"]

    report: dict[str, Any] = {"unseen_tools": unseen_tools(planner, routed, past, known, vectors)}
    report["other_conversations"] = {
        c: other_conversations(planner, c, past, args.reroute, known, vectors)
        for c in OTHER_CONVERSATIONS
    }
    load.append(os.getloadavg()[0])
    report["wall_s"] = time.perf_counter() - started
    report["load_average_1min"] = load

    header = (
        f"{'shift':<32} {'model':<22} {'tasks':>5} {'full':>6} {'prec':>6} {'recall':>7} "
        f"{'ordered':>8} {'recalled':>9} {'helped':>7} {'hurt':>6}"
    )
    print(header)
    sections = [(f"unseen tools: {k}", v) for k, v in report["unseen_tools"].items()]
    sections += [
        (f"{c.removeprefix('multi_turn_')}: {part}", v[part])
        for c, v in report["other_conversations"].items()
        for part in ("all turns", "new turns")
    ]
    for title, methods in sections:
        for name, m in methods.items():
            if not isinstance(m, dict) or not m:
                continue
            print(
                f"{title:<32} {name:<22} {m['tasks']:5d} {m['full']:6.3f} {m['precision']:6.3f} "
                f"{m['recall']:7.3f} {m['ordered_of_full']:8.3f} {m['recalled']:9.3f} "
                f"{m['helped']:7.3f} {m['hurt']:6.3f}"
            )
    print(f"{report['wall_s']:.0f} s wall clock, load average {load}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
