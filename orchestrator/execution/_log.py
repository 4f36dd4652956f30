"""The decision log: every execute, fail, retry, reroute, escalate, demote and complete, as data,
and the monitor conditions that reweighted or flagged a tool during the run.

CLI tables, JSON output and the silent-failure checker all read this one log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Action",
    "Decision",
    "DecisionListener",
    "DecisionLog",
    "is_escalation_retry",
    "silent_failures",
]

Action = Literal[
    "execute", "fail", "retry", "reroute", "escalate", "demote", "complete", "monitor", "cancel"
]

# A fail is answered by one of these about the same tool, or by an escalation or demotion; a
# ``cancel`` (a step the reached goal no longer needs, stopped) answers one whose retry it stops.
_ANSWERS = frozenset({"retry", "reroute", "escalate", "demote", "cancel"})


@dataclass(frozen=True)
class Decision:
    """One entry: what was done, to which tool (or goal), why, and when (ms since the log began).

    ``data`` holds structured facts beside the human ``reason`` (a step's ``duration_ms``, the
    ``attempt``, the ``effort``, a reroute's ``path``), so tracing and JSON output need not parse
    text.
    """

    action: Action
    tool: str
    reason: str
    t_ms: float
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "action": self.action,
            "tool": self.tool,
            "reason": self.reason,
            "t_ms": self.t_ms,
        }
        if self.data:
            entry["data"] = dict(self.data)
        return entry


DecisionListener = Callable[[Decision], None]


class DecisionLog:
    """An append-only list of decisions with a clock you can inject.

    Listeners (``subscribe``) see each decision as it is recorded: this is how tracing follows a
    run live while the log stays the one record of it.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._t0 = clock()
        self.entries: list[Decision] = []
        self._listeners: list[DecisionListener] = []
        self._parent: DecisionLog | None = None  # the shared log a part of it records into

    def subscribe(self, listener: DecisionListener) -> None:
        """Call ``listener`` with every decision recorded from now on."""
        self._listeners.append(listener)

    def record(self, action: Action, tool: str, reason: str, **data: Any) -> Decision:
        if self._parent is not None:  # recorded in the whole log too, seen by its listeners
            decision = self._parent.record(action, tool, reason, **data)
        else:
            t_ms = round((self._clock() - self._t0) * 1000.0, 3)
            decision = Decision(action, tool, reason, t_ms, data)
        self.entries.append(decision)
        for listener in self._listeners:
            listener(decision)
        return decision

    def count(self, action: Action, *, start: int = 0) -> int:
        """How many ``action`` decisions there are, from entry ``start`` on. An escalation's
        model asked again is logged as a ``retry`` of the goal, but is no tool's retry: it is
        not counted (it is an LLM call, counted as one)."""
        return sum(
            1 for d in self.entries[start:] if d.action == action and not is_escalation_retry(d)
        )

    def since(self, start: int) -> DecisionLog:
        """The decisions from entry ``start`` on, as a log of their own: one run's record,
        when runs share a log. Later runs' decisions do not join it; what is recorded through
        it (a gateway's last word on its run) joins both, and this log's listeners see it."""
        part = DecisionLog(self._clock)
        part._t0 = self._t0  # the same times as in this log
        part.entries = self.entries[start:]
        part._parent = self
        return part

    def __iter__(self) -> Iterator[Decision]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def to_dicts(self) -> list[dict[str, Any]]:
        return [d.to_dict() for d in self.entries]


def is_escalation_retry(decision: Decision) -> bool:
    """Whether ``decision`` asks an escalation's model again (not a tool's retry)."""
    return decision.action == "retry" and decision.data.get("escalation") is True


def silent_failures(decisions: Iterable[Decision], *, ended: bool = True) -> list[Decision]:
    """Every ``fail`` not answered by a retry or reroute of that tool, an escalation or a demotion.

    The answer must come before anything else happens to that tool and before the run completes,
    so a workflow that skips a failed stage and carries on is caught. ``monitor`` entries are
    observations, neither an answer nor a next step. Of a run stopped before it ended
    (``ended=False``: Ctrl-C while an escalation was asked), a failure nothing followed was
    still awaiting its answer, not skipped.
    """
    entries = list(decisions)
    silent = []
    for i, entry in enumerate(entries):
        if entry.action != "fail":
            continue
        answered = False
        followed = False  # by anything but observations
        for later in entries[i + 1 :]:
            if later.action == "monitor":
                continue
            followed = True
            if later.action in ("escalate", "demote"):
                answered = True
                break
            if later.action == "complete":
                break
            if later.tool == entry.tool:
                answered = later.action in _ANSWERS
                break
        if not answered and (ended or followed):
            silent.append(entry)
    return silent
