"""The routing section of a policy: retrieval depths, fusion, rerank weights, duplicates, no-fit."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orchestrator.routing._rerank import FIT_FEATURES, RANK_SIGNALS

__all__ = [
    "DuplicatePolicy",
    "IndexPolicy",
    "NoFitPolicy",
    "RerankPolicy",
    "RetrievalPolicy",
    "RoutingPolicy",
]


def _only_known(weights: dict[str, float], known: tuple[str, ...], what: str) -> dict[str, float]:
    unknown = sorted(set(weights) - set(known))
    if unknown:
        raise ValueError(f"unknown {what}(s) {unknown}; expected some of {list(known)}")
    return weights


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IndexPolicy(_Section):
    """How skills are cut into indexed text."""

    chunk_words: int = Field(default=160, ge=16, description="Words per body chunk.")
    chunk_overlap: int = Field(default=32, ge=0)
    max_chunks: int = Field(default=32, ge=1, description="Body chunks kept per skill.")
    hnsw_above: int = Field(
        default=50_000, ge=1, description="Vector count above which faiss uses HNSW, not exact."
    )
    hnsw_m: int = Field(default=32, ge=4)
    hnsw_ef_construction: int = Field(default=80, ge=8)
    hnsw_ef_search: int = Field(default=128, ge=8)
    batch_size: int = Field(default=64, ge=1)
    embedder: str | None = Field(
        default=None,
        description="Local directory of the sentence-transformers model to embed with (~ is "
        "expanded); the packaged all-MiniLM-L6-v2 when unset. A model fine-tuned by "
        "`orchestrator train embedder` plugs in here.",
    )
    # Large catalogs: embedding is most of the build time (MiniLM on CPU), so above these sizes
    # a little dense detail is traded for speed (see bench/README.md, "Large catalogs").
    embedder_backend: Literal["auto", "torch", "onnx-int8"] = Field(
        default="auto",
        description="How the embedder runs: torch; onnx-int8 (the same weights quantised to "
        "int8 and run by ONNX Runtime, about 3x faster on CPU); auto: onnx-int8 for catalogs "
        "of more than onnx_above skills, torch for smaller ones.",
    )
    onnx_above: int = Field(
        default=20_000, ge=0, description="Skills above which embedder_backend auto is onnx-int8."
    )
    head_only_above: int | None = Field(
        default=50_000,
        ge=0,
        description="Above this many skills, embed only each skill's head passage (name, "
        "description, parameters); bodies are still read by BM25 and the reranker. "
        "null: never.",
    )
    max_tokens_above: int | None = Field(
        default=50_000,
        ge=0,
        description="Above this many skills, embed at most max_tokens tokens. null: never.",
    )
    max_tokens: int = Field(default=64, ge=8, description="Token cap of max_tokens_above.")

    @model_validator(mode="after")
    def _chunks_advance(self) -> IndexPolicy:
        """Each chunk must start after the one before: an overlap of a whole chunk or more had
        loaded, to cut bodies into chunks that never move on."""
        if self.chunk_overlap >= self.chunk_words:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be less than chunk_words "
                f"({self.chunk_words})"
            )
        return self


class RetrievalPolicy(_Section):
    """Stage 1: how many candidates each retriever proposes and how they are fused."""

    bm25_k: int = Field(default=100, ge=1)
    dense_k: int = Field(default=100, ge=1)
    rrf_k: float = Field(default=60.0, gt=0)
    rerank_depth: int = Field(default=30, ge=1, description="Fused candidates passed to stage 2.")


class RerankPolicy(_Section):
    """Stage 2: how the fused candidates are re-ordered over the full body.

    ``fusion`` (default) fuses the candidates' ranks by BM25, best dense chunk, dense head and
    body coverage, weighted by ``weights``; ``cross-encoder`` scores (query, passage) pairs with
    the CrossEncoder at ``cross_encoder``; ``none`` keeps the stage-1 order.
    """

    kind: Literal["fusion", "cross-encoder", "none"] = "fusion"
    cross_encoder: str | None = Field(
        default=None, description="Local path of a sentence-transformers CrossEncoder."
    )
    weights: dict[str, float] = Field(default_factory=dict)
    k: float = Field(default=60.0, gt=0, description="Rank offset of the fusion.")

    @field_validator("weights")
    @classmethod
    def _known_signals(cls, weights: dict[str, float]) -> dict[str, float]:
        return _only_known(weights, RANK_SIGNALS, "rank signal")

    @model_validator(mode="after")
    def _cross_encoder_named(self) -> RerankPolicy:
        """Checked as the policy loads, where the error can name its file: the router found
        the path missing only when it first routed."""
        if self.kind == "cross-encoder" and not self.cross_encoder:
            raise ValueError(
                "kind cross-encoder needs cross_encoder: the local path of a "
                "sentence-transformers CrossEncoder"
            )
        return self


class DuplicatePolicy(_Section):
    """Near-duplicates share one slot of the top-k (see ``orchestrator.routing._duplicates``).

    Similarities are cosines of the skills' signature vectors; overlaps are Jaccard indexes of
    parameter and output property names. Defaults were set on the sample catalog's declared
    families (``skills/sample_duplicate_families.json``): they group 88% of family pairs and no
    pair across families.
    """

    similarity: float = Field(default=0.93, ge=0.0, le=1.0)
    same_parameters_similarity: float = Field(default=0.85, ge=0.0, le=1.0)
    output_overlap: float = Field(default=0.67, ge=0.0, le=1.0)
    parameter_overlap: float = Field(default=0.5, ge=0.0, le=1.0)
    contract_similarity: float = Field(default=0.4, ge=0.0, le=1.0)


class NoFitPolicy(_Section):
    """Nothing fits when the best match's fit probability is below ``threshold``. The
    probability comes from a logistic model over the best match's evidence (``weights``,
    ``bias``): the default was fitted with ``bench/train_reranker.py``; ``orchestrator train
    no-fit`` fits one on your own labelled queries."""

    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    weights: dict[str, float] = Field(default_factory=dict)
    bias: float = 0.0

    @field_validator("weights")
    @classmethod
    def _known_features(cls, weights: dict[str, float]) -> dict[str, float]:
        return _only_known(weights, FIT_FEATURES, "fit feature")


class RoutingPolicy(_Section):
    index: IndexPolicy = IndexPolicy()
    retrieval: RetrievalPolicy = RetrievalPolicy()
    rerank: RerankPolicy = RerankPolicy()
    duplicates: DuplicatePolicy = DuplicatePolicy()
    no_fit: NoFitPolicy = NoFitPolicy()
