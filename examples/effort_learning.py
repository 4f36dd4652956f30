"""Per-step reasoning effort that learns from runs.

Two LLM-backed tools run through an ``Orchestrator`` with an effort router. The stand-in for the
model below is deterministic so the example runs offline: drafting a reply succeeds at any
effort, summarising a long report only at high effort, and higher efforts spend more tokens.
A real tool would call a ``ReasoningClient`` (``client.chat(messages, effort=effort)``) and
return ``Reasoned(answer.text, tokens=answer.usage.output_tokens)`` in the same way.

From its priors the router starts every step low and climbs one level at a time after a
failure. Each call that says what it spent is observed. After three runs, ``fit`` teaches it
that medium effort does not save a summary: it climbs from low straight to high (trying low
first stays worth its 300 tokens while it cannot rule a cheap answer out), while replies stay
at low. The saved router keeps its observations, so a loaded one goes on learning.

    python examples/effort_learning.py
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator import EffortRouter, Orchestrator, ToolCallError
from orchestrator.effort import EffortPolicy
from orchestrator.execution import Reasoned

TOKENS = {"low": 300, "medium": 900, "high": 2500}
NEEDS = {"summarise_report": "high", "draft_reply": "low"}


def summarise_report(report: str) -> dict[str, str]:
    """Summarise a long quarterly report for the board in five bullet points."""
    return {"summary": ""}


def draft_reply(message: str) -> dict[str, str]:
    """Draft a short, friendly reply to a customer's message."""
    return {"reply": ""}


class ReasoningTools:
    """The tools as an LLM would run them: they take the effort the router chose and say what
    they spent; below the effort a tool needs, its answer is rejected."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        return await self.invoke_with_effort(tool, arguments, "medium")

    async def invoke_with_effort(self, tool: str, arguments: Mapping[str, Any], effort: str) -> Any:
        self.calls.append((tool, effort))
        levels = list(TOKENS)
        if levels.index(effort) < levels.index(NEEDS[tool]):
            raise ToolCallError(f"shallow answer at {effort}", tool=tool, tokens=TOKENS[effort])
        return Reasoned({"done": tool}, tokens=TOKENS[effort])


TASKS = [
    ("summarise the Q3 report for the board", {"report": "Q3: revenue up 12%, costs flat, ..."}),
    ("draft a reply to the customer who asked about delivery", {"message": "Where is my order?"}),
]


def run_all(orchestrator: Orchestrator, label: str) -> None:
    for task, inputs in TASKS:
        tools = ReasoningTools()
        result = orchestrator.run_sync(task, tools=tools, inputs=inputs)
        spent = sum(d.data.get("tokens", 0) for d in result.log)
        efforts = " -> ".join(effort for _, effort in tools.calls)
        print(f"{label:<13} {result.path[-1]:<17} efforts {efforts:<20} {spent:>5.0f} tokens")


def main() -> None:
    # Few past runs: judge a step by its 4 most alike.
    router = EffortRouter(EffortPolicy(neighbours=4))
    orchestrator = Orchestrator([summarise_report, draft_reply], effort=router)
    for n in range(1, 4):
        run_all(orchestrator, f"run {n}")
    router.fit()
    print(f"fitted on {len(router.observations)} observed calls")
    run_all(orchestrator, "after fit")
    with tempfile.TemporaryDirectory() as folder:
        saved = Path(folder) / "effort.router"
        router.save(saved)
        loaded = EffortRouter.load(saved)
        print(f"saved and loaded: {len(loaded.observations)} observations kept")
        run_all(Orchestrator([summarise_report, draft_reply], effort=loaded), "loaded")


if __name__ == "__main__":
    main()
