"""Features of a step: an optional sentence embedding of its text plus numeric signals."""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from orchestrator.effort._step import Step

if TYPE_CHECKING:
    from orchestrator.routing import Embedder

__all__ = ["SIGNALS", "TextEncoder", "signals"]

Matrix = npt.NDArray[np.float64]

SIGNALS = (
    "log_context_chars",
    "log_history",
    "log_description_chars",
    "failures",
    "retries",
    "confidence",
    "has_confidence",
    "margin",
    "log_alternatives",
    "tool_named",
)


def _tool_named(step: Step) -> float:
    """Share of the tool name's words found in the latest part of the task: a request that names
    the tool (``grep the file``) asks for less inference than one that implies it (``cd`` first)."""
    words = [w for w in re.split(r"[_\W]+|(?<=[a-z])(?=[A-Z])", step.tool) if len(w) > 2]
    if not words:
        return 0.0
    tail = step.task[-400:].lower()
    return sum(1 for w in words if w.lower() in tail) / len(words)


def signals(steps: Sequence[Step]) -> Matrix:
    """The numeric signals of each step, one row per step, columns as in ``SIGNALS``."""
    rows = [
        [
            math.log1p(len(s.task)),
            math.log1p(len(s.history)),
            math.log1p(len(s.tool_description)),
            math.log1p(s.failures),
            float(s.retries),
            s.confidence if s.confidence is not None else 0.0,
            1.0 if s.confidence is not None else 0.0,
            s.margin if s.margin is not None else 0.0,
            math.log1p(s.alternatives),
            _tool_named(s),
        ]
        for s in steps
    ]
    return np.asarray(rows, dtype=np.float64).reshape(len(steps), len(SIGNALS))


class TextEncoder:
    """Embeds step texts, caching the ``capacity`` most recently used by text: a replay walk or
    an agent asks for one step at a time, and a long-lived one must not grow without bound."""

    def __init__(self, embedder: Embedder | None = None, *, capacity: int = 50000) -> None:
        self._embedder = embedder
        self.capacity = capacity
        self._cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from orchestrator.routing import load_embedder

            self._embedder = load_embedder()
        return self._embedder

    @property
    def name(self) -> str:
        return self.embedder.name

    def warm(self, texts: Sequence[str]) -> None:
        """Embed every new text in ``texts`` in batches."""
        self._vectors(texts)

    def encode(self, steps: Sequence[Step]) -> Matrix:
        texts = [s.text() for s in steps]
        found = self._vectors(texts)
        return np.asarray([found[t] for t in texts], dtype=np.float64).reshape(len(steps), -1)

    def _vectors(self, texts: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        """Each distinct text's vector, the new ones embedded in one batch."""
        found: dict[str, npt.NDArray[np.float32]] = {}
        fresh: list[str] = []
        for text in dict.fromkeys(texts):
            vector = self._cache.get(text)
            if vector is None:
                fresh.append(text)
            else:
                self._cache.move_to_end(text)
                found[text] = vector
        if fresh:
            vectors = self.embedder.encode(fresh, batch_size=64)
            for text, vector in zip(fresh, vectors, strict=True):
                found[text] = self._cache[text] = vector
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return found
