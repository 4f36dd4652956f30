"""SkillRouter: from a task to the few skills that fit it, best first.

Stage 1 retrieves candidates with BM25 and dense search and fuses them (RRF); stage 2 reranks the
fused candidates over the full body; near-duplicates are then grouped so they share one slot, and
the best candidate's calibrated score decides whether anything fits at all.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import anyio.to_thread
import numpy as np
import numpy.typing as npt

from orchestrator.catalog import CatalogSource, Skill, catalog_hash, load_catalog
from orchestrator.errors import IndexFormatError, PolicyError
from orchestrator.policy import Policy, load_policy
from orchestrator.routing._duplicates import Contract, contract_of, group_duplicates
from orchestrator.routing._embedder import Embedder, embedder_for
from orchestrator.routing._fusion import reciprocal_rank_fusion
from orchestrator.routing._index import Progress, SkillIndex
from orchestrator.routing._policy import RoutingPolicy
from orchestrator.routing._rerank import (
    FIT_FEATURES,
    Candidate,
    CrossEncoderReranker,
    FitModel,
    RankFusionReranker,
    Reranker,
    fit_features,
    query_coverage,
)
from orchestrator.routing._text import skill_text, tokenize
from orchestrator.telemetry import routing_span, span

__all__ = ["Match", "RetrievalMethod", "RouteResult", "SkillRouter"]

RetrievalMethod = Literal["bm25", "dense", "rrf"]


@dataclass(frozen=True, slots=True)
class Match:
    """One routed skill. ``score`` is the stage-2 score that orders the matches; ``scores``
    holds each stage's evidence and ``fit``, the probability that this skill fits the query
    (absent for a match past the rerank depth, added only so that ``k`` are listed);
    ``duplicates`` are the near-duplicates this match stands for, best first — alternatives
    an executor can fall back on."""

    skill: Skill
    score: float
    scores: dict[str, float]
    duplicates: tuple[Skill, ...] = ()

    @property
    def id(self) -> str:
        return self.skill.id


@dataclass(frozen=True, slots=True)
class RouteResult:
    """The answer to one query. ``fits`` is false when even the best match scores below the
    policy's no-fit threshold: the matches are then listed but should not be used blindly."""

    query: str
    matches: tuple[Match, ...]
    fits: bool
    threshold: float

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None


