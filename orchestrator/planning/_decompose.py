"""Split a task into sub-goals, in the order they should happen.

The default needs no LLM: sentences, sequencing words ("then", "after that", "finally") and
conjunctions that start a new action ("... and send ...") separate sub-goals; "Y after X" puts X
first. An LLM decomposer plugs in through the same client protocol as escalation and counts as a
control-plane LLM call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Protocol

from orchestrator.errors import PlanningError
from orchestrator.llm import LLMClient
from orchestrator.llm._answer import json_answer

__all__ = ["Decomposer", "LLMDecomposer", "RuleDecomposer", "clause_end", "split_subgoals"]

# Verbs that open a new action after "and" / a comma: "find the order and refund it".
_ACTION_VERBS = (
    "add|activate|analy[sz]e|answer|append|archive|ask|assess|book|buy|calculate|call|cancel|"
    "change|check|close|compare|compute|confirm|convert|copy|create|delete|deliver|deposit|"
    "disable|display|download|draft|echo|email|enable|engage|estimate|export|fetch|file|fill|"
    "find|follow|forward|generate|get|grab|identify|import|inform|invite|issue|list|locate|"
    "lock|log|look|make|message|move|navigate|notify|open|order|pay|place|plan|post|print|"
    "publish|purchase|put|read|record|refund|register|reject|release|remove|rename|reply|"
    "report|request|reserve|reset|resolve|retrieve|return|review|schedule|search|sell|send|"
    "set|share|show|sort|start|stop|submit|subscribe|summari[sz]e|switch|tag|tell|track|"
    "transfer|translate|turn|tweet|unlock|update|upload|verify|view|withdraw|write"
)
# More verbs of tool catalogs (operations, DevOps, HR), many of them nouns too ("pull requests",
# "deploy logs", "page titles"): one starts an action only as itself, before what it acts on
# and not before a plural noun: "roll it back", "page Alice", "restart nginx", "deploy v2.3".
_MORE_VERBS = (
    "ack|acknowledge|accept|apply|approve|assign|attach|backfill|clone|commit|compress|connect|"
    "crop|decline|decrypt|deploy|disconnect|downgrade|drain|encrypt|escalate|execute|extract|"
    "grant|hire|install|invoice|kill|launch|lint|merge|mute|onboard|page|parse|pause|ping|"
    "promote|provision|pull|push|reassign|reboot|refresh|remind|render|reopen|rerun|reschedule|"
    "resize|restart|restore|resume|retry|revert|revoke|roll|rollback|rotate|run|scale|silence|"
    "snooze|suspend|sync|terminate|transcribe|trigger|unblock|uninstall|upgrade"
)
# A plural noun after such a verb makes a compound ("pull requests", "deploy logs", "sync
# errors"): a word ending in one "s" that is no pronoun or verb ("its", "this", "is").
_COMPOUND = r"(?!(?:its|this|his|us|is|was|has|does|as)\b)[a-z]*[^\Ws]s\b"
_VERB = rf"(?:please\s+)?(?:(?:{_ACTION_VERBS})\w*\b|(?:{_MORE_VERBS})\b(?=\s+(?!{_COMPOUND})\S))"

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_SEQUENCE = re.compile(
    r",?\s*\b(?:and\s+then|then|after\s+that|afterwards|afterward|finally|followed\s+by|"
    r"subsequently|as\s+well\s+as|in\s+addition|additionally|also)\b[,:]?\s*",
    re.IGNORECASE,
)
_AND_ACTION = re.compile(r",?\s+(?:and|&|plus)\s+(?=" + _VERB + ")", re.IGNORECASE)
_COMMA_ACTION = re.compile(r",\s+(?=" + _VERB + ")", re.IGNORECASE)
_LEADING_AFTER = re.compile(r"^(?:after|once|upon|when)\s+(.+?),\s*(.+)$", re.IGNORECASE | re.S)
_LEADING_BEFORE = re.compile(r"^before\s+(.+?),\s*(.+)$", re.IGNORECASE | re.S)
_TRAILING_AFTER = re.compile(r"^(.+?)\s+(?:after|once)\s+(.+)$", re.IGNORECASE | re.S)
_TRIM = " \t,.;:!?-"


def _ordered(fragment: str) -> list[str]:
    """One clause, with "after X, Y" / "before X, Y" / "Y after X" put in doing order."""
    match = _LEADING_AFTER.match(fragment)
    if match:
        return [match.group(1), match.group(2)]
    match = _LEADING_BEFORE.match(fragment)
    if match:
        return [match.group(2), match.group(1)]
    match = _TRAILING_AFTER.match(fragment)
    if match and len(match.group(2).split()) >= 3:
        return [match.group(2), match.group(1)]
    return [fragment]


def clause_end(text: str, start: int = 0) -> int:
    """Where the part of ``text`` going on at ``start`` ends: at the next place
    ``split_subgoals`` would cut (a sentence's end, a sequencing word, "and" before an action),
    or at the end of ``text``."""
    cuts = (pattern.search(text, start) for pattern in (_SENTENCE, _SEQUENCE, _AND_ACTION))
    return min((cut.start() for cut in cuts if cut is not None), default=len(text))


def split_subgoals(task: str, *, min_words: int = 2) -> list[str]:
    """The sub-goals of ``task`` in doing order; fragments shorter than ``min_words`` words are
    joined to the one before them (or after, for the first)."""
    pieces: list[str] = []
    for sentence in _SENTENCE.split(task):
        for part in _SEQUENCE.split(sentence):
            for clause in _AND_ACTION.split(part):
                for ordered in _ordered(clause.strip(_TRIM)):
                    pieces.extend(_COMMA_ACTION.split(ordered))
    merged: list[str] = []
    for piece in (p.strip(_TRIM) for p in pieces):
        if not piece:
            continue
        if merged and min(len(piece.split()), len(merged[-1].split())) < min_words:
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return merged or [task.strip()]


class Decomposer(Protocol):
    """Splits a task into sub-goals in doing order."""

    async def decompose(self, task: str) -> list[str]: ...


class RuleDecomposer:
    """``split_subgoals`` behind the ``Decomposer`` protocol; never calls an LLM."""

    def __init__(self, *, min_words: int = 2) -> None:
        self.min_words = min_words
        self.calls = 0

    def split(self, task: str) -> list[str]:
        """The sub-goals, without an event loop (``Orchestrator.plan`` in a notebook)."""
        return split_subgoals(task, min_words=self.min_words)

    async def decompose(self, task: str) -> list[str]:
        return self.split(task)


_PROMPT = (
    "Split the user's task into the smallest steps an agent must do, each doable with one tool, "
    "in the order they must happen. Answer with a JSON list of strings and nothing else."
)


class LLMDecomposer:
    """Asks an ``LLMClient`` for the sub-goals; each call is one control-plane LLM call."""

    def __init__(self, client: LLMClient) -> None:
        self.client = client
        self.calls = 0

    async def decompose(self, task: str) -> list[str]:
        self.calls += 1
        messages: Sequence[Mapping[str, str]] = [
            {"role": "system", "content": _PROMPT},
            {"role": "user", "content": task},
        ]
        answer = await self.client.complete(messages)
        steps = json_answer(answer, PlanningError, "decomposer answer")
        if not isinstance(steps, list) or not all(isinstance(s, str) and s.strip() for s in steps):
            raise PlanningError(
                f"decomposer answer must be a JSON list of non-empty strings, got {answer[:200]!r}"
            )
        return [s.strip() for s in steps] or [task]
