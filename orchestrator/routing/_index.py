"""The skill index: BM25 over every field and dense vectors of the head and body chunks.

Built once per catalog and written to disk atomically with a manifest; rebuilt incrementally
(only new or changed skills are embedded) when the catalog changes.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np
import numpy.typing as npt

from orchestrator._files import json_lines, replace_dir, staging_dir
from orchestrator.catalog import Skill, catalog_hash
from orchestrator.errors import IndexFormatError
from orchestrator.routing._embedder import Embedder
from orchestrator.routing._policy import IndexPolicy
from orchestrator.routing._text import skill_text, tokenize

__all__ = ["INDEX_FORMAT", "Progress", "SkillIndex"]

INDEX_FORMAT = 3
MANIFEST = "manifest.json"

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while skills are embedded."""


def _package_version() -> str:
    try:
        return version("orchestrator")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


@dataclass
class SkillIndex:
    """Everything stage 1 needs, in memory. Rows are positions in ``skills``."""

    skills: list[Skill]
    policy: IndexPolicy
    embedder_name: str
    vectors: npt.NDArray[np.float32]
    owners: npt.NDArray[np.int32]
    bm25: Any
    bm25_signature: Any
    faiss_index: Any
    catalog_hash: str
    # The local folder of the embedder, when it was not the packaged one: reopening the index
    # without naming an embedder loads that one rather than the default.
    embedder_path: str | None = None
    # How many skills this index's build embedded (the others' vectors were reused); None for
    # an index read from disk as it was. Not saved: it says what the build did, for its report.
    embedded: int | None = field(default=None, compare=False)
    _row_of: dict[str, int] = field(init=False, repr=False)
    _first_vector: npt.NDArray[np.int64] = field(init=False, repr=False)
    _tokens: dict[tuple[int, bool], frozenset[str]] = field(
        init=False, repr=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self._row_of = {s.id: i for i, s in enumerate(self.skills)}
        # owners is sorted by construction: the vectors of skill i are contiguous.
        self._first_vector = np.searchsorted(self.owners, np.arange(len(self.skills) + 1))

    # ----------------------------------------------------------------- build
    @classmethod
    def build(
        cls,
        skills: Sequence[Skill],
        embedder: Embedder,
        policy: IndexPolicy,
        *,
        previous: SkillIndex | None = None,
        progress: Progress | None = None,
    ) -> SkillIndex:
        """Index ``skills``. Vectors of skills unchanged since ``previous`` are reused."""
        skills = list(skills)
        texts = [
            skill_text(
                s,
                chunk_words=policy.chunk_words,
                chunk_overlap=policy.chunk_overlap,
                max_chunks=policy.max_chunks,
            )
            for s in skills
        ]
        head_only, max_tokens = _large_catalog(policy, len(skills))
        reusable: dict[str, npt.NDArray[np.float32]] = {}
        if (
            previous is not None
            and previous.embedder_name == embedder.name
            and previous.policy == policy
            and _large_catalog(policy, len(previous.skills))[1] == max_tokens
        ):
            for row, skill in enumerate(previous.skills):
                reusable[skill.fingerprint()] = previous.vectors_of(row)

        blocks: list[npt.NDArray[np.float32] | None] = []
        pending: list[tuple[int, list[str]]] = []
        for row, (skill, text) in enumerate(zip(skills, texts, strict=True)):
            passages = text.passages[:1] if head_only else text.passages
            cached = reusable.get(skill.fingerprint())
            if cached is not None:
                # The head vector comes first, so a head-only index can reuse any block.
                cached = cached[: len(passages)]
                if len(cached) != len(passages):
                    cached = None
            blocks.append(cached)
            if cached is None:
                pending.append((row, list(passages)))

        total = len(pending)
        if progress:
            progress(0, total)
        # Embed a few batches' worth of passages per call: the model sorts each call's texts by
        # length, so larger calls waste less padding, and progress still moves.
        batch: list[tuple[int, list[str]]] = []
        queued = done = 0
        for n, item in enumerate(pending, start=1):
            batch.append(item)
            queued += len(item[1])
            if queued >= policy.batch_size * 4 or n == total:
                done += _embed_batch(batch, blocks, embedder, policy.batch_size, max_tokens)
                batch, queued = [], 0
                if progress:
                    progress(done, total)

        dim = embedder.dimension
        filled = [b if b is not None else np.zeros((0, dim), np.float32) for b in blocks]
        vectors = np.ascontiguousarray(
            np.concatenate(filled) if filled else np.zeros((0, dim), np.float32)
        )
        owners = np.concatenate(
            [np.full(len(b), i, dtype=np.int32) for i, b in enumerate(filled)]
            or [np.zeros(0, np.int32)]
        )
        bm25 = _build_bm25([tokenize(t.full) for t in texts])
        bm25_signature = _build_bm25([tokenize(f"{t.head} {t.signature}") for t in texts])
        return cls(
            skills=skills,
            policy=policy,
            embedder_name=embedder.name,
            vectors=vectors,
            owners=owners,
            bm25=bm25,
            bm25_signature=bm25_signature,
            faiss_index=_build_faiss(vectors, policy),
            catalog_hash=catalog_hash(skills),
            embedder_path=_path_of(embedder),
            embedded=total,
        )

    # ---------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self.skills)

    def row(self, skill_id: str) -> int | None:
        return self._row_of.get(skill_id)

    def vectors_of(self, row: int) -> npt.NDArray[np.float32]:
        """All vectors of one skill: its head first, then its chunks."""
        start, stop = self._first_vector[row], self._first_vector[row + 1]
        return self.vectors[start:stop]

    def tokens_of(self, row: int, *, signature_only: bool = False) -> frozenset[str]:
        """The stemmed token set of a skill's full text, or of its name, description and
        parameters only (computed on demand, then cached)."""
        key = (row, signature_only)
        cached = self._tokens.get(key)
        if cached is None:
            text = skill_text(
                self.skills[row],
                chunk_words=self.policy.chunk_words,
                chunk_overlap=self.policy.chunk_overlap,
                max_chunks=self.policy.max_chunks,
            )
            cached = frozenset(tokenize(text.signature if signature_only else text.full))
            self._tokens[key] = cached
        return cached

    @property
    def kind(self) -> str:
        """``"hnsw"`` or ``"flat"``: which faiss index serves dense search."""
        return "hnsw" if isinstance(self.faiss_index, faiss.IndexHNSWFlat) else "flat"

    # ---------------------------------------------------------------- search
    def bm25_scores(
        self, query_tokens: list[str], *, signature_only: bool = False
    ) -> npt.NDArray[np.float32]:
        """BM25 score of every skill over all its fields, or over its name, description and
        parameters only (0 for skills sharing no token with the query)."""
        index = self.bm25_signature if signature_only else self.bm25
        if not self.skills:
            return np.zeros(0, np.float32)
        known = [t for t in query_tokens if t in index.vocab_dict]
        if not known:
            return np.zeros(len(self.skills), np.float32)
        return np.asarray(index.get_scores(known), dtype=np.float32)

    def dense_search(
        self, query_vector: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The ``k`` skills whose best vector is closest to the query: (rows, cosine)."""
        if not self.skills or k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        depth = min(len(self.owners), max(k * 4, k + 32))
        scores, ids = self.faiss_index.search(query_vector.reshape(1, -1), depth)
        best: dict[int, float] = {}
        for vid, score in zip(ids[0], scores[0], strict=True):
            if vid < 0:
                continue
            owner = int(self.owners[vid])
            if owner not in best:
                best[owner] = float(score)
        rows = sorted(best, key=best.__getitem__, reverse=True)[:k]
        return np.asarray(rows, np.int64), np.asarray([best[r] for r in rows], np.float32)

    def dense_scores(
        self, query_vector: npt.NDArray[np.float32], rows: Sequence[int]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """For the given skills: (cosine to the head vector, best cosine over all vectors)."""
        heads = np.empty(len(rows), np.float32)
        best = np.empty(len(rows), np.float32)
        for i, row in enumerate(rows):
            sims = self.vectors_of(row) @ query_vector
            heads[i] = sims[0] if len(sims) else 0.0
            best[i] = sims.max() if len(sims) else 0.0
        return heads, best

    # ----------------------------------------------------------- persistence
    def save(self, directory: str | Path) -> None:
        """Write the index to ``directory`` atomically: a reader sees the old index or the new
        one, never a mix; the manifest is written last, so a crash leaves no valid half-index."""
        target = Path(directory)
        self.check_target(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = staging_dir(target)
        try:
            with (staging / "skills.jsonl").open("w", encoding="utf-8") as out:
                for skill in self.skills:
                    out.write(skill.model_dump_json() + "\n")
            np.save(staging / "vectors.npy", self.vectors)
            np.save(staging / "owners.npy", self.owners)
            self.bm25.save(str(staging / "bm25"), show_progress=False)
            self.bm25_signature.save(str(staging / "bm25-signature"), show_progress=False)
            faiss.write_index(self.faiss_index, str(staging / "dense.faiss"))
            manifest = {
                "format": INDEX_FORMAT,
                "orchestrator": _package_version(),
                "model": self.embedder_name,
                "embedder_path": self.embedder_path,
                "dimension": int(self.vectors.shape[1]) if self.vectors.ndim == 2 else 0,
                "catalog_hash": self.catalog_hash,
                "skills": len(self.skills),
                "vectors": len(self.owners),
                "dense_index": self.kind,
                "policy": self.policy.model_dump(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                # Unique per save, so a reader tells two saves of the same content apart.
                "build": uuid.uuid4().hex,
            }
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
            _swap_in(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    @staticmethod
    def check_target(directory: str | Path) -> None:
        """Refuse a place :meth:`save` may not write: a file (or a path under one), or a folder
        holding anything but an index, or another program's ``manifest.json``: the user's data
        (replacing a plugin's folder had deleted its skill files). Routers check before they
        build: checked only when saving, a 100K-skill build ran for minutes, then was refused."""
        target = Path(directory)
        for place in (target, *target.parents):
            if place.exists() and not place.is_dir():
                where = "is a file" if place == target else f"is under {place}, a file"
                raise IndexFormatError(
                    f"{target}: {where}, not a folder; refusing to write an index there "
                    "(give a folder path)"
                )
        entries = [e.name for e in target.iterdir()] if target.is_dir() else []
        if entries:
            foreign = sorted(name for name in entries if name not in _INDEX_ENTRIES)
            if foreign or not _manifest_is_ours(target / MANIFEST):
                shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
                what = f"it holds {shown}" if foreign else f"its {MANIFEST} is another program's"
                raise IndexFormatError(
                    f"{target}: exists and is not an orchestrator index ({what}); refusing to "
                    "replace it (give an empty or new folder)"
                )

    @staticmethod
    def read_manifest(directory: str | Path) -> dict[str, Any]:
        path = Path(directory) / MANIFEST
        try:
            manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise IndexFormatError(f"{path}: no index manifest here") from exc
        except (OSError, json.JSONDecodeError) as exc:
            raise IndexFormatError(f"{path}: unreadable index manifest: {exc}") from exc
        if not isinstance(manifest, dict):
            raise IndexFormatError(
                f"{path}: unreadable index manifest: expected a JSON object, got "
                f"{type(manifest).__name__}; rebuild the index with `orchestrator index`"
            )
        if manifest.get("format") != INDEX_FORMAT:
            raise IndexFormatError(
                f"{path}: field format: expected {INDEX_FORMAT}, got {manifest.get('format')!r}; "
                "rebuild the index with `orchestrator index`"
            )
        return manifest

    @classmethod
    def load(cls, directory: str | Path) -> SkillIndex:
        """Read an index written by :meth:`save`, all from one version of it: when the index
        was replaced while being read (its manifest changed), it is read again."""
        root = Path(directory)
        for _ in range(_READ_ATTEMPTS):
            before = _manifest_bytes(root)
            try:
                index = cls._load_files(root)
            except IndexFormatError:
                if _manifest_bytes(root) == before:
                    raise  # the index is as read: damaged, or of another version
                continue  # files of two versions: read the new one
            if _manifest_bytes(root) == before:
                return index
        raise IndexFormatError(
            f"{root}: the index kept changing while it was read ({_READ_ATTEMPTS} tries); "
            "try again once it is rebuilt"
        )

    @classmethod
    def _load_files(cls, root: Path) -> SkillIndex:
        manifest = cls.read_manifest(root)
        try:
            skills = [
                Skill.model_validate_json(line)
                for line in json_lines((root / "skills.jsonl").read_text(encoding="utf-8"))
                if line.strip()
            ]
            vectors = np.load(root / "vectors.npy")
            owners = np.load(root / "owners.npy")
            bm25 = bm25s.BM25.load(str(root / "bm25"), show_progress=False)
            bm25_signature = bm25s.BM25.load(str(root / "bm25-signature"), show_progress=False)
            dense = faiss.read_index(str(root / "dense.faiss"))
            policy = IndexPolicy.model_validate(manifest["policy"])
        except (OSError, EOFError, ValueError, KeyError, RuntimeError) as exc:
            raise IndexFormatError(f"{root}: corrupt index ({exc}); rebuild it") from exc
        # Counts every file holds, so that a file copied in from another index is caught.
        counts = {
            "skills.jsonl": (len(skills), manifest.get("skills")),
            "owners.npy": (len(owners), manifest.get("vectors")),
            "vectors.npy": (len(vectors), manifest.get("vectors")),
            "dense.faiss": (int(dense.ntotal), manifest.get("vectors")),
            "bm25": (_documents(bm25), max(len(skills), 1)),
            "bm25-signature": (_documents(bm25_signature), max(len(skills), 1)),
        }
        wrong = [f"{name} holds {got}" for name, (got, want) in counts.items() if got != want]
        if wrong:
            raise IndexFormatError(
                f"{root}: index files disagree with the manifest ({'; '.join(wrong)}; the "
                f"manifest says {manifest.get('skills')} skills, {manifest.get('vectors')} "
                "vectors); rebuild it"
            )
        _apply_search_params(dense, policy)
        return cls(
            skills=skills,
            policy=policy,
            embedder_name=str(manifest["model"]),
            vectors=vectors.astype(np.float32, copy=False),
            owners=owners.astype(np.int32, copy=False),
            bm25=bm25,
            bm25_signature=bm25_signature,
            faiss_index=dense,
            catalog_hash=str(manifest["catalog_hash"]),
            embedder_path=_text_or_none(manifest.get("embedder_path")),
        )


_READ_ATTEMPTS = 3


def _documents(bm25: Any) -> int | None:
    """How many documents a BM25 index holds (bm25s keeps the count with its scores)."""
    scores = getattr(bm25, "scores", None)
    count = scores.get("num_docs") if isinstance(scores, dict) else None
    return int(count) if isinstance(count, int | np.integer) else None


def _manifest_bytes(root: Path) -> bytes | None:
    """The manifest as stored (unique to each save: its ``build``), to tell whether two reads
    of the folder saw the same index; None when unreadable (then loading says why)."""
    try:
        return (root / MANIFEST).read_bytes()
    except OSError:
        return None


def _path_of(embedder: Embedder) -> str | None:
    """Where ``embedder`` was loaded from, when it says (``SentenceEmbedder.path``)."""
    path = getattr(embedder, "path", None)
    return str(path) if isinstance(path, Path) else None


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _large_catalog(policy: IndexPolicy, skills: int) -> tuple[bool, int | None]:
    """(embed heads only?, token cap or None) for a catalog of this many skills."""
    head_only = policy.head_only_above is not None and skills > policy.head_only_above
    capped = policy.max_tokens_above is not None and skills > policy.max_tokens_above
    return head_only, policy.max_tokens if capped else None


def _embed_batch(
    batch: list[tuple[int, list[str]]],
    blocks: list[npt.NDArray[np.float32] | None],
    embedder: Embedder,
    batch_size: int,
    max_tokens: int | None = None,
) -> int:
    flat = [p for _, passages in batch for p in passages]
    if max_tokens is None:
        encoded = embedder.encode(flat, batch_size=batch_size)
    else:
        encoded = embedder.encode(flat, batch_size=batch_size, max_tokens=max_tokens)
    start = 0
    for row, passages in batch:
        blocks[row] = encoded[start : start + len(passages)]
        start += len(passages)
    return len(batch)


def _build_bm25(corpus_tokens: list[list[str]]) -> Any:
    bm25 = bm25s.BM25()
    # An empty document list would make bm25s fail; keep one empty token row per skill.
    bm25.index([t or [""] for t in corpus_tokens] or [[""]], show_progress=False)
    return bm25


def _build_faiss(vectors: npt.NDArray[np.float32], policy: IndexPolicy) -> Any:
    dim = vectors.shape[1]
    index: Any
    if len(vectors) > policy.hnsw_above:
        index = faiss.IndexHNSWFlat(dim, policy.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = policy.hnsw_ef_construction
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(vectors)
    _apply_search_params(index, policy)
    return index


def _apply_search_params(index: Any, policy: IndexPolicy) -> None:
    if isinstance(index, faiss.IndexHNSWFlat):
        index.hnsw.efSearch = policy.hnsw_ef_search


# What an index folder holds: the index's own files and the planner's dependency cache.
_INDEX_ENTRIES = frozenset(
    {MANIFEST, "skills.jsonl", "vectors.npy", "owners.npy", "dense.faiss", "dependencies.json"}
    | {"bm25", "bm25-signature"}
)


def _swap_in(staging: Path, target: Path) -> None:
    """Put the new index in place of ``target``, checked again: what is there may have changed
    while the index was built."""
    SkillIndex.check_target(target)
    replace_dir(staging, target)


def _manifest_is_ours(path: Path) -> bool:
    """A manifest naming a catalog and a model; or none, or one that cannot be read or is no
    JSON object, beside nothing but index files: a damaged index, which a new one heals."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    return not isinstance(manifest, dict) or {"catalog_hash", "model"} <= manifest.keys()