class SkillRouter:
    """Routes queries over one indexed catalog. Build it with :meth:`from_catalog`."""

    def __init__(
        self,
        index: SkillIndex,
        embedder: Embedder,
        policy: RoutingPolicy,
        *,
        reranker: Reranker | None = None,
        index_dir: Path | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.policy = policy
        self.index_dir = index_dir
        self.reranker = reranker if reranker is not None else _default_reranker(policy)
        self.fit_model = FitModel(policy.no_fit.weights, policy.no_fit.bias)
        self._contracts: dict[int, Contract] = {}

    # ------------------------------------------------------------ building
    @classmethod
    def from_catalog(
        cls,
        catalog: CatalogSource,
        *,
        policy: Policy | RoutingPolicy | str | Path | None = None,
        index_dir: str | Path | None = None,
        embedder: Embedder | str | Path | None = None,
        cross_encoder: str | Path | None = None,
        dedupe: bool = False,
        progress: Progress | None = None,
    ) -> SkillRouter:
        """Index a catalog (a file, a directory, or a list of skills/callables/tools).

        With ``index_dir``, an index already there is reused when it was built from the same
        catalog, model and chunking; otherwise it is updated incrementally (only new or changed
        skills are embedded) and written back atomically.
        """
        routing = _routing_policy(policy, cross_encoder)
        skills = load_catalog(catalog, dedupe=dedupe)
        directory = Path(index_dir) if index_dir is not None else None
        if directory is not None:
            SkillIndex.check_target(directory)  # before minutes of embedding, not after
        previous: SkillIndex | None = None
        if directory is not None and (directory / "manifest.json").exists():
            try:
                previous = SkillIndex.load(directory)
            except IndexFormatError:
                # Written by another version or damaged: this directory is a cache, rebuild it.
                previous = None
        model = embedder_for(
            routing.index,
            embedder,
            skills=len(skills),
            built_with=previous.embedder_name if previous is not None else None,
            built_from=previous.embedder_path if previous is not None else None,
        )
        if previous is not None and (
            previous.catalog_hash == catalog_hash(skills)
            and previous.embedder_name == model.name
            and previous.policy == routing.index
        ):
            return cls(previous, model, routing, index_dir=directory)
        index = SkillIndex.build(skills, model, routing.index, previous=previous, progress=progress)
        if directory is not None:
            index.save(directory)
        return cls(index, model, routing, index_dir=directory)

    @classmethod
    def from_index(
        cls,
        index_dir: str | Path,
        *,
        policy: Policy | RoutingPolicy | str | Path | None = None,
        embedder: Embedder | str | Path | None = None,
        cross_encoder: str | Path | None = None,
    ) -> SkillRouter:
        """Open an index written by ``orchestrator index`` without reading the catalog again.
        ``cross_encoder``: a CrossEncoder's local path to rerank with, as in ``from_catalog``."""
        directory = Path(index_dir)
        index = SkillIndex.load(directory)
        model = embedder_for(
            index.policy,
            embedder,
            skills=len(index),
            built_with=index.embedder_name,
            built_from=index.embedder_path,
        )
        if index.embedder_name != model.name:
            raise IndexFormatError(
                f"{directory}: built with model {index.embedder_name}, but the router was given "
                f"{model.name}; rebuild the index or pass the same embedder"
            )
        routing = _routing_policy(policy, cross_encoder)
        return cls(index, model, routing, index_dir=directory)

    def add_skills(self, skills: CatalogSource, *, progress: Progress | None = None) -> None:
        """Add (or replace, by id) skills; only they are embedded. Saved when index-backed.

        ``skills`` is anything ``from_catalog`` reads (skills, dicts, callables, tools, or a
        catalog file), and two of them sharing an id is an error, as in a catalog."""
        by_id = {s.id: s for s in self.index.skills}
        for skill in load_catalog(skills):
            by_id[skill.id] = skill
        self.index = SkillIndex.build(
            list(by_id.values()),
            self.embedder,
            self.policy.index,
            previous=self.index,
            progress=progress,
        )
        self._contracts.clear()
        if self.index_dir is not None:
            self.index.save(self.index_dir)

    @property
    def skills(self) -> list[Skill]:
        return self.index.skills

    # ------------------------------------------------------------- routing
    def route(self, query: str, k: int = 10, *, only: Collection[str] | None = None) -> RouteResult:
        """The ``k`` best skills for ``query`` (fewer only if the catalog is smaller).

        ``only`` restricts routing to the given skill ids (an allow-list, e.g. the tools one
        server or one user may call). ``k`` below 1 raises ``ValueError``.
        """
        _check_k(k)
        vector = self.embedder.encode([query])[0]
        return self._route(query, vector, k, only)

    def route_batch(
        self,
        queries: Sequence[str],
        k: int = 10,
        *,
        only: Collection[str] | None = None,
        vectors: npt.NDArray[np.float32] | None = None,
    ) -> list[RouteResult]:
        """Route many queries; their embeddings are computed in batches, unless the caller
        already has them (``vectors``, one row per query, from this router's embedder)."""
        _check_k(k)
        if isinstance(queries, str):
            raise TypeError("route_batch: expected a sequence of queries, got one string")
        if vectors is None:
            vectors = self.embed_queries(queries)
        return [self._route(q, v, k, only) for q, v in zip(queries, vectors, strict=True)]

    def embed_queries(self, queries: Sequence[str]) -> npt.NDArray[np.float32]:
        """The query vectors ``route_batch`` would compute, for a caller that needs them too."""
        return self.embedder.encode(list(queries), batch_size=self.policy.index.batch_size)

    async def aroute(
        self, query: str, k: int = 10, *, only: Collection[str] | None = None
    ) -> RouteResult:
        """:meth:`route` in a worker thread, so an event loop keeps serving while it runs."""
        return await anyio.to_thread.run_sync(lambda: self.route(query, k, only=only))

    def retrieve(
        self,
        query: str,
        k: int = 10,
        *,
        method: RetrievalMethod = "rrf",
        only: Collection[str] | None = None,
        vector: npt.NDArray[np.float32] | None = None,
    ) -> list[tuple[Skill, float]]:
        """Stage 1 alone (BM25, dense, or their RRF fusion), no rerank and no grouping: the
        baselines the benchmark compares the full router against."""
        _check_k(k)
        if vector is None:
            vector = self.embedder.encode([query])[0]
        stage = self._stage_one(tokenize(query), vector, self._allowed_rows(only))
        ranking: list[int]
        score: dict[int, float]
        if method == "bm25":
            ranking = stage.bm25_ranking
            score = {r: float(stage.bm25[r]) for r in ranking[:k]}
        elif method == "dense":
            ranking, score = stage.dense_ranking, stage.dense
        else:
            ranking, score = stage.fused, stage.rrf
        return [(self.index.skills[r], score.get(r, 0.0)) for r in ranking[:k]]

    # ----------------------------------------------------------- internals
    def _allowed_rows(self, only: Collection[str] | None) -> npt.NDArray[np.int64] | None:
        if only is None:
            return None
        if isinstance(only, str):  # iterated, it was one id per character: nothing matched
            raise TypeError(f"only: expected a collection of skill ids, got the string {only!r}")
        rows = [self.index.row(i) for i in only]
        return np.asarray(sorted(r for r in rows if r is not None), dtype=np.int64)

    def _stage_one(
        self,
        query_tokens: list[str],
        vector: npt.NDArray[np.float32],
        allowed: npt.NDArray[np.int64] | None,
    ) -> _StageOne:
        rp = self.policy.retrieval
        bm25 = self.index.bm25_scores(query_tokens)
        if allowed is None:
            positive = np.flatnonzero(bm25 > 0)
            top = positive[np.argsort(-bm25[positive], kind="stable")[: rp.bm25_k]]
            dense_rows, dense_scores = self.index.dense_search(vector, rp.dense_k)
            dense = dict(zip(dense_rows.tolist(), dense_scores.tolist(), strict=True))
            dense_ranking = dense_rows.tolist()
        else:
            sub = bm25[allowed]
            keep = np.flatnonzero(sub > 0)
            top = allowed[keep[np.argsort(-sub[keep], kind="stable")[: rp.bm25_k]]]
            _, best = self.index.dense_scores(vector, allowed.tolist())
            order = np.argsort(-best, kind="stable")[: rp.dense_k]
            dense_ranking = allowed[order].tolist()
            dense = {int(allowed[i]): float(best[i]) for i in order}
        bm25_ranking = top.tolist()
        rrf = reciprocal_rank_fusion([bm25_ranking, dense_ranking], k=rp.rrf_k)
        fused = sorted(rrf, key=lambda r: (-rrf[r], r))
        return _StageOne(bm25, bm25_ranking, dense, dense_ranking, rrf, fused)

    def candidates(
        self,
        query: str,
        *,
        depth: int | None = None,
        only: Collection[str] | None = None,
        vector: npt.NDArray[np.float32] | None = None,
    ) -> list[Candidate]:
        """The fused stage-1 candidates with their evidence, as stage 2 sees them: what a
        reranker is trained on (see ``bench/train_reranker.py``)."""
        if vector is None:
            vector = self.embedder.encode([query])[0]
        query_tokens = tokenize(query)
        stage = self._stage_one(query_tokens, vector, self._allowed_rows(only))
        rows = stage.fused[: depth or self.policy.retrieval.rerank_depth]
        return self._candidates(rows, stage, vector, query_tokens)

    def fit_evidence(
        self,
        queries: Sequence[str],
        *,
        only: Collection[str] | None = None,
        vectors: npt.NDArray[np.float32] | None = None,
    ) -> npt.NDArray[np.float64]:
        """What the no-fit model weighs for each query: its best match's evidence against the
        next match (one row per query, columns in ``FIT_FEATURES`` order; zeros when nothing
        matches). The inputs :func:`~orchestrator.routing.calibrate_no_fit` fits it on.
        ``vectors``: the queries embedded by this router's embedder, when the caller has them."""
        rows = np.zeros((len(queries), len(FIT_FEATURES)), dtype=np.float64)
        if not queries:
            return rows
        if vectors is None:
            vectors = self.embed_queries(queries)
        for n, (query, vector) in enumerate(zip(queries, vectors, strict=True)):
            best = self._ranking(query, vector, 2, only).fit_rows(1)
            if len(best):
                rows[n] = best[0]
        return rows

    def _route(
        self,
        query: str,
        vector: npt.NDArray[np.float32],
        k: int,
        only: Collection[str] | None,
    ) -> RouteResult:
        # Traced as a retrieval span with retrieve / rerank children (no-ops when tracing is off).
        with routing_span(query, k) as traced:
            result = self._route_untraced(query, vector, k, only)
            traced.record(result)
        return result

    def _route_untraced(
        self,
        query: str,
        vector: npt.NDArray[np.float32],
        k: int,
        only: Collection[str] | None,
    ) -> RouteResult:
        ranking = self._ranking(query, vector, k, only)
        ranked, groups = ranking.ranked, ranking.groups
        fit = self.fit_model.probabilities(ranking.fit_rows(k))  # one call for all k matches
        matches = []
        for n, group in enumerate(groups[:k]):
            lead = ranked[group[0]]
            matches.append(
                Match(
                    skill=self.index.skills[lead.row],
                    score=ranking.scores[group[0]],
                    scores={
                        "bm25": lead.bm25,
                        "dense": lead.dense_best,
                        "coverage": lead.coverage,
                        "rrf": lead.rrf,
                        "fit": float(fit[n]),
                    },
                    duplicates=tuple(self.index.skills[ranked[i].row] for i in group[1:]),
                )
            )
        # Always k results when the catalog has k: top up from stage 1 beyond the rerank depth,
        # and only when that runs out, from the rest of the catalog (walked lazily: it is large).
        if len(matches) < k:
            seen = {c.row for c in ranked}
            floor = min((m.score for m in matches), default=0.0)
            allowed = self._allowed_rows(only)
            rest = range(len(self.index)) if allowed is None else allowed.tolist()
            stage = ranking.stage
            for row in itertools.chain(stage.fused[ranking.depth :], rest):
                if len(matches) >= k:
                    break
                if row in seen:
                    continue
                seen.add(row)
                # Beyond the rerank: no fit was judged (none is made up), only its stage-1 rank.
                evidence = {"rrf": stage.rrf.get(row, 0.0)}
                matches.append(Match(self.index.skills[row], floor, evidence))
        # A catalog with fewer groups than k skills: its near-duplicates fill the rest, each a
        # match of its own too, best first (they stay listed in their group), each with its own
        # fit, judged as its leader's is: against the next group's leader.
        members = sorted(
            ((n, i) for n, group in enumerate(groups) for i in group[1:]),
            key=lambda member: -ranking.scores[member[1]],
        )[: max(0, k - len(matches))]
        if members:
            leaders = ranking.leaders
            rows = [
                fit_features(ranked[i], leaders[n + 1] if n + 1 < len(leaders) else None)
                for n, i in members
            ]
            member_fit = self.fit_model.probabilities(np.asarray(rows, dtype=np.float64))
            for (_, i), fit_of in zip(members, member_fit, strict=True):
                score = min(ranking.scores[i], matches[-1].score)  # listed after every leader
                scores = {"rrf": ranked[i].rrf, "fit": float(fit_of)}
                matches.append(Match(self.index.skills[ranked[i].row], score, scores))
        threshold = self.policy.no_fit.threshold
        matches = _deprecated_last(matches, threshold)
        fits = bool(matches) and matches[0].scores.get("fit", 0.0) >= threshold
        return RouteResult(query=query, matches=tuple(matches), fits=fits, threshold=threshold)

    def _ranking(
        self,
        query: str,
        vector: npt.NDArray[np.float32],
        k: int,
        only: Collection[str] | None,
    ) -> _Ranking:
        """Stage 1, the rerank of its top candidates, and their near-duplicate groups: what a
        route result for ``k`` matches is read from."""
        query_tokens = tokenize(query)
        with span("retrieve", method="rrf"):
            stage = self._stage_one(query_tokens, vector, self._allowed_rows(only))
        depth = max(self.policy.retrieval.rerank_depth, 2 * k)
        with span("rerank", depth=depth, reranker=self.policy.rerank.kind):
            candidates = self._candidates(stage.fused[:depth], stage, vector, query_tokens)
            if self.policy.rerank.kind == "none" or not candidates:
                final = np.asarray([c.rrf for c in candidates], dtype=np.float64)
            else:
                final = self.reranker.score(query, candidates)
        order = sorted(range(len(candidates)), key=lambda i: (-final[i], -candidates[i].rrf))
        ranked = [candidates[i] for i in order]
        heads = (
            np.stack([self.index.vectors_of(c.row)[0] for c in ranked])
            if ranked
            else np.zeros((0, 1), np.float32)
        )
        groups = group_duplicates(
            heads, [self._contract(c.row) for c in ranked], self.policy.duplicates
        )
        return _Ranking(
            stage=stage,
            depth=depth,
            ranked=ranked,
            scores=[float(final[i]) for i in order],
            groups=groups,
        )

    def _candidates(
        self,
        rows: Sequence[int],
        stage: _StageOne,
        vector: npt.NDArray[np.float32],
        query_tokens: Sequence[str],
    ) -> list[Candidate]:
        heads, best = self.index.dense_scores(vector, rows)
        bm25_signature = self.index.bm25_scores(list(query_tokens), signature_only=True)
        want_passages = isinstance(self.reranker, CrossEncoderReranker)
        return [
            Candidate(
                row=row,
                bm25=float(stage.bm25[row]),
                bm25_signature=float(bm25_signature[row]),
                dense_head=float(heads[i]),
                dense_best=float(best[i]),
                rrf=stage.rrf.get(row, 0.0),
                coverage=query_coverage(query_tokens, self.index.tokens_of(row)),
                coverage_signature=query_coverage(
                    query_tokens, self.index.tokens_of(row, signature_only=True)
                ),
                passages=self._passages(self.index.skills[row]) if want_passages else (),
            )
            for i, row in enumerate(rows)
        ]

    def _passages(self, skill: Skill) -> tuple[str, ...]:
        p = self.policy.index
        return skill_text(
            skill, chunk_words=p.chunk_words, chunk_overlap=p.chunk_overlap, max_chunks=p.max_chunks
        ).passages

    def _contract(self, row: int) -> Contract:
        contract = self._contracts.get(row)
        if contract is None:
            contract = contract_of(self.index.skills[row])
            self._contracts[row] = contract
        return contract


@dataclass(frozen=True, slots=True)
class _Ranking:
    """Stage 1 for a query, and its reranked candidates grouped into near-duplicates."""

    stage: _StageOne
    depth: int  # how many of stage 1's fused rows were reranked
    ranked: list[Candidate]  # best first
    scores: list[float]  # the rerank score of each of ``ranked``
    groups: list[list[int]]  # indexes into ``ranked``, each group's leader first

    @property
    def leaders(self) -> list[Candidate]:
        """Each group's leader, best first."""
        return [self.ranked[g[0]] for g in self.groups]

    def fit_rows(self, k: int) -> npt.NDArray[np.float64]:
        """The fit features of the first ``k`` leaders, each against the leader after it (the
        no-fit model's input; columns in ``FIT_FEATURES`` order)."""
        leaders = self.leaders
        rows = [
            fit_features(lead, leaders[n + 1] if n + 1 < len(leaders) else None)
            for n, lead in enumerate(leaders[:k])
        ]
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FIT_FEATURES))


