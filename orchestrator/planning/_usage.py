"""What past successful runs did: which tools they called, in which order, and for what task. The
planner reads it to add prerequisites no schema shows and to recall the tools of similar tasks.

``cd`` before ``mv`` or a login before ``create_ticket`` are state changes: no output feeds an
input, so the dependency graph cannot find them; runs that succeeded show them every time. And a
chatty request ("let's bring the engine to life") that routing reads poorly often reads like one a
past run already answered.

File format (JSON, written atomically)::

    {"format": "orchestrator.usage/1",
     "runs": [{"task": "Move report.txt into archive", "tools": ["fs.cd", "fs.mv"]}, ...],
     "vectors": {"model": "all-MiniLM-L6-v2@504d28f43d55",     # optional: the tasks embedded
                 "dimension": 384,                          #   (the first rows of the runs that
                 "float16": "<base64, little-endian>"}}     #   have a task, one row each)

``task`` may be empty (a run known only by its tools); ``tools`` are in first-call order.
Tasks without a vector (or with another model's) are embedded on the next recall.
"""

from __future__ import annotations

import base64
import json
import math
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from orchestrator._files import write_text_atomic
from orchestrator.errors import UsageFormatError
from orchestrator.execution import Decision, DecisionLog
from orchestrator.routing._text import tokenize

if TYPE_CHECKING:
    from orchestrator.routing import Embedder

__all__ = ["USAGE_FORMAT", "PastRun", "Precedent", "UsageModel"]

USAGE_FORMAT = "orchestrator.usage/1"


@dataclass(frozen=True)
class PastRun:
    """One successful run: its task (may be empty) and the tools it called, in first-call order."""

    task: str
    tools: tuple[str, ...]


@dataclass(frozen=True)
class Precedent:
    """``tool`` ran before the step in ``share`` of the ``runs`` past successful runs of it."""

    tool: str
    share: float
    runs: int


