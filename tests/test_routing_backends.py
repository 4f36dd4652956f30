"""Which embedder backend a catalog is indexed with, and that the int8 one agrees with torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from orchestrator import Skill
from orchestrator.policy import load_policy
from orchestrator.routing import RoutingPolicy, SkillRouter, load_embedder

TOOLS = [
    ("get_current_weather", "Current weather conditions for a city."),
    ("send_email", "Send an email message to a recipient."),
    ("refund_payment", "Refund a card payment to the customer."),
    ("create_invoice", "Create an invoice for a customer."),
    ("list_servers", "List the servers registered in the account."),
]
SKILLS = [Skill(id=name, name=name, description=text) for name, text in TOOLS]


def _policy(onnx_above: int) -> RoutingPolicy:
    routing = load_policy().routing
    index = routing.index.model_copy(update={"embedder_backend": "auto", "onnx_above": onnx_above})
    return routing.model_copy(update={"index": index})


@pytest.mark.slow
def test_auto_backend_indexes_large_catalogs_with_onnx_int8_and_small_ones_with_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_CACHE", str(tmp_path / "cache"))  # the exported model
    small = SkillRouter.from_catalog(SKILLS, policy=_policy(onnx_above=len(SKILLS)))
    assert not small.embedder.name.endswith("+onnx-int8")

    large = SkillRouter.from_catalog(
        SKILLS, policy=_policy(onnx_above=len(SKILLS) - 1), index_dir=tmp_path / "index"
    )
    assert large.embedder.name.endswith("+onnx-int8")
    assert (tmp_path / "cache" / "onnx").is_dir()  # exported locally, not downloaded
    assert not [r for r in caplog.records if "pre-processing" in r.getMessage()]  # quietly
    # Reopened from disk, the index is queried with the backend it was built with, whatever
    # its size says now.
    reopened = SkillRouter.from_index(tmp_path / "index", policy=_policy(onnx_above=100))
    assert reopened.embedder.name == large.embedder.name

    texts = [f"{name}: {text}" for name, text in TOOLS] + ["is it raining in Lisbon right now?"]
    agreement = np.sum(small.embedder.encode(texts) * large.embedder.encode(texts), axis=1)
    assert agreement.min() > 0.97
    for router in (small, large, reopened):
        assert router.route("is it raining in Lisbon right now?", k=1).best.id == (  # type: ignore[union-attr]
            "get_current_weather"
        )


@pytest.mark.slow
def test_an_index_is_never_queried_with_another_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.errors import IndexFormatError

    monkeypatch.setenv("ORCHESTRATOR_CACHE", str(tmp_path / "cache"))
    SkillRouter.from_catalog(SKILLS, policy=_policy(onnx_above=100), index_dir=tmp_path / "i")
    with pytest.raises(IndexFormatError, match="built with model"):
        SkillRouter.from_index(tmp_path / "i", embedder=load_embedder(backend="onnx-int8"))


@pytest.mark.slow
def test_a_catalog_grown_past_onnx_above_keeps_the_backend_its_index_was_built_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_CACHE", str(tmp_path / "cache"))
    policy = _policy(onnx_above=len(SKILLS))
    router = SkillRouter.from_catalog(SKILLS, policy=policy, index_dir=tmp_path / "i")
    router.add_skills([Skill(id="book_hotel", name="book_hotel", description="Book a hotel.")])
    assert len(router.index) == len(SKILLS) + 1  # now above onnx_above

    reopened = SkillRouter.from_index(tmp_path / "i", policy=policy)
    assert reopened.embedder.name == router.embedder.name
    assert not reopened.embedder.name.endswith("+onnx-int8")
    grown = [*SKILLS, Skill(id="book_hotel", name="book_hotel", description="Book a hotel.")]
    rebuilt = SkillRouter.from_catalog(grown, policy=policy, index_dir=tmp_path / "i")
    assert rebuilt.embedder.name == router.embedder.name
    assert not (tmp_path / "cache" / "onnx").exists()  # nothing was re-embedded with onnx
