"""A step as the effort router sees it: text (task, history, tool) and the orchestrator's signals.

The router never sees how hard a step really is; it sees only what a live agent would know
before the call.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Effort", "Step"]

Effort = str
"""An effort level's name (``low``, ``medium``, ``high`` by default; see ``effort.levels``)."""


@dataclass(frozen=True)
class Step:
    """One agent step about to run.

    ``failures`` counts failed attempts earlier in the run (any step), ``retries`` this step's
    retries so far, ``tried`` the efforts this step already failed at (lowest first).
    """

    task: str
    tool: str = ""
    tool_description: str = ""
    history: tuple[str, ...] = ()
    confidence: float | None = None
    margin: float | None = None
    alternatives: int = 0
    failures: int = 0
    retries: int = 0
    tried: tuple[Effort, ...] = ()

    def text(self, limit: int = 600) -> str:
        """The text embedded for this step: the tool first, then the latest context.

        The tail of the task is kept, since the current request sits at the end of a context.
        A task that already contains every history entry is a transcript quoting the history,
        which is then not repeated.
        """
        head = f"tool {self.tool}: {self.tool_description[:200]}"
        quoted = all(h in self.task for h in self.history)
        context = "\n".join([self.task] if quoted else [self.task, *self.history])
        return f"{head}\n{context[-limit:]}"
