"""Offline evaluation of effort policies on replay files, where every step's outcome is known at
every level (as RouterBench evaluates model routers).

A replay line: ``{"episode", "step", "context", "tool", "tool_description", "outcomes": {level:
{"success", "tokens"}}}``, optionally ``"history"`` (earlier calls) and ``"signals"``
(``confidence``, ``margin``, ``alternatives``). The policy sees only what a live agent would:
the text, the signals and the outcomes of the efforts it tried.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from orchestrator._files import read_json_lines, write_text_atomic
from orchestrator.effort._router import EffortRouter, Observation
from orchestrator.effort._step import Effort, Step
from orchestrator.errors import EffortError

__all__ = [
    "Outcome",
    "PolicyResult",
    "ReplayReport",
    "ReplayStep",
    "fit_and_replay",
    "read_replay",
    "replay",
    "training_observations",
    "write_choices",
]


@dataclass(frozen=True)
class Outcome:
    success: bool
    tokens: float


@dataclass(frozen=True)
class ReplayStep:
    episode: str
    step: int
    context: str
    tool: str
    tool_description: str
    outcomes: dict[Effort, Outcome]
    history: tuple[str, ...] = ()
    signals: dict[str, float] = field(default_factory=dict)

    def as_step(self, failures: int) -> Step:
        """What the router is shown: text and signals, never the outcomes."""
        confidence = self.signals.get("confidence")
        margin = self.signals.get("margin")
        return Step(
            task=self.context,
            tool=self.tool,
            tool_description=self.tool_description,
            history=self.history,
            confidence=float(confidence) if confidence is not None else None,
            margin=float(margin) if margin is not None else None,
            alternatives=int(self.signals.get("alternatives", 0)),
            failures=failures,
        )


def _field(data: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise EffortError(f"{where}: field {name}: expected {names}, got {value!r:.80}")
    return value


def read_replay(path: str | Path, levels: Sequence[Effort]) -> list[ReplayStep]:
    """Read a replay JSONL file; every line must have an outcome for every level."""
    source = Path(path)
    steps: list[ReplayStep] = []
    for number, data in read_json_lines(source, EffortError, "the replay file"):
        where = f"{source}: line {number}"
        if not isinstance(data, dict):
            raise EffortError(f"{where}: expected a JSON object per line")
        outcomes_raw = _field(data, "outcomes", dict, where)
        outcomes = {}
        for level in levels:
            entry = outcomes_raw.get(level)
            if not isinstance(entry, dict):
                raise EffortError(f"{where}: field outcomes.{level}: missing (levels {levels})")
            success = _field(entry, "success", bool, f"{where}: outcomes.{level}")
            tokens = _field(entry, "tokens", (int, float), f"{where}: outcomes.{level}")
            if not (math.isfinite(tokens) and tokens >= 0):
                raise EffortError(
                    f"{where}: field outcomes.{level}.tokens: expected a finite count >= 0, "
                    f"got {tokens}"
                )
            outcomes[level] = Outcome(success, float(tokens))
        history = data.get("history", [])
        signals = data.get("signals", {})
        if not isinstance(history, list) or not isinstance(signals, dict):
            raise EffortError(f"{where}: fields history/signals: expected a list and an object")
        for name, value in signals.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise EffortError(
                    f"{where}: field signals.{name}: expected a number, got {json.dumps(value)}"
                )
        steps.append(
            ReplayStep(
                episode=str(_field(data, "episode", (str, int), where)),
                step=_field(data, "step", int, where),
                context=_field(data, "context", str, where),
                tool=_field(data, "tool", str, where),
                tool_description=str(data.get("tool_description", "")),
                outcomes=outcomes,
                history=tuple(str(h) for h in history),
                signals={str(k): float(v) for k, v in signals.items()},
            )
        )
    if not steps:
        raise EffortError(f"{source}: no steps (expected one JSON object per line)")
    return steps


def _episodes(steps: Iterable[ReplayStep]) -> dict[str, list[ReplayStep]]:
    grouped: dict[str, list[ReplayStep]] = {}
    for s in steps:
        grouped.setdefault(s.episode, []).append(s)
    for episode in grouped.values():
        episode.sort(key=lambda s: s.step)
    return grouped


def training_observations(
    steps: Iterable[ReplayStep], levels: Sequence[Effort]
) -> list[Observation]:
    """Every (step, level) outcome of a training file as an observation.

    ``failures`` (failed attempts earlier in the episode) is counted as a low-to-high cascade
    would have met them, the nearest policy-free stand-in for what the router meets live.
    """
    out = []
    for episode in _episodes(steps).values():
        failures = 0
        for s in episode:
            step = s.as_step(failures)
            for level in levels:
                o = s.outcomes[level]
                out.append(Observation(step, level, o.success, o.tokens))
            solved = [i for i, level in enumerate(levels) if s.outcomes[level].success]
            failures += solved[0] if solved else len(levels)
    return out


@dataclass
class PolicyResult:
    """One policy's totals over a replay file."""

    name: str
    tokens: float = 0.0
    steps: int = 0
    steps_solved: int = 0
    episodes: int = 0
    episodes_solved: int = 0
    attempts: int = 0

    def to_dict(self, high_tokens: float) -> dict[str, Any]:
        return {
            "policy": self.name,
            "tokens": round(self.tokens, 1),
            "tokens_vs_high": round(self.tokens / high_tokens, 4) if high_tokens else None,
            "episode_success": round(self.episodes_solved / max(self.episodes, 1), 4),
            "step_success": round(self.steps_solved / max(self.steps, 1), 4),
            "attempts_per_step": round(self.attempts / max(self.steps, 1), 4),
        }


