"""Fine-tune the embedder on labelled queries: in-domain training, on the CPU, from local weights.

The packaged MiniLM was trained for symmetric sentence similarity, not for matching a request to
the tool that serves it. A contrastive fine-tune on (query, fitting skill) pairs — each query
against the other pairs' skills in its batch and a hard negative mined by the router — teaches
that asymmetric match, and what it learns carries to other catalogs (``bench/README.md``). The
result is a local sentence-transformers directory that plugs in wherever an embedder does.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator._files import read_json_lines, replace_dir, staging_dir
from orchestrator.catalog import Skill
from orchestrator.errors import TrainingError
from orchestrator.routing._duplicates import contract_of, is_duplicate
from orchestrator.routing._embedder import default_model_path, load_sentence_transformer
from orchestrator.routing._router import SkillRouter
from orchestrator.routing._text import skill_text

__all__ = [
    "LabelledQuery",
    "TrainingExample",
    "TrainingReport",
    "fine_tune_embedder",
    "read_labelled_queries",
    "training_examples",
]

TRAINING_FILE = "orchestrator-training.json"
"""Written beside the weights: what the model was trained from, so a result can be reproduced."""


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    """A query and the ids of the skills that fit it (empty: nothing in the catalog fits)."""

    query: str
    gold: tuple[str, ...]
    # Where it was read ("FILE:LINE"), for errors; empty when built in code.
    source: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class TrainingExample:
    """One contrastive example: a query, the text of a skill that fits it, and texts of skills
    that look alike but do not."""

    query: str
    positive: str
    negatives: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TrainingReport:
    """What :func:`fine_tune_embedder` did; also saved as ``orchestrator-training.json``."""

    base: str
    examples: int
    epochs: int
    steps: int
    batch_size: int
    learning_rate: float
    max_tokens: int
    seed: int
    first_loss: float
    last_loss: float


Progress = Callable[[int, int, float], None]
"""Called after each optimisation step with (step, total steps, loss)."""


def read_labelled_queries(path: str | Path) -> list[LabelledQuery]:
    """Read JSON lines ``{"query": "...", "gold": ["skill id", ...]}`` (other keys are ignored;
    ``gold`` may be empty for a query nothing fits)."""
    file = Path(path)
    out = []
    for line_no, value in read_json_lines(file, TrainingError, "labelled queries"):
        where = f"{file}:{line_no}"
        if not isinstance(value, dict):
            raise TrainingError(f"{where}: expected an object with 'query' and 'gold'")
        query, gold = value.get("query"), value.get("gold")
        if not isinstance(query, str) or not query.strip():
            raise TrainingError(f"{where}: 'query' must be a non-empty string")
        if not isinstance(gold, list) or not all(isinstance(g, str) for g in gold):
            raise TrainingError(f"{where}: 'gold' must be a list of skill ids (strings)")
        out.append(LabelledQuery(query, tuple(gold), source=where))
    return out


def training_examples(
    router: SkillRouter,
    labelled: Sequence[LabelledQuery],
    *,
    hard_negatives: int = 1,
    depth: int = 20,
    max_positives: int | None = None,
) -> list[TrainingExample]:
    """One example per (query, gold skill), with hard negatives mined by ``router``: its best
    candidates for the query that are neither gold nor a near-duplicate of a gold skill
    (training a copy of the right tool away would teach the model to split hairs it should
    not). Queries without gold skills give no example: nothing to pull the query towards.

    ``max_positives`` keeps only each query's first gold skills as examples (a query that a
    whole family of providers fits would otherwise weigh as much as that many queries); the
    rest of its gold skills are still never negatives.

    Raises
    ------
    TrainingError
        A gold id is not in the router's catalog.
    """
    check_gold(router, labelled)
    row_of = {s.id: row for row, s in enumerate(router.skills)}  # every gold id, by check_gold
    policy = router.policy
    examples: list[TrainingExample] = []
    vectors = router.embed_queries([q.query for q in labelled]) if labelled else None
    for n, item in enumerate(labelled):
        if not item.gold:
            continue
        assert vectors is not None
        gold = [router.skills[row_of[g]] for g in item.gold]
        gold_heads = np.stack([router.index.vectors_of(row_of[g])[0] for g in item.gold])
        gold_contracts = [contract_of(g) for g in gold]
        negatives: list[str] = []
        for candidate in router.candidates(item.query, depth=depth, vector=vectors[n]):
            if len(negatives) >= hard_negatives:
                break
            skill = router.skills[candidate.row]
            if skill.id in item.gold:
                continue
            similarity = gold_heads @ router.index.vectors_of(candidate.row)[0]
            contract = contract_of(skill)
            if any(
                is_duplicate(float(s), contract, c, policy.duplicates)
                for s, c in zip(similarity, gold_contracts, strict=True)
            ):
                continue
            negatives.append(_indexed_text(router, skill))
        for skill in gold[:max_positives]:
            examples.append(
                TrainingExample(item.query, _indexed_text(router, skill), tuple(negatives))
            )
    return examples


def check_gold(router: SkillRouter, labelled: Sequence[LabelledQuery]) -> None:
    """Raise :class:`TrainingError` for the first query whose gold ids the router's catalog
    lacks: labels written against another catalog (or a renamed skill) would train noise."""
    known = {s.id for s in router.skills}
    for n, item in enumerate(labelled):
        missing = [g for g in item.gold if g not in known]
        if missing:
            where = item.source or f"labelled query {n + 1}"
            raise TrainingError(
                f"{where} ({item.query[:60]!r}): gold skill(s) {missing} are not in the catalog"
            )


def _indexed_text(router: SkillRouter, skill: Skill) -> str:
    """The skill's signature passage, as the index embeds it (name, description, parameters)."""
    p = router.policy.index
    return skill_text(
        skill, chunk_words=p.chunk_words, chunk_overlap=p.chunk_overlap, max_chunks=p.max_chunks
    ).signature


