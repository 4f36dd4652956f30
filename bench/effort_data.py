"""Replay data for the effort router, generated from BFCL multi-turn ground truth.

Every ground-truth call of BFCL v4 multi-turn (base, long_context, miss_param) becomes one step:
its context is the conversation so far (user turns and earlier calls), its tool the called
function with its BFCL description. The outcome at each effort comes from a hidden difficulty
model (below), sampled with a fixed seed. The router sees the text and the signals only.

Difficulty model (hidden; d is on a logit scale):

    d = intercept (-2.5; --intercept, -1.5 for the "hard" setting in bench/README.md)
        + 0.30 * number of arguments
        + 1.20 * share of argument values not written in the current user turn (inferred)
        + 0.35 * min(position of the call in its turn, 3)       (later calls depend on earlier)
        + 0.70 * [the tool is not named in the user turn]         (an implicit step: cd, login)
        + 0.25 * log1p(characters of argument values / 20)      (long content to compose)
        + tool offset ~ N(0, 0.5), fixed per function name
        + episode offset ~ N(0, 0.6) per episode, + 0.3 for long_context, + 0.2 for miss_param
        + step noise ~ N(0, 0.6)

    P(success at level e) = sigmoid(2 * (ability[e] - d)),  ability = low 0, medium 1.2, high 2.4

One uniform draw u per step decides every level (success iff u < P), so success is nested
(what low solves, high solves; about 62% / 85% / 97% of steps at low / medium / high with
the default intercept); then each level's outcome is redrawn independently with
probability 0.03 (a slip: high may fail where medium succeeds).

Tokens (generated tokens: reasoning + the call; input tokens are not counted):

    tokens[e] = reasoning[e] * exp(0.3 * clip(d, -2, 4)) * LogNormal(0, 0.25) + 15 + len(call)/3.5
    reasoning = low 120, medium 600, high 2200

The router never sees d, the arguments of the call it is about to make, the offsets or u; d
and d_call (d without the episode and step noise) go to a side file, {split}.hidden.jsonl, which
only bench/effort_replay.py reads, for bounds on what knowing them would save.
Episodes are split by their BFCL number (the same task in the three categories stays on one
side), 60% train and 40% test.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import math
import random
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bfcl import MULTI_TURN_FILES, read_jsonl

CATEGORIES = {"base": 0.0, "long_context": 0.3, "miss_param": 0.2}
ABILITY = {"low": 0.0, "medium": 1.2, "high": 2.4}
INTERCEPT = -2.5
REASONING = {"low": 120.0, "medium": 600.0, "high": 2200.0}
SLIP = 0.03
OUT = Path(__file__).resolve().parent / "results" / "effort"


def _unit(*parts: object) -> float:
    """A stable uniform draw in [0, 1) from its key (independent of run order)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _normal(*parts: object) -> float:
    u1, u2 = max(_unit(*parts, "a"), 1e-12), _unit(*parts, "b")
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def _docs() -> tuple[dict[str, str], dict[str, int]]:
    """Function descriptions by name, and how many functions each involved class offers."""
    descriptions: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for cls, doc in MULTI_TURN_FILES.items():
        functions = read_jsonl(f"multi_turn_func_doc/{doc}.json")
        sizes[cls] = len(functions)
        for f in functions:
            text = str(f["description"])
            descriptions.setdefault(f["name"], text.split("Tool description: ")[-1])
    return descriptions, sizes


def _call(text: str) -> tuple[str, list[Any]]:
    node = ast.parse(text, mode="eval").body
    assert isinstance(node, ast.Call)
    func = node.func
    name = func.id if isinstance(func, ast.Name) else ast.unparse(func)
    values = [ast.literal_eval(a) for a in node.args]
    values += [ast.literal_eval(k.value) for k in node.keywords]
    return name, values


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list | tuple):
        return [leaf for v in value for leaf in _leaves(v)]
    return [str(value)]


def _difficulty(
    episode: str, offset: float, turn_text: str, call: str, position: int, intercept: float
) -> tuple[float, float, str]:
    """The step's difficulty d, and the part of it the call alone determines (d_call: without
    the episode and step noise; still more than the router knows, since it never sees the
    call's arguments)."""
    name, values = _call(call)
    leaves = _leaves(values)
    said = turn_text.lower()
    unstated = sum(1 for v in leaves if v.lower() not in said) / len(leaves) if leaves else 0.0
    words = [w for w in re.split(r"[_\W]+", name.lower()) if len(w) > 2]
    implicit = not any(w in said for w in words)
    value_chars = sum(len(v) for v in leaves)
    d_call = (
        intercept
        + 0.30 * len(values)
        + 1.20 * unstated
        + 0.35 * min(position, 3)
        + 0.70 * implicit
        + 0.25 * math.log1p(value_chars / 20)
        + 0.5 * _normal("tool", name)
    )
    d = (
        d_call
        + 0.6 * _normal("episode", episode)
        + offset
        + 0.6 * _normal("step", episode, call, position)
    )
    return d, d_call, name


