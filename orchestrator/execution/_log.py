"""The decision log: every execute, fail, retry, reroute, escalate, demote and complete, as data,
and the monitor conditions that reweighted or flagged a tool during the run.

CLI tables, JSON output and the silent-failure checker all read this one log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["Action", "Decision", "DecisionLog", "silent_failures"]

Action = Literal["execute", "fail", "retry", "reroute", "escalate", "demote", "complete", "monitor"]

# A fail is answered by one of these about the same tool, or by an escalation or demotion.
_ANSWERS = frozenset({"retry", "reroute", "escalate", "demote"})


@dataclass(frozen=True)
class Decision:
    """One entry: what was done, to which tool (or goal), why, and when (ms since the log began)."""

    action: Action
    tool: str
    reason: str
    t_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DecisionLog:
    """An append-only list of decisions with a clock you can inject."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._t0 = clock()
        self.entries: list[Decision] = []

    def record(self, action: Action, tool: str, reason: str) -> Decision:
        decision = Decision(action, tool, reason, round((self._clock() - self._t0) * 1000.0, 3))
        self.entries.append(decision)
        return decision

    def count(self, action: Action) -> int:
        return sum(1 for d in self.entries if d.action == action)

    def __iter__(self) -> Iterator[Decision]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def to_dicts(self) -> list[dict[str, Any]]:
        return [d.to_dict() for d in self.entries]


def silent_failures(decisions: Iterable[Decision]) -> list[Decision]:
    """Every ``fail`` not answered by a retry or reroute of that tool, an escalation or a demotion.

    The answer must come before anything else happens to that tool and before the run completes,
    so a workflow that skips a failed stage and carries on is caught. ``monitor`` entries are
    observations, neither an answer nor a next step.
    """
    entries = list(decisions)
    silent = []
    for i, entry in enumerate(entries):
        if entry.action != "fail":
            continue
        answered = False
        for later in entries[i + 1 :]:
            if later.action == "monitor":
                continue
            if later.action in ("escalate", "demote"):
                answered = True
                break
            if later.action == "complete":
                break
            if later.tool == entry.tool:
                answered = later.action in _ANSWERS
                break
        if not answered:
            silent.append(entry)
    return silent