# A policy walks one step: given the step and failures so far, it returns the efforts tried.
_Walk = Callable[[ReplayStep, int], list[Effort]]


def _run(
    name: str, episodes: dict[str, list[ReplayStep]], walk: _Walk
) -> tuple[PolicyResult, list[dict[str, Any]]]:
    result = PolicyResult(name)
    choices: list[dict[str, Any]] = []
    for episode_id, episode in episodes.items():
        failures, solved = 0, True
        for s in episode:
            tried = walk(s, failures)
            ok = any(s.outcomes[e].success for e in tried)
            result.tokens += sum(s.outcomes[e].tokens for e in tried)
            result.attempts += len(tried)
            result.steps += 1
            result.steps_solved += ok
            failures += sum(1 for e in tried if not s.outcomes[e].success)
            solved = solved and ok
            choices.append({"episode": episode_id, "step": s.step, "efforts": tried})
        result.episodes += 1
        result.episodes_solved += solved
    return result, choices


def _tries(s: ReplayStep, efforts: Iterable[Effort]) -> list[Effort]:
    """Try ``efforts`` in order, stopping at the first success."""
    tried = []
    for e in efforts:
        tried.append(e)
        if s.outcomes[e].success:
            break
    return tried


def _fixed(level: Effort) -> _Walk:
    return lambda s, failures: [level]


def _cascade(levels: Sequence[Effort]) -> _Walk:
    return lambda s, failures: _tries(s, levels)


@dataclass
class ReplayReport:
    """The policy's and the baselines' results, and the policy's choices per step."""

    results: list[PolicyResult]
    choices: list[dict[str, Any]]
    top: Effort = "high"

    @property
    def high_tokens(self) -> float:
        """Tokens of the fixed top level (``high`` by default), the reference of every ratio."""
        return next(r.tokens for r in self.results if r.name == f"fixed-{self.top}")

    def to_dict(self) -> dict[str, Any]:
        high = self.high_tokens
        return {"results": [r.to_dict(high) for r in self.results]}


def replay(router: EffortRouter, steps: Sequence[ReplayStep]) -> ReplayReport:
    """Walk ``steps`` episode by episode with ``router`` and with the baselines.

    The router chooses a first effort from the step's text and signals, sees only that
    effort's outcome, and on failure is asked whether to escalate (strictly higher) or stop.
    Baselines: each fixed level, a medium→high cascade, and the oracle (the cheapest effort that
    succeeds; when none does, the cheapest effort, which fails).
    """
    levels = router.levels
    episodes = _episodes(steps)
    if router.policy.features == "text":
        router.encoder.warm([s.as_step(0).text() for s in steps])

    def routed(s: ReplayStep, failures: int) -> list[Effort]:
        step = s.as_step(failures)
        effort: Effort | None = router.choose(step)
        tried: list[Effort] = []
        while effort is not None:
            tried.append(effort)
            if s.outcomes[effort].success:
                break
            step = replace(step, tried=tuple(tried), retries=len(tried) - 1)
            effort = router.escalate(step, effort)
        return tried

    def oracle(s: ReplayStep, failures: int) -> list[Effort]:
        solved = [e for e in levels if s.outcomes[e].success]
        pool = solved or list(levels)
        return [min(pool, key=lambda e: s.outcomes[e].tokens)]

    policy, choices = _run("router", episodes, routed)
    results = [policy]
    for level in levels:
        results.append(_run(f"fixed-{level}", episodes, _fixed(level))[0])
    if len(levels) >= 2:
        upper = levels[-2:]
        results.append(_run(f"cascade {'->'.join(upper)}", episodes, _cascade(upper))[0])
    results.append(_run("oracle", episodes, oracle)[0])
    return ReplayReport(results, choices, top=levels[-1])


def write_choices(path: str | Path, choices: Sequence[dict[str, Any]]) -> None:
    """Write one ``{"episode", "step", "efforts"}`` line per step, atomically.

    Raises
    ------
    EffortError
        The file cannot be written there (a file where a folder should be, no permission):
        named, instead of an ``OSError`` after the whole replay.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, "".join(json.dumps(choice) + "\n" for choice in choices))
    except OSError as exc:
        raise EffortError(
            f"{target}: cannot write the choices there ({exc.strerror or exc})"
        ) from exc


def fit_and_replay(
    test: str | Path,
    train: str | Path,
    router: EffortRouter,
    choices: str | Path | None = None,
) -> ReplayReport:
    """Fit ``router`` on ``train`` (outcomes visible), replay ``test`` and write the choices."""
    levels = router.levels
    router.fit(training_observations(read_replay(train, levels), levels))
    report = replay(router, read_replay(test, levels))
    if choices is not None:
        write_choices(choices, report.choices)
    return report
