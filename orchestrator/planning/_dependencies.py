"""The dependency graph of a catalog: which skill's output can feed which skill's required input.

Edges are derived from the schemas alone, by name (the same specific words, ``access_token`` to
``access_token``) or by meaning (embedded name + description, ``nearestAirport`` to
``travel_from: the airport code``). Each edge keeps why it exists. The graph is computed once per
catalog and cached next to its routing index.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from orchestrator._files import write_text_atomic
from orchestrator.catalog import Skill, catalog_hash
from orchestrator.errors import IndexFormatError
from orchestrator.planning._fields import (
    ID_WORDS,
    FieldRef,
    input_fields,
    output_fields,
)
from orchestrator.planning._policy import DependencyPolicy

if TYPE_CHECKING:
    from orchestrator.routing import Embedder

__all__ = [
    "DependencyEdge",
    "DependencyGraph",
    "cached_dependencies",
    "dependency_key",
    "derive_dependencies",
]

DEPENDENCY_FORMAT = 1
# Bumped whenever the derivation reads schemas differently, so a graph cached by an earlier
# version is derived again. 2: output fields follow local $refs. 3: a generic name without a
# description ("content") is compared with nothing. 4: records' fields listed in an output's
# description count as its fields. 5: an input saying where or how a result is written is fed
# by nothing. 6: a field listed in prose feeds only an input naming the same kind of record id.
# 7: fields are read through allOf, and an optional field's anyOf gives its type. 8: a person
# noun in a field name is not its verb ("interviewer_id" is no "interview_id"). 9: text the
# caller writes (a title, a note) is fed by nothing. 10: a list of records does not feed a list
# of scalars, nor the other way round. 11: a body, description or message is text the caller
# writes too.
DERIVATION_RULES = 11
_FILE = "dependencies.json"


@dataclass(frozen=True)
class DependencyEdge:
    """``producer``'s output field ``output`` can supply ``consumer``'s required input ``input``."""

    producer: str
    consumer: str
    output: str
    input: str
    score: float
    reason: str

    def describe(self) -> str:
        return (
            f"{self.producer}.{self.output} -> {self.consumer}.{self.input} "
            f"({self.reason}, {self.score:.2f})"
        )


class DependencyGraph:
    """Producer -> consumer edges of one catalog, indexed by what each consumer needs.

    ``key`` records what the edges were derived from (catalog, embedder, thresholds), so a cached
    graph is reused only for the same inputs.
    """

    def __init__(self, edges: Iterable[DependencyEdge], *, key: str = "") -> None:
        self.edges = tuple(edges)
        self.key = key
        by_input: dict[tuple[str, str], list[DependencyEdge]] = defaultdict(list)
        by_pair: dict[tuple[str, str], list[DependencyEdge]] = defaultdict(list)
        for edge in self.edges:
            by_input[(edge.consumer, edge.input)].append(edge)
            by_pair[(edge.producer, edge.consumer)].append(edge)
        for found in by_input.values():
            found.sort(key=lambda e: (-e.score, e.producer))
        self._by_input = dict(by_input)
        # Read while binding each executed step's arguments: indexed, not scanned.
        self._by_pair = dict(by_pair)

    def producers(self, consumer: str, input_name: str) -> list[DependencyEdge]:
        """Edges into ``consumer``'s input ``input_name``, best first."""
        return list(self._by_input.get((consumer, input_name), ()))

    def between(self, producer: str, consumer: str) -> list[DependencyEdge]:
        """Why ``producer`` can feed ``consumer`` (empty when it cannot)."""
        return list(self._by_pair.get((producer, consumer), ()))

    def __len__(self) -> int:
        return len(self.edges)

    # -- persistence ----------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write the graph into ``directory`` (atomically), keyed by what it was derived from."""
        path = Path(directory) / _FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": DEPENDENCY_FORMAT,
            "key": self.key,
            "edges": [asdict(e) for e in self.edges],
        }
        write_text_atomic(path, json.dumps(payload, ensure_ascii=False))
        return path

    @classmethod
    def load(cls, directory: str | Path, *, key: str | None = None) -> DependencyGraph | None:
        """The cached graph in ``directory``, or None when absent or derived from something else
        (another catalog, model or policy); a damaged file is an error."""
        path = Path(directory) / _FILE
        if not path.exists():
            return None
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            if payload.get("format") != DEPENDENCY_FORMAT:
                return None
            if key is not None and payload.get("key") != key:
                return None
            edges = tuple(DependencyEdge(**e) for e in payload["edges"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexFormatError(f"{path}: damaged dependency cache ({exc}); delete it") from exc
        return cls(edges, key=payload.get("key", ""))


def dependency_key(skills: Iterable[Skill], model_name: str, policy: DependencyPolicy) -> str:
    """What a cached graph must match: the catalog, the embedder, the thresholds and the
    derivation rules."""
    return f"{catalog_hash(skills)}:{model_name}:{policy.model_dump_json()}:{DERIVATION_RULES}"


def _compatible(output: FieldRef, needed: FieldRef) -> bool:
    # Only a flag cannot stand in for a value of another kind; ids are strings or integers
    # depending on the API, and lists feed scalars through an item (the agent picks one). A
    # list of records is no list of strings ("observations": texts, or observation objects).
    if output.type == needed.type == "array" and None not in (output.items, needed.items):
        return (output.items == "object") == (needed.items == "object")
    if output.type == needed.type or output.type is None or needed.type is None:
        return True
    return "boolean" not in (output.type, needed.type)


def _meaningful(field: FieldRef) -> bool:
    """Whether a field's embedded text says what its value is: a specific name or a
    description."""
    return bool(field.specific_words or field.description)


def _names_a_record(field: FieldRef) -> bool:
    """Whether ``field`` is an id of some kind of record (``hotel_offer_id``, ``slot_id``): the
    one kind of input a field listed in prose feeds. Its bare name says too little otherwise:
    a lint issue's listed ``code`` is not the source code a snippet runner takes, nor a listed
    event's ``title`` the title of a new one."""
    return bool(field.words & ID_WORDS) and bool(field.specific_words - ID_WORDS)


def _name_overlap(a: frozenset[str], b: frozenset[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def derive_dependencies(
    skills: Sequence[Skill],
    embedder: Embedder | None,
    policy: DependencyPolicy | None = None,
) -> DependencyGraph:
    """Every producer -> consumer edge of ``skills`` under ``policy``.

    By name: the Jaccard overlap of the two fields' specific words (generic words such as
    "result" or "status" do not count). By meaning, when an embedder is given: the cosine of the
    embedded ``name: description`` texts, for fields with a specific name or a description. A
    skill never feeds itself.
    """
    policy = policy or DependencyPolicy()
    outputs = [f for s in skills for f in output_fields(s)]
    # An input saying where a result goes, or text to write, is the caller's: nothing feeds it.
    needed = [f for s in skills for f in input_fields(s) if f.required and not f.is_callers]
    model_name = embedder.name if embedder is not None else "names-only"
    key = dependency_key(skills, model_name, policy)
    if not outputs or not needed:
        return DependencyGraph((), key=key)

    best: dict[tuple[int, int], tuple[float, str]] = {}

    by_word: dict[str, list[int]] = defaultdict(list)
    for j, out in enumerate(outputs):
        for word in out.specific_words:
            by_word[word].append(j)
    for i, field in enumerate(needed):
        words = field.specific_words
        for j in {j for w in words for j in by_word.get(w, ())}:
            overlap = _name_overlap(words, outputs[j].specific_words)
            if outputs[j].listed and not (overlap == 1.0 and _names_a_record(field)):
                continue
            if overlap >= policy.name_overlap:
                best[(i, j)] = (overlap, "same name" if overlap == 1.0 else "name overlap")

    if embedder is not None:
        out_vectors = embedder.encode([f.text() for f in outputs])
        in_vectors = embedder.encode([f.text() for f in needed])
        similarity = in_vectors @ out_vectors.T
        # A generic name with no description says nothing: every MCP tool's bare "content" is
        # not the "content" a file write needs, though the two texts embed the same.
        similarity[np.asarray([not _meaningful(f) for f in needed], dtype=bool), :] = -1.0
        similarity[:, np.asarray([not _meaningful(f) for f in outputs], dtype=bool)] = -1.0
        # A field known only from a description's list has no text of its own to compare.
        similarity[:, np.asarray([f.listed for f in outputs], dtype=bool)] = -1.0
        for i, j in zip(*np.nonzero(similarity >= policy.description_similarity), strict=True):
            score = float(similarity[i, j])
            if score > best.get((int(i), int(j)), (-1.0, ""))[0]:
                best[(int(i), int(j))] = (score, "similar description")

    per_input: dict[int, list[DependencyEdge]] = defaultdict(list)
    for (i, j), (score, reason) in best.items():
        out, field = outputs[j], needed[i]
        if out.skill == field.skill or not _compatible(out, field):
            continue
        per_input[i].append(
            DependencyEdge(out.skill, field.skill, out.name, field.name, round(score, 4), reason)
        )
    edges: list[DependencyEdge] = []
    for i in sorted(per_input):
        found = per_input[i]
        # One edge per producer and input: its best-matching output field.
        by_producer: dict[str, DependencyEdge] = {}
        for edge in sorted(found, key=lambda e: (-e.score, e.producer, e.output)):
            by_producer.setdefault(edge.producer, edge)
        edges.extend(list(by_producer.values())[: policy.max_producers])
    return DependencyGraph(tuple(edges), key=key)


def cached_dependencies(
    skills: Sequence[Skill],
    embedder: Embedder | None,
    policy: DependencyPolicy,
    directory: str | Path | None,
) -> DependencyGraph:
    """``derive_dependencies``, read from / written to ``directory`` when one is given."""
    model_name = embedder.name if embedder is not None else "names-only"
    key = dependency_key(skills, model_name, policy)
    if directory is not None:
        cached = DependencyGraph.load(directory, key=key)
        if cached is not None:
            return cached
    graph = derive_dependencies(skills, embedder, policy)
    if directory is not None:
        graph.save(directory)
    return graph