def _outcomes(d: float, key: tuple[object, ...], call: str) -> dict[str, dict[str, Any]]:
    u = _unit("u", *key)
    scale = math.exp(0.3 * min(max(d, -2.0), 4.0))
    outcomes = {}
    for level, ability in ABILITY.items():
        p = 1.0 / (1.0 + math.exp(-2.0 * (ability - d)))
        success = u < p
        if _unit("slip", level, *key) < SLIP:
            success = _unit("redraw", level, *key) < p
        noise = math.exp(0.25 * _normal("tokens", level, *key))
        tokens = REASONING[level] * scale * noise + 15 + len(call) / 3.5
        outcomes[level] = {"success": success, "tokens": round(tokens)}
    return outcomes


def episodes(intercept: float = INTERCEPT) -> list[tuple[int, list[dict[str, Any]]]]:
    """Every episode as (its BFCL number, its replay lines)."""
    descriptions, sizes = _docs()
    out = []
    for category, offset in CATEGORIES.items():
        answers = {
            a["id"]: a["ground_truth"]
            for a in read_jsonl(f"possible_answer/BFCL_v4_multi_turn_{category}.json")
        }
        for entry in read_jsonl(f"BFCL_v4_multi_turn_{category}.json"):
            episode = entry["id"]
            number = int(episode.rsplit("_", 1)[1])
            alternatives = sum(sizes.get(c, 0) for c in entry["involved_classes"])
            conversation: list[str] = []
            history: list[str] = []
            lines = []
            for turn, calls in zip(entry["question"], answers[episode], strict=False):
                turn_text = " ".join(m["content"] for m in turn if m.get("role") == "user")
                if turn_text:
                    conversation.append(f"user: {turn_text}")
                for position, call in enumerate(calls):
                    d, d_call, name = _difficulty(
                        episode, offset, turn_text, call, position, intercept
                    )
                    key = (episode, len(lines))
                    lines.append(
                        {
                            "episode": episode,
                            "step": len(lines),
                            "context": "\n".join(conversation),
                            "tool": name,
                            "tool_description": descriptions.get(name, ""),
                            "history": list(history),
                            "signals": {"alternatives": alternatives},
                            "outcomes": _outcomes(d, key, call),
                            # Hidden: written to a side file, never into the replay file.
                            "hidden": {"d": d, "d_call": d_call},
                        }
                    )
                    conversation.append(f"call: {call}")
                    history.append(call)
            if lines:
                out.append((number, lines))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--test-share", type=float, default=0.4)
    parser.add_argument(
        "--intercept",
        type=float,
        default=INTERCEPT,
        help="difficulty intercept: lower means more steps solvable at low effort",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(5)
    generated = episodes(args.intercept)
    numbers = sorted({n for n, _ in generated})
    test = set(rng.sample(numbers, round(len(numbers) * args.test_share)))
    counts = {"train": [0, 0], "test": [0, 0]}
    handles = {s: (args.out / f"{s}.jsonl").open("w", encoding="utf-8") for s in counts}
    hidden = {s: (args.out / f"{s}.hidden.jsonl").open("w", encoding="utf-8") for s in counts}
    rates = {level: 0 for level in ABILITY}
    with handles["train"], handles["test"], hidden["train"], hidden["test"]:
        for number, lines in generated:
            split = "test" if number in test else "train"
            counts[split][0] += 1
            counts[split][1] += len(lines)
            for line in lines:
                secret = line.pop("hidden")
                handles[split].write(json.dumps(line) + "\n")
                key = {"episode": line["episode"], "step": line["step"]}
                hidden[split].write(json.dumps({**key, **secret}) + "\n")
                for level in ABILITY:
                    rates[level] += line["outcomes"][level]["success"]
    total = sum(c[1] for c in counts.values())
    for split, (n_episodes, n_steps) in counts.items():
        print(f"{split}: {n_episodes} episodes, {n_steps} steps -> {args.out / split}.jsonl")
    print("step success per level: " + ", ".join(f"{k} {v / total:.3f}" for k, v in rates.items()))


if __name__ == "__main__":
    main()