def fine_tune_embedder(
    examples: Sequence[TrainingExample],
    out: str | Path,
    *,
    base: str | Path | None = None,
    epochs: int = 2,
    batch_size: int = 32,
    learning_rate: float = 2e-5,
    max_tokens: int = 128,
    scale: float = 20.0,
    seed: int = 0,
    progress: Progress | None = None,
) -> TrainingReport:
    """Fine-tune the sentence-transformers model at ``base`` (the packaged all-MiniLM-L6-v2 by
    default) on ``examples`` and save it to ``out``, replacing what is there atomically.

    The loss is the multiple-negatives ranking loss (a softmax over the batch's positives and
    negatives, cosines times ``scale``); two examples of one batch that share a query or a
    positive are not each other's negatives. Seeded: the same examples, seed and thread count
    give the same weights.

    Raises
    ------
    TrainingError
        Fewer than two examples, or settings out of range.
    ModelLoadError
        ``base`` is not a loadable local model.
    """
    if len(examples) < 2:
        raise TrainingError(
            f"fine-tuning needs at least 2 labelled (query, skill) pairs, got {len(examples)}"
        )
    if epochs < 1 or batch_size < 2 or learning_rate <= 0 or max_tokens < 8:
        raise TrainingError(
            "expected epochs >= 1, batch_size >= 2, learning_rate > 0 and max_tokens >= 8"
        )
    _check_replaceable(Path(out))  # before training, not after it
    import torch

    base_path = Path(base) if base is not None else default_model_path()
    # A model of its own: the routers' cached embedder must not change under them.
    model = load_sentence_transformer(base_path)
    model.max_seq_length = max_tokens
    rng = random.Random(seed)
    torch.manual_seed(seed)
    order = list(range(len(examples)))
    steps_per_epoch = math.ceil(len(order) / batch_size)
    total = epochs * steps_per_epoch
    warmup = max(1, total // 10)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total - s) / total)
    )

    def embed(texts: list[str]) -> Any:
        vectors = model(model.preprocess(texts))["sentence_embedding"]
        return torch.nn.functional.normalize(vectors, dim=-1)

    model.train()
    losses: list[float] = []
    for _ in range(epochs):
        rng.shuffle(order)
        for start in range(0, len(order), batch_size):
            batch = [examples[i] for i in order[start : start + batch_size]]
            loss = _batch_loss(batch, embed, scale)
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            losses.append(float(loss.item()))
            if progress is not None:
                progress(len(losses), total, losses[-1])
    model.eval()
    window = max(1, min(10, len(losses) // 4))  # steps averaged for the first and last loss
    report = TrainingReport(
        base=str(base_path),
        examples=len(examples),
        epochs=epochs,
        steps=total,
        batch_size=batch_size,
        learning_rate=learning_rate,
        max_tokens=max_tokens,
        seed=seed,
        first_loss=float(np.mean(losses[:window])),
        last_loss=float(np.mean(losses[-window:])),
    )
    _save_atomic(model, Path(out), report)
    return report


def _batch_loss(
    batch: Sequence[TrainingExample], embed: Callable[[list[str]], Any], scale: float
) -> Any:
    """The multiple-negatives ranking loss of one batch (a torch scalar): each query's softmax
    over the batch's documents, its own positive the target, pairs that are not negatives
    (:func:`_not_negatives`) left out. ``embed`` maps texts to unit vectors (a torch tensor)."""
    import torch

    documents = _batch_documents(batch)
    scores = embed([e.query for e in batch]) @ embed(documents).T * scale
    for i, j in _not_negatives(batch, documents):
        scores[i, j] = -1e4
    return torch.nn.functional.cross_entropy(scores, torch.arange(len(batch)))


def _batch_documents(batch: Sequence[TrainingExample]) -> list[str]:
    """The documents a batch's queries are scored against: every positive (query ``i``'s own
    is column ``i``), then every hard negative."""
    return [e.positive for e in batch] + [n for e in batch for n in e.negatives]


def _not_negatives(
    batch: Sequence[TrainingExample], documents: Sequence[str]
) -> list[tuple[int, int]]:
    """(query, document) pairs of a batch that must not count as negatives: another example's
    positive for the same query, and any other column holding the query's own positive (the
    same skill as another example's positive, or mined as its hard negative)."""
    out = []
    for i, row in enumerate(batch):
        for j, document in enumerate(documents):
            if j == i:
                continue
            if document == row.positive or (j < len(batch) and batch[j].query == row.query):
                out.append((i, j))
    return out


def _check_replaceable(target: Path) -> None:
    """``target`` is replaced whole by the new model: refuse a file or a folder that holds
    something other than a sentence-transformers model (say, ``--out .``)."""
    if not target.exists():
        return
    if not target.is_dir() or (any(target.iterdir()) and not (target / "modules.json").exists()):
        raise TrainingError(
            f"{target}: exists and is not a sentence-transformers model folder; refusing to "
            "replace it (give a new or empty folder, or an earlier model's)"
        )


def _save_atomic(model: Any, target: Path, report: TrainingReport) -> None:
    """Save into a sibling folder, then swap it in: ``target`` is the old model or the whole new
    one, never a half-written mix."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_dir(target)
    try:
        model.save(str(staging))
        (staging / TRAINING_FILE).write_text(json.dumps(asdict(report), indent=2) + "\n")
        replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
