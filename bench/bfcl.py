"""BFCL data for the benchmarks, read straight from the ``bfcl-eval`` wheel.

``bfcl-eval`` pins old numpy/faiss/networkx, so it is never installed: the wheel is fetched with
``pip download --no-deps`` into a cache folder outside git (``$ORCHESTRATOR_CACHE`` or
``~/.cache/orchestrator``) and its ``bfcl_eval/data/`` files are read from the zip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from orchestrator import Skill
from orchestrator.catalog import load_catalog

NON_LIVE = (
    "simple_python",
    "simple_java",
    "simple_javascript",
    "multiple",
    "parallel",
    "parallel_multiple",
)
LIVE = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")
IRRELEVANCE_NON_LIVE = ("irrelevance",)
IRRELEVANCE_LIVE = ("live_irrelevance",)


def cache_dir() -> Path:
    root = os.environ.get("ORCHESTRATOR_CACHE") or Path.home() / ".cache" / "orchestrator"
    return Path(root) / "bfcl"


def wheel_path() -> Path:
    """The cached bfcl-eval wheel, downloaded (without dependencies) on first use."""
    folder = cache_dir()
    found = sorted(folder.glob("bfcl_eval-*.whl"))
    if not found:
        folder.mkdir(parents=True, exist_ok=True)
        print(f"downloading the bfcl-eval wheel (data only) into {folder} ...", file=sys.stderr)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                "-d",
                str(folder),
                "bfcl-eval",
            ],
            check=True,
        )
        found = sorted(folder.glob("bfcl_eval-*.whl"))
    return found[-1]


@cache
def _zip() -> zipfile.ZipFile:
    return zipfile.ZipFile(wheel_path())


def read_jsonl(member: str) -> list[dict[str, Any]]:
    text = _zip().read(f"bfcl_eval/data/{member}").decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _key(function: dict[str, Any]) -> str:
    return json.dumps(function, sort_keys=True)


@dataclass(frozen=True)
class Query:
    id: str
    category: str
    text: str
    gold: frozenset[str]  # gold function names (empty for irrelevance)
    own_ids: tuple[str, ...]  # pool ids of the functions listed with this query


def query_text(entry: dict[str, Any]) -> str:
    first_turn = entry["question"][0]
    users = [m["content"] for m in first_turn if m.get("role") == "user"]
    return "\n".join(users) if users else str(first_turn[-1]["content"])


@cache
def pool() -> tuple[tuple[Skill, ...], dict[str, str]]:
    """Every distinct function of the single-turn categories (~2.8K), as skills, and the map from
    a function's JSON to its skill id. Functions that share a name but differ get ``name#2`` ...

    live_irrelevance's functions are left out: its queries are the live no-fit test, routed over
    their own function lists (see ``irrelevance_catalog``)."""
    seen: dict[str, dict[str, Any]] = {}
    for category in NON_LIVE + LIVE + ("live_relevance", "irrelevance"):
        for entry in read_jsonl(f"BFCL_v4_{category}.json"):
            for function in entry["function"]:
                seen.setdefault(_key(function), function)
    ids: dict[str, str] = {}
    per_name: dict[str, int] = {}
    records = []
    for key, function in seen.items():
        name = function["name"]
        per_name[name] = per_name.get(name, 0) + 1
        skill_id = name if per_name[name] == 1 else f"{name}#{per_name[name]}"
        ids[key] = skill_id
        records.append({**function, "id": skill_id})
    return tuple(load_catalog(records)), ids


def queries(category: str) -> list[Query]:
    entries = read_jsonl(f"BFCL_v4_{category}.json")
    answers: dict[str, set[str]] = {}
    if "irrelevance" not in category:
        for answer in read_jsonl(f"possible_answer/BFCL_v4_{category}.json"):
            answers[answer["id"]] = {name for call in answer["ground_truth"] for name in call}
    _, ids = pool()
    out = []
    for entry in entries:
        own = tuple(ids[_key(f)] for f in entry["function"] if _key(f) in ids)
        out.append(
            Query(
                id=entry["id"],
                category=category,
                text=query_text(entry),
                gold=frozenset(answers.get(entry["id"], set())),
                own_ids=own,
            )
        )
    return out


def irrelevance_catalog(category: str) -> list[tuple[Query, list[dict[str, Any]]]]:
    """Irrelevance queries with their own (non-fitting) function lists, which may lie outside
    the pool."""
    return [
        (q, e["function"])
        for q, e in zip(queries(category), read_jsonl(f"BFCL_v4_{category}.json"), strict=True)
    ]


# Multi-turn data: each class's function docs live in their own file, named differently from the
# class that ``involved_classes`` lists.
MULTI_TURN_FILES = {
    "GorillaFileSystem": "gorilla_file_system",
    "MathAPI": "math_api",
    "MessageAPI": "message_api",
    "TwitterAPI": "posting_api",
    "TicketAPI": "ticket_api",
    "TradingBot": "trading_bot",
    "TravelAPI": "travel_booking",
    "VehicleControlAPI": "vehicle_control",
    "WebSearchAPI": "web_search",
}


@dataclass(frozen=True)
class Task:
    """One user turn of a multi-turn conversation and the tools its ground truth calls, in order."""

    id: str
    text: str
    needed: tuple[str, ...]  # skill ids in first-call order


@cache
def multi_turn_functions() -> tuple[Skill, ...]:
    """Every multi-turn function as a skill with id ``{file}.{name}`` (names repeat across
    classes)."""
    records = []
    for stem in MULTI_TURN_FILES.values():
        for function in read_jsonl(f"multi_turn_func_doc/{stem}.json"):
            records.append({**function, "id": f"{stem}.{function['name']}"})
    return tuple(load_catalog(records))


def _called_names(turn: list[str]) -> list[str]:
    names: list[str] = []
    for call in turn:
        name = call.split("(", 1)[0].strip()
        if name not in names:
            names.append(name)
    return names


def multi_turn_classes(category: str = "multi_turn_base") -> dict[str, tuple[str, ...]]:
    """Each conversation's API classes (``involved_classes``), by entry id."""
    return {
        entry["id"]: tuple(entry["involved_classes"])
        for entry in read_jsonl(f"BFCL_v4_{category}.json")
    }


def multi_turn_tasks(category: str = "multi_turn_base") -> list[Task]:
    """Each user turn with a non-empty ground truth, as a task over that entry's classes."""
    answers = {
        a["id"]: a["ground_truth"] for a in read_jsonl(f"possible_answer/BFCL_v4_{category}.json")
    }
    by_file: dict[str, set[str]] = {}
    for skill in multi_turn_functions():
        stem, name = skill.id.split(".", 1)
        by_file.setdefault(stem, set()).add(name)
    tasks = []
    for entry in read_jsonl(f"BFCL_v4_{category}.json"):
        stems = [MULTI_TURN_FILES[c] for c in entry["involved_classes"]]
        for turn_no, (messages, calls) in enumerate(
            zip(entry["question"], answers[entry["id"]], strict=False)
        ):
            users = [m["content"] for m in messages if m.get("role") == "user"]
            if not users or not calls:
                continue
            needed = []
            for name in _called_names(calls):
                owner = next((s for s in stems if name in by_file[s]), None)
                if owner is None:
                    raise ValueError(f"{entry['id']}: {name} not in {stems}")
                needed.append(f"{owner}.{name}")
            tasks.append(Task(f"{entry['id']}:{turn_no}", "\n".join(users), tuple(needed)))
    return tasks
