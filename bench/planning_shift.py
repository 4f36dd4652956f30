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

Each model is run with the policy as given and without its familiarity guard (``planning.usage.
min_familiarity: 0``: a task whose routed candidates past runs never called recalls as any other).

The same unseen-tools measure on the tuning half (each task's own conversation is among the
left-out ones) and, there only, the sweeps the guard was chosen from: ``min_similarity`` without
the guard (recalling only from more alike past tasks), and the guard's ``familiar_depth``,
``min_familiarity`` and ``unfamiliar_min_similarity``.

*helped* / *hurt*: share of the tasks whose plan became full / stopped being full with the model
(against the planner alone); *recalled*: share of the tasks for which the model recalled similar
past tasks (otherwise it changes a plan only through learned prerequisites and order).

Replays ``Planner.assemble`` over each task's routing, cached as ``bench/planning_ablation.py``
does (the same cache for ``multi_turn_base``), so all models see the same routing.

    python bench/planning_shift.py              # route (or reuse the cache), print the table
    python bench/planning_shift.py --reroute    # route again (after a routing change)
    python bench/planning_shift.py --policy P   # with a policy merged over the default

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
from planning_ablation import KnownVectors, Routed, fitted, plan_rows, routed_tasks, with_usage

from orchestrator.planning import Planner, UsageModel
from orchestrator.policy import load_policy
from orchestrator.routing import SkillRouter

BASE = "multi_turn_base"
OTHER_CONVERSATIONS = ("multi_turn_long_context", "multi_turn_miss_param")
SWEEP = (0.2, 0.25, 0.3, 0.35, 0.4)  # min_similarity without the guard; 0.2 is the default
# (familiar_depth, min_familiarity, unfamiliar_min_similarity); the default is (10, 0.2, 0.4)
GUARD_SWEEP = [
    (depth, share, floor)
    for depth in (5, 10, 20)
    for share in (0.1, 0.2, 0.3)
    for floor in (0.35, 0.4, 0.45)
]


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


class Models:
    """Usage models of the base tuning half's runs, fitted once each: the whole half, the half
    without one conversation, the half without the conversations involving some API classes."""

    def __init__(self, past: list[bfcl.Task], known: KnownVectors) -> None:
        self.past = past
        self.known = known
        self.classes = bfcl.multi_turn_classes(BASE)
        self._fitted: dict[tuple[frozenset[str], str], UsageModel] = {}

    def _model(self, excluded: Iterable[str] = (), conversation_id: str = "") -> UsageModel:
        key = (frozenset(excluded), conversation_id)
        if key not in self._fitted:
            kept = (
                t
                for t in self.past
                if not key[0] & set(self.classes[conversation(t)])
                and conversation(t) != conversation_id
            )
            self._fitted[key] = fitted(kept, self.known)
        return self._fitted[key]

    def of(self, task: bfcl.Task) -> tuple[str, ...]:
        return self.classes[conversation(task)]

    def in_domain(self, task: bfcl.Task) -> UsageModel:
        """The tuning half; without the task's own conversation when it is in it."""
        return self._model(conversation_id=conversation(task) if half(task) == "tune" else "")

    def without(self, excluded: Iterable[str]) -> UsageModel:
        return self._model(excluded)

    def unseen(self, task: bfcl.Task) -> UsageModel:
        """The tuning runs that share no API class with the task's conversation."""
        return self._model(self.of(task))


def unseen_tools(
    planner: Planner, routed: list[Routed], models: Models, vectors: dict[str, Any], part: str
) -> dict[str, Any]:
    """Base tasks of one half planned by models that never saw their API (leave one class
    out), beside the planner alone and the in-domain model."""
    tasks = [r for r in routed if half(r[0]) == part]
    guarded = planner.policy
    unguarded = with_usage(guarded, min_familiarity=0.0)

    def rows(model_for: Callable[[bfcl.Task], UsageModel]) -> dict[str, list[dict[str, Any]]]:
        """The tasks planned with and without the guard."""
        with_guard = plan_rows(planner, tasks, model_for, vectors)
        planner.policy = unguarded
        without = plan_rows(planner, tasks, model_for, vectors)
        planner.policy = guarded
        return {"": with_guard, ", no guard": without}

    alone = plan_rows(planner, tasks, None, vectors)
    in_domain = rows(models.in_domain)
    strict = rows(models.unseen)
    report: dict[str, Any] = {
        "no API seen": compare(
            {"planner": alone}
            | {f"+ in-domain model{k}": v for k, v in in_domain.items()}
            | {f"+ model, API unseen{k}": v for k, v in strict.items()},
            lambda r: True,
        )
    }
    report["no API seen"]["past_runs"] = statistics.fmean(len(models.unseen(r[0])) for r in tasks)
    for api in sorted({c for names in models.classes.values() for c in names}):
        ids = {r[0].id for r in tasks if api in models.of(r[0])}
        if not ids:
            continue
        model = models.without([api])
        report[api] = compare(
            {"planner": alone}
            | {f"+ in-domain model{k}": v for k, v in in_domain.items()}
            | {f"+ model, API unseen{k}": v for k, v in rows(lambda t, m=model: m).items()},
            lambda r, ids=ids: r["id"] in ids,
        )
        report[api]["past_runs"] = len(model)
    return report