class UsageModel:
    """Past successful runs, and what they say: how often each tool ran, which ran before which,
    and which tools tasks like a new one needed.

    Fit it from run records (``fit``) or decision logs (``from_logs``); ``add`` counts one more
    run, so an ``Orchestrator`` can keep learning from its own runs.

    Examples
    --------
    >>> usage = UsageModel.fit([PastRun("", ("fs.cd", "fs.mv"))] * 2 + [PastRun("", ("fs.mv",))])
    >>> [(p.tool, round(p.share, 2)) for p in usage.precedents("fs.mv")]
    [('fs.cd', 0.67)]
    """

    def __init__(self) -> None:
        self.runs: list[PastRun] = []
        self._tools: Counter[str] = Counter()
        self._before: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._vectors: npt.NDArray[np.float32] | None = None  # rows: runs with a task
        self._model = ""
        self._with_task: list[int] = []  # indices of runs that have a task, in vector order
        self._lexicon: _Lexicon | None = None

    # -- learning -------------------------------------------------------------------------------

    def add(self, task: str, tools: Sequence[str]) -> None:
        """Count one successful run of ``task`` that called ``tools`` in this order (repeats
        allowed: only each tool's first call orders it)."""
        first = tuple(dict.fromkeys(tools))
        if not first:
            return
        self.runs.append(PastRun(task.strip(), first))
        self._tools.update(first)
        for position, earlier in enumerate(first):
            self._before[earlier].update(first[position + 1 :])
        if task.strip():
            self._with_task.append(len(self.runs) - 1)  # embedded on the next ``embed``

    @classmethod
    def fit(cls, runs: Iterable[PastRun]) -> UsageModel:
        """A model of these successful runs."""
        model = cls()
        for run in runs:
            model.add(run.task, run.tools)
        return model

    @staticmethod
    def tools_run(log: Iterable[Decision]) -> list[str] | None:
        """The tools a run (its decision log, or the decisions one run added to a log) called
        successfully, in order; None when it did not complete its own goal (a demoted run
        reached a lesser one, so its tools do not say what the task needs)."""
        decisions = list(log)
        actions = {d.action for d in decisions}
        if "complete" not in actions or "demote" in actions:
            return None
        return [d.tool for d in decisions if d.action == "execute"]

    @classmethod
    def from_logs(cls, logs: Iterable[tuple[str, DecisionLog]]) -> UsageModel:
        """A model of the completed runs among these ``(task, decision log)`` pairs (failed
        runs teach nothing about what a task needs)."""
        model = cls()
        for task, log in logs:
            tools = cls.tools_run(log)
            if tools is not None:
                model.add(task, tools)
        return model

    # -- reading --------------------------------------------------------------------------------

    def used(self, tool: str) -> int:
        """How many past runs called ``tool``."""
        return self._tools[tool]

    def familiarity(self, candidates: Sequence[Collection[str]]) -> float:
        """The share of ``candidates`` that some past run called; each candidate is a group of
        ids that do the same job (a match and its near-duplicates), called when any of them
        was. 0.0 for no candidates.

        Past runs can only speak for tools they called: recall is trusted for a task whose
        candidates they know, and the planner asks more of it for a task whose candidates
        they never ran (see ``UsagePolicy.min_familiarity``).
        """
        if not candidates:
            return 0.0
        known = sum(any(self.used(tool) for tool in group) for group in candidates)
        return known / len(candidates)

    def before(self, earlier: str, later: str) -> int:
        """How many past runs called ``earlier`` (first) before ``later``."""
        return self._before[earlier][later] if earlier in self._before else 0

    def precedents(
        self, tool: str, *, min_share: float = 0.0, min_runs: int = 1
    ) -> list[Precedent]:
        """Tools that ran before ``tool`` in at least ``min_share`` of the past runs of it, most
        frequent first; none when ``tool`` ran in fewer than ``min_runs`` runs."""
        runs = self._tools[tool]
        if runs < max(min_runs, 1):
            return []
        found = [
            Precedent(earlier, counts[tool] / runs, runs)
            for earlier, counts in self._before.items()
            if counts[tool] and counts[tool] / runs >= min_share
        ]
        return sorted(found, key=lambda p: (-p.share, p.tool))

    def embed(self, embedder: Embedder) -> None:
        """Embed the past tasks not yet embedded with ``embedder`` (all of them when they were
        embedded with another model)."""
        have = self._vectors
        if have is None or self._model != embedder.name:
            have = np.zeros((0, embedder.dimension), dtype=np.float32)
        rows = list(self._with_task)  # a snapshot: runs added meanwhile wait for the next call
        if len(have) < len(rows):
            texts = [self.runs[i].task for i in rows[len(have) :]]
            have = np.vstack([have, embedder.encode(texts).astype(np.float32)])
        self._vectors, self._model = have, embedder.name

    def recall(
        self,
        vector: npt.NDArray[np.float32],
        *,
        neighbours: int,
        min_similarity: float = 0.0,
        task: str = "",
        lexical_weight: float = 0.0,
    ) -> dict[str, float]:
        """The tools of the past tasks most like ``vector`` (the embedded ``task``), each with
        the similarity-weighted share of those ``neighbours`` tasks that used it; empty when no
        past task is at least ``min_similarity`` alike. Call ``embed`` first.

        Similarity is the cosine of the embeddings, blended with ``lexical_weight`` of the
        TF-IDF cosine of the words: the names a request shares with past ones (a file, a
        ticket, "tire") say more than the embedding of a chatty sentence."""
        vectors = self._vectors  # rows are a prefix of the runs with a task
        if vectors is None or not len(vectors) or neighbours < 1:
            return {}
        similarity = vectors @ vector.astype(np.float32)
        if lexical_weight > 0.0:
            lexical = self._lexical().similarity(task)[: len(vectors)]
            similarity = (1.0 - lexical_weight) * similarity + lexical_weight * lexical
        nearest = np.argsort(-similarity, kind="stable")[:neighbours]
        votes: dict[str, float] = {}
        total = 0.0
        for row in nearest:
            weight = float(similarity[row])
            if weight < max(min_similarity, 1e-9):
                continue
            total += weight
            for tool in self.runs[self._with_task[row]].tools:
                votes[tool] = votes.get(tool, 0.0) + weight
        return {tool: vote / total for tool, vote in votes.items()} if total else {}

    def _lexical(self) -> _Lexicon:
        lexicon = self._lexicon
        if lexicon is None or lexicon.rows != len(self._with_task):
            lexicon = _Lexicon([self.runs[i].task for i in self._with_task])
            self._lexicon = lexicon
        return lexicon

    @property
    def can_recall(self) -> bool:
        """Whether any past run has a task to compare a new one with."""
        return bool(self._with_task)

    def __len__(self) -> int:
        return len(self.runs)

    # -- persistence ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "format": USAGE_FORMAT,
            "runs": [{"task": r.task, "tools": list(r.tools)} for r in self.runs],
        }
        vectors = self._vectors
        if vectors is not None and len(vectors):
            packed = base64.b64encode(vectors.astype("<f2").tobytes()).decode("ascii")
            payload["vectors"] = {
                "model": self._model,
                "dimension": int(vectors.shape[1]),
                "float16": packed,
            }
        return payload

    def save(self, path: str | Path) -> Path:
        """Write the model to ``path`` (JSON, atomically: a reader never sees half a file)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, json.dumps(self.to_dict(), ensure_ascii=False))
        return target

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any], *, source: str = "usage model") -> UsageModel:
        """The model ``to_dict`` wrote.

        Raises
        ------
        UsageFormatError
            Another format, or a field of the wrong shape (named in the message).
        """
        if payload.get("format") != USAGE_FORMAT:
            raise UsageFormatError(
                f"{source}: field 'format' must be {USAGE_FORMAT!r}, got {payload.get('format')!r}"
            )
        runs = payload.get("runs")
        if not isinstance(runs, list):
            raise UsageFormatError(f"{source}: field 'runs' must be a list of runs")
        model = cls()
        for n, run in enumerate(runs):
            task = run.get("task", "") if isinstance(run, dict) else None
            tools = run.get("tools") if isinstance(run, dict) else None
            if not isinstance(task, str) or not (
                isinstance(tools, list) and all(isinstance(t, str) for t in tools)
            ):
                raise UsageFormatError(
                    f"{source}: runs[{n}] must be {{'task': str, 'tools': [str, ...]}}"
                )
            model.add(task, tools)
        vectors = payload.get("vectors")
        if vectors is not None:
            model._load_vectors(vectors, source)
        return model

    def _load_vectors(self, vectors: Any, source: str) -> None:
        try:
            raw = base64.b64decode(vectors["float16"], validate=True)
            flat = np.frombuffer(raw, dtype="<f2")
            dimension = int(vectors["dimension"])
            if dimension < 1 or flat.size % dimension:
                raise ValueError(f"{flat.size} numbers are not rows of {dimension}")
            if flat.size // dimension > len(self._with_task):
                raise ValueError(f"{flat.size // dimension} rows for {len(self._with_task)} tasks")
            self._vectors = flat.reshape(-1, dimension).astype(np.float32)
            self._model = str(vectors["model"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageFormatError(
                f"{source}: field 'vectors' must be {{'model': str, 'dimension': int, "
                f"'float16': base64 of at most one row per run with a task}} ({exc})"
            ) from exc

    @classmethod
    def load(cls, path: str | Path) -> UsageModel:
        """The model saved at ``path``.

        Raises
        ------
        UsageFormatError
            The file is missing, is not JSON, or is not a usage model.
        """
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageFormatError(f"{path}: cannot read a usage model ({exc})") from exc
        if not isinstance(payload, dict):
            raise UsageFormatError(f"{path}: a usage model must be a JSON object")
        return cls.from_dict(payload, source=str(path))


class _Lexicon:
    """TF-IDF vectors (sublinear term frequency, smoothed idf, L2-normalised) of the past tasks'
    words, searched through an inverted index."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.rows = len(texts)
        counts = [Counter(tokenize(text)) for text in texts]
        frequency = Counter(word for count in counts for word in count)
        self.idf = {w: math.log((1 + self.rows) / (1 + f)) + 1.0 for w, f in frequency.items()}
        self.postings: defaultdict[str, list[tuple[int, float]]] = defaultdict(list)
        for row, count in enumerate(counts):
            for word, weight in self._weights(count).items():
                self.postings[word].append((row, weight))

    def _weights(self, count: Mapping[str, int]) -> dict[str, float]:
        raw = {w: (1.0 + math.log(n)) * self.idf[w] for w, n in count.items() if w in self.idf}
        norm = math.sqrt(sum(v * v for v in raw.values()))
        return {w: v / norm for w, v in raw.items()} if norm else {}

    def similarity(self, text: str) -> npt.NDArray[np.float32]:
        """The cosine of ``text`` with each past task."""
        scores = np.zeros(self.rows, dtype=np.float32)
        for word, weight in self._weights(Counter(tokenize(text))).items():
            for row, other in self.postings[word]:
                scores[row] += weight * other
        return scores
