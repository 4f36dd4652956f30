"""Agent-Skills folders: a ``SKILL.md`` with YAML front matter and Markdown instructions.

``name`` and ``description`` come from the front matter, every other front-matter field goes to
``metadata``, and the Markdown body (the instructions an agent follows) becomes ``body``.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.catalog._files import files_below, parse_yaml, read_text
from orchestrator.catalog._origin import Loaded, Origin
from orchestrator.catalog._skill import Skill
from orchestrator.errors import CatalogError

__all__ = ["agent_skill", "load_agent_skill", "load_agent_skills", "skill_files"]

_FENCE = "---"


def agent_skill(path: Path) -> Loaded:
    """The skill described by one ``SKILL.md`` file."""
    source = str(path)
    lines = read_text(path).splitlines(keepends=True)
    if not lines or lines[0].strip() != _FENCE:
        raise CatalogError(
            "missing YAML front matter: expected the file to start with a '---' line",
            source=source,
            where="line 1",
        )
    # The closing line starts at its first column: an indented "---" is a block scalar's text.
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in (_FENCE, "...")), None)
    if end is None:
        raise CatalogError(
            "front matter opened on line 1 is never closed by a '---' line",
            source=source,
            where="line 1",
        )
    origin = Origin(source)
    front = parse_yaml("".join(lines[1:end]), source, first_line=2)
    meta = origin.mapping(front, "a mapping of front-matter fields")
    if "name" not in meta:
        raise CatalogError("missing required field 'name' in the front matter", source=source)
    name = origin.string(meta, "name")
    description = origin.string(meta, "description", required=False) or ""
    fields: dict[str, object] = {
        "name": name,
        "description": description.strip(),
        "body": "".join(lines[end + 1 :]).strip(),
        "metadata": {k: v for k, v in meta.items() if k not in _SKILL_FIELDS},
        "source": source,
    }
    tags = meta.get("tags")
    if tags is not None:
        # A Skill's own field (routing reads it): "tags: [pdf, forms]" or "tags: pdf, forms".
        fields["tags"] = [t.strip() for t in tags.split(",")] if isinstance(tags, str) else tags
    return Loaded(origin.skill(fields), origin)


# Front-matter keys read into the Skill's own fields; the others are kept as its metadata.
_SKILL_FIELDS = frozenset({"name", "description", "tags"})


def load_agent_skill(path: str | Path) -> Skill:
    """The skill of one Agent-Skills folder, or of its ``SKILL.md`` file."""
    path = Path(path)
    return agent_skill(path / "SKILL.md" if path.is_dir() else path).skill


def load_agent_skills(directory: str | Path) -> list[Skill]:
    """Every Agent-Skills folder below ``directory``, in path order."""
    return [agent_skill(p).skill for p in skill_files(Path(directory))]


def skill_files(directory: Path) -> list[Path]:
    """Every ``SKILL.md`` below ``directory`` (symlinked folders too), skipping hidden folders
    such as ``.git``."""
    return [p for p in files_below(directory) if p.name == "SKILL.md"]