def sweep(
    planner: Planner,
    routed: list[Routed],
    models: Models,
    vectors: dict[str, Any],
    variants: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """On the tuning half: each variant of the usage rules (name -> ``UsagePolicy`` fields),
    the planner with the in-domain model and with the model that never saw the task's API,
    against the planner alone."""
    tune = [r for r in routed if half(r[0]) == "tune"]
    alone = plan_rows(planner, tune, None, vectors)
    default = planner.policy
    report: dict[str, Any] = {}
    try:
        for name, fields in variants.items():
            planner.policy = with_usage(default, **fields)
            report[name] = compare(
                {
                    "planner": alone,
                    "+ in-domain model": plan_rows(planner, tune, models.in_domain, vectors),
                    "+ model, API unseen": plan_rows(planner, tune, models.unseen, vectors),
                },
                lambda r: True,
            )
    finally:
        planner.policy = default
    return report


def similarity_sweep(
    planner: Planner, routed: list[Routed], models: Models, vectors: dict[str, Any]
) -> dict[str, Any]:
    """Without the familiarity guard: how a higher ``min_similarity`` (past tasks less alike
    are not recalled) trades in-domain gains for less harm on unseen tools."""
    variants = {f"{v:.2f}": {"min_similarity": v, "min_familiarity": 0.0} for v in SWEEP}
    return sweep(planner, routed, models, vectors, variants)


def guard_sweep(
    planner: Planner, routed: list[Routed], models: Models, vectors: dict[str, Any]
) -> dict[str, Any]:
    """The familiarity guard's settings (a task is familiar when past runs called
    ``min_familiarity`` of its top ``familiar_depth`` matches; an unfamiliar one recalls only
    past tasks ``unfamiliar_min_similarity`` alike), in-domain and on unseen tools."""
    variants = {
        ("off" if share == 0.0 else f"top {depth}, {share:.1f}, {floor:.2f}"): {
            "familiar_depth": depth,
            "min_familiarity": share,
            "unfamiliar_min_similarity": floor,
        }
        for depth, share, floor in [(10, 0.0, 0.4), *GUARD_SWEEP]
    }
    return sweep(planner, routed, models, vectors, variants)


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
    guarded = planner.policy
    rows = {
        "planner": plan_rows(planner, routed, None, vectors),
        "+ base model (shift)": plan_rows(planner, routed, lambda t: base_model, vectors),
        "+ own-category model": plan_rows(planner, routed, lambda t: own_model, vectors),
    }
    planner.policy = with_usage(guarded, min_familiarity=0.0)
    rows["+ base model, no guard"] = plan_rows(planner, routed, lambda t: base_model, vectors)
    planner.policy = guarded
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
    parser.add_argument("--policy", type=Path, default=None, help="policy merged over the default")
    parser.add_argument("--reroute", action="store_true", help="route again, ignore the cache")
    parser.add_argument("--out", type=Path, default=RESULTS / "planning_shift.json")
    args = parser.parse_args()

    started = time.perf_counter()
    load = [os.getloadavg()[0]]
    router, _ = multi_turn_router(reuse=True)
    policy = load_policy(args.policy)
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

    models = Models(past, known)
    report: dict[str, Any] = {
        "unseen_tools": unseen_tools(planner, routed, models, vectors, "held"),
        "unseen_tools_tuning_half": unseen_tools(planner, routed, models, vectors, "tune"),
        "min_similarity_tuning_half": similarity_sweep(planner, routed, models, vectors),
        "guard_tuning_half": guard_sweep(planner, routed, models, vectors),
    }
    report["other_conversations"] = {
        c: other_conversations(planner, c, past, args.reroute, known, vectors)
        for c in OTHER_CONVERSATIONS
    }
    load.append(os.getloadavg()[0])
    report["wall_s"] = time.perf_counter() - started
    report["load_average_1min"] = load

    header = (
        f"{'shift':<36} {'model':<32} {'tasks':>5} {'full':>6} {'prec':>6} {'recall':>7} "
        f"{'ordered':>8} {'recalled':>9} {'helped':>7} {'hurt':>6}"
    )
    print(header)
    sections = [(f"unseen tools: {k}", v) for k, v in report["unseen_tools"].items()]
    sections += [
        (f"tune unseen tools: {k}", v) for k, v in report["unseen_tools_tuning_half"].items()
    ]
    sections += [
        (f"tune, no guard, min_similarity {k}", v)
        for k, v in report["min_similarity_tuning_half"].items()
    ]
    sections += [(f"tune, guard {k}", v) for k, v in report["guard_tuning_half"].items()]
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
                f"{title:<36} {name:<32} {m['tasks']:5d} {m['full']:6.3f} {m['precision']:6.3f} "
                f"{m['recall']:7.3f} {m['ordered_of_full']:8.3f} {m['recalled']:9.3f} "
                f"{m['helped']:7.3f} {m['hurt']:6.3f}"
            )
    print(f"{report['wall_s']:.0f} s wall clock, load average {load}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
