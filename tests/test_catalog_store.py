"""The catalog hash tracks exactly what routing reads, and the JSONL writer round-trips and
never leaves a partial file behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic_core import PydanticSerializationError

from orchestrator.catalog import Skill, catalog_hash, load_catalog, save_catalog_jsonl

GOOD = Path(__file__).parent / "fixtures" / "catalogs" / "good"


def test_catalog_hash_ignores_order_but_not_content() -> None:
    a = Skill(name="a", description="First.")
    b = Skill(name="b", description="Second.")
    assert catalog_hash([a, b]) == catalog_hash([b, a])
    changed = a.model_copy(update={"body": "def a(): ..."})
    assert catalog_hash([changed, b]) != catalog_hash([a, b])


def test_catalog_hash_sees_renamed_ids_and_cost_fields_but_not_catalog_order() -> None:
    a, b = Skill(name="a", description="First."), Skill(name="b", description="Second.")
    assert catalog_hash([a]) != catalog_hash([a.model_copy(update={"id": "a2"})])
    # A price embeds nothing, but an index reused as it is must hold the new one.
    assert catalog_hash([a]) != catalog_hash([a.model_copy(update={"price": 3.0})])
    assert a.fingerprint() == a.model_copy(update={"price": 3.0}).fingerprint()
    assert catalog_hash([a, b]) == catalog_hash([b, a])


def test_saved_catalog_loads_back_equal(tmp_path: Path) -> None:
    skills = load_catalog(GOOD)
    path = tmp_path / "catalog.jsonl"
    save_catalog_jsonl(skills, path)
    assert load_catalog(path) == skills
    assert catalog_hash(load_catalog(path)) == catalog_hash(skills)
    assert [p.name for p in tmp_path.iterdir()] == ["catalog.jsonl"]


def test_failed_save_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "catalog.jsonl"
    save_catalog_jsonl([Skill(name="kept")], path)
    before = path.read_text()
    unserialisable = Skill(name="bad", metadata={"handle": object()})
    with pytest.raises(PydanticSerializationError):
        save_catalog_jsonl([Skill(name="new"), unserialisable], path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["catalog.jsonl"]


def test_interrupted_replace_keeps_the_old_file_and_removes_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "catalog.jsonl"
    save_catalog_jsonl([Skill(name="kept")], path)
    before = path.read_text()

    def crash(src: str, dst: Path) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk went away"):
        save_catalog_jsonl([Skill(name="new")], path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["catalog.jsonl"]
