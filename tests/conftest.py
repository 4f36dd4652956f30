import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only."""
    return "asyncio"


# --- routing fixtures: the real embedder and the real sample catalog, built once per session ---

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CATALOG = REPO / "skills" / "sample.jsonl"


class CountingEmbedder:
    """The real packaged embedder, counting how many texts it was asked to embed."""

    def __init__(self) -> None:
        from orchestrator.routing import load_embedder

        self._inner = load_embedder()
        self.texts_embedded = 0

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        self.texts_embedded += len(texts)
        return self._inner.encode(texts, batch_size=batch_size)


@pytest.fixture
def counting_embedder() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture(scope="session")
def sample_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An index of the sample catalog, built once; tests copy it before changing it."""
    from orchestrator.planning import Planner
    from orchestrator.routing import SkillRouter

    directory = tmp_path_factory.mktemp("sample-index") / "index"
    router = SkillRouter.from_catalog(SAMPLE_CATALOG, index_dir=directory)
    Planner.from_router(router)  # caches the dependency graph beside the index
    yield directory


@pytest.fixture(scope="session")
def sample_router(sample_index_dir: Path):  # type: ignore[no-untyped-def]
    from orchestrator.routing import SkillRouter

    return SkillRouter.from_catalog(SAMPLE_CATALOG, index_dir=sample_index_dir)