@dataclass(frozen=True, slots=True)
class _StageOne:
    bm25: npt.NDArray[np.float32]
    bm25_ranking: list[int]
    dense: dict[int, float]
    dense_ranking: list[int]
    rrf: dict[int, float]
    fused: list[int]


def _routing_policy(
    policy: Policy | RoutingPolicy | str | Path | None, cross_encoder: str | Path | None = None
) -> RoutingPolicy:
    if isinstance(policy, RoutingPolicy):
        routing = policy
    elif isinstance(policy, Policy):
        routing = policy.routing
    else:
        routing = load_policy(policy).routing
    if cross_encoder is None:
        return routing
    rerank = {"kind": "cross-encoder", "cross_encoder": str(cross_encoder)}
    return routing.model_copy(update={"rerank": routing.rerank.model_copy(update=rerank)})


def _default_reranker(policy: RoutingPolicy) -> Reranker:
    if policy.rerank.kind == "cross-encoder":
        if not policy.rerank.cross_encoder:
            raise PolicyError(
                "routing.rerank.cross_encoder: expected the local path of a CrossEncoder "
                "when routing.rerank.kind is cross-encoder"
            )
        return CrossEncoderReranker(policy.rerank.cross_encoder)
    return RankFusionReranker(policy.rerank.weights, policy.rerank.k)


def _deprecated_last(matches: list[Match], threshold: float) -> list[Match]:
    """``matches`` with the deprecated tools after the last fitting one that is not: its
    replacement is offered first ("DEPRECATED: use read_text_file instead"), and a deprecated
    tool still comes before what does not fit at all."""
    kept = [m for m in matches if not m.skill.deprecated]
    fitting = [n for n, m in enumerate(kept) if m.scores.get("fit", 0.0) >= threshold]
    if len(kept) == len(matches) or not fitting:
        return matches
    deprecated = [m for m in matches if m.skill.deprecated]
    return kept[: fitting[-1] + 1] + deprecated + kept[fitting[-1] + 1 :]


def _check_k(k: int) -> None:
    """A ranking of fewer than one skill answers nothing (and would read as "nothing fits")."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
