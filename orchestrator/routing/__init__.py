"""Skill routing: hybrid retrieval (BM25 + dense), fusion, full-body rerank, duplicates, no-fit,
and fine-tuning the embedder on labelled queries.

Names are imported on first use: the policy models must load without pulling in torch and faiss,
so that ``import orchestrator`` and ``orchestrator --help`` stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator._lazy import lazy_attributes
from orchestrator.routing._policy import RoutingPolicy

if TYPE_CHECKING:
    from orchestrator.routing._calibration import NoFitCalibration, calibrate_no_fit
    from orchestrator.routing._duplicates import group_duplicates
    from orchestrator.routing._embedder import (
        Embedder,
        SentenceEmbedder,
        default_model_path,
        embedder_for,
        load_embedder,
    )
    from orchestrator.routing._fusion import reciprocal_rank_fusion
    from orchestrator.routing._index import SkillIndex
    from orchestrator.routing._rerank import (
        FIT_FEATURES,
        RANK_SIGNALS,
        Candidate,
        CrossEncoderReranker,
        FitModel,
        RankFusionReranker,
        Reranker,
        fit_features,
        fit_logistic,
    )
    from orchestrator.routing._router import Match, RetrievalMethod, RouteResult, SkillRouter
    from orchestrator.routing._training import (
        LabelledQuery,
        TrainingExample,
        TrainingReport,
        fine_tune_embedder,
        read_labelled_queries,
        training_examples,
    )

_LAZY = {
    "NoFitCalibration": "_calibration",
    "calibrate_no_fit": "_calibration",
    "group_duplicates": "_duplicates",
    "Embedder": "_embedder",
    "SentenceEmbedder": "_embedder",
    "default_model_path": "_embedder",
    "embedder_for": "_embedder",
    "load_embedder": "_embedder",
    "reciprocal_rank_fusion": "_fusion",
    "SkillIndex": "_index",
    "FIT_FEATURES": "_rerank",
    "RANK_SIGNALS": "_rerank",
    "Candidate": "_rerank",
    "CrossEncoderReranker": "_rerank",
    "FitModel": "_rerank",
    "RankFusionReranker": "_rerank",
    "Reranker": "_rerank",
    "fit_features": "_rerank",
    "fit_logistic": "_rerank",
    "Match": "_router",
    "RetrievalMethod": "_router",
    "RouteResult": "_router",
    "SkillRouter": "_router",
    "LabelledQuery": "_training",
    "TrainingExample": "_training",
    "TrainingReport": "_training",
    "fine_tune_embedder": "_training",
    "read_labelled_queries": "_training",
    "training_examples": "_training",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "FIT_FEATURES",
    "RANK_SIGNALS",
    "Candidate",
    "CrossEncoderReranker",
    "Embedder",
    "FitModel",
    "LabelledQuery",
    "Match",
    "NoFitCalibration",
    "RankFusionReranker",
    "Reranker",
    "RetrievalMethod",
    "RouteResult",
    "RoutingPolicy",
    "SentenceEmbedder",
    "SkillIndex",
    "SkillRouter",
    "TrainingExample",
    "TrainingReport",
    "calibrate_no_fit",
    "default_model_path",
    "embedder_for",
    "fine_tune_embedder",
    "fit_features",
    "fit_logistic",
    "group_duplicates",
    "load_embedder",
    "read_labelled_queries",
    "reciprocal_rank_fusion",
    "training_examples",
]
