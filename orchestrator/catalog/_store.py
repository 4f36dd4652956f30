"""Persisting a catalog: its stable hash and an atomic native JSONL writer.

The hash decides whether a routing index built earlier is stale; the writer never leaves a
half-written catalog behind, because it renames a finished temp file over the target.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable

from orchestrator._files import write_text_atomic
from orchestrator.catalog._skill import Skill

__all__ = ["catalog_hash", "save_catalog_jsonl"]


def catalog_hash(skills: Iterable[Skill]) -> str:
    """A hash of every field of every skill, independent of catalog order: an index whose
    catalog hash matches is used as it is, so a field routing reads besides the embedded text
    (price, risk hints, ``metadata``) must change it too. (``Skill.fingerprint`` covers only
    the text, which decides what is embedded again.)"""
    digest = hashlib.sha256()
    fields = sorted(
        (s.id, json.dumps(s.model_dump(mode="json"), sort_keys=True, ensure_ascii=False))
        for s in skills
    )
    for skill_id, dumped in fields:
        digest.update(f"{skill_id}\0{dumped}\n".encode())
    return digest.hexdigest()[:32]


def save_catalog_jsonl(skills: Iterable[Skill], path: str | os.PathLike[str]) -> None:
    """Write ``skills`` as native JSONL (one Skill per line, defaults omitted), atomically."""
    lines = [
        json.dumps(s.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False)
        for s in skills
    ]
    write_text_atomic(path, "".join(line + "\n" for line in lines))
