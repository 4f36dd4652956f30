"""The front door: ``load_catalog`` reads any supported source into one list of skills.

It detects the format, then checks ids across the whole catalog, since a duplicate usually means two
sources describe the same tool and routing would otherwise split its score between them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from orchestrator.catalog._agent_skills import agent_skill, skill_files
from orchestrator.catalog._callables import callable_skill
from orchestrator.catalog._documents import CATALOG_SUFFIXES, file_skills, record_skill
from orchestrator.catalog._files import files_below
from orchestrator.catalog._langchain import is_langchain_tool, langchain_tool_skill
from orchestrator.catalog._origin import Loaded, Origin
from orchestrator.catalog._skill import Skill
from orchestrator.errors import CatalogError, DuplicateSkillError

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = ["CatalogSource", "load_catalog"]

# Strings, so that naming LangChain's BaseTool here does not import LangChain at runtime.
CatalogItem: TypeAlias = "Skill | Mapping[str, Any] | BaseTool | Callable[..., Any]"
CatalogSource: TypeAlias = "str | os.PathLike[str] | Sequence[CatalogItem]"

_OBJECTS = "<objects>"

logger = logging.getLogger(__name__)


def _directory_skills(directory: Path) -> list[Loaded]:
    skill_mds = skill_files(directory)
    # A routing index kept inside the catalog's folder holds the index's own files.
    below = files_below(directory)
    indexes = {p.parent for p in below if p.name == _INDEX_MANIFEST and _is_index(p.parent)}
    files = [
        p for p in below if p.suffix.lower() in CATALOG_SUFFIXES and indexes.isdisjoint(p.parents)
    ]
    if skill_mds:
        # A folder of Agent Skills: its other files (scripts, references) are not catalogs.
        # One outside every skill's folder is said to be left out: a catalog file beside the
        # skills had vanished from the catalog (and from its index) without a word.
        folders = {path.parent for path in skill_mds}
        outside = [p for p in files if folders.isdisjoint(p.parents)]
        if outside:
            shown = ", ".join(str(p.relative_to(directory)) for p in outside[:5])
            more = f" and {len(outside) - 5} more" if len(outside) > 5 else ""
            logger.warning(
                "%s: a folder of Agent Skills (SKILL.md); its catalog files outside the skills' "
                "folders are not read: %s%s (give them as a catalog of their own)",
                directory,
                shown,
                more,
            )
        return [agent_skill(path) for path in skill_mds]
    if not files:
        raise CatalogError(
            "no SKILL.md and no catalog files (" + ", ".join(CATALOG_SUFFIXES) + ") found",
            source=str(directory),
        )
    return _nonempty([loaded for path in files for loaded in _folder_file_skills(path)], directory)


def _folder_file_skills(path: Path) -> list[Loaded]:
    """The skills of one file of a catalog folder, where an ``mcpServers`` config is an error.

    Given as the catalog itself, its servers are started to list their tools, and a run
    (``Orchestrator``, ``orchestrator run``) starts them again to call those tools. Inside a
    folder, the run would know nothing of the servers and could call none of their tools.
    The file is read once; only when it fails to load is it asked whether it is such a config,
    to say so in the folder's terms.
    """
    try:
        return file_skills(path)
    except CatalogError:
        _refuse_servers_config(path)
        raise


def _refuse_servers_config(path: Path) -> None:
    from orchestrator.integrations.mcp._config import is_servers_config_file

    if is_servers_config_file(path):
        raise CatalogError(
            "an mcpServers config cannot be part of a catalog folder (a run would not start its "
            "servers to call their tools); pass it as the catalog itself (--catalog "
            f"{path.name}, or load_catalog on the file), or move it out of {path.parent}",
            source=str(path),
        )


# What marks a folder as a routing index (orchestrator.routing writes it last).
_INDEX_MANIFEST = "manifest.json"


def _is_index(folder: Path) -> bool:
    """Whether ``folder`` is a routing index: its manifest names a model and a catalog (another
    program's manifest.json does not)."""
    try:
        manifest = json.loads((folder / _INDEX_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and "catalog_hash" in manifest and "model" in manifest


def _nonempty(loaded: list[Loaded], source: Path) -> list[Loaded]:
    """A catalog file or folder describing no skill is a mistake (an empty export, the wrong
    file): routing over nothing would answer every task with "nothing fits"."""
    if not loaded:
        raise CatalogError("no skills found (the catalog is empty)", source=str(source))
    return loaded


def _path_skills(path: Path) -> list[Loaded]:
    if path.is_dir():
        return _directory_skills(path)
    if not path.exists():
        raise CatalogError("no such file or directory", source=str(path))
    if path.suffix.lower() == ".json":
        # An MCP client config ({"mcpServers": ...}) lists its servers' tools live. Imported
        # here: the MCP integration sits at the edge and loads the MCP SDK.
        from orchestrator.integrations.mcp._config import is_servers_config_file

        if is_servers_config_file(path):
            try:
                from orchestrator.integrations.mcp._catalog import servers_skills
            except ImportError as exc:
                raise CatalogError(
                    f"an mcpServers config needs the MCP SDK ({exc}); "
                    "install it with: pip install 'orchestrator[mcp]'",
                    source=str(path),
                ) from exc
            servers = servers_skills(path)
            return _nonempty([Loaded(s, Origin(s.source or str(path))) for s in servers], path)
    return _nonempty(file_skills(path), path)


def _item_skill(item: object, origin: Origin) -> Loaded:
    # BaseTool is callable too, so it is recognised before plain callables.
    if isinstance(item, Skill):
        return Loaded(item, origin)
    if isinstance(item, Mapping):
        return record_skill(item, origin)
    if is_langchain_tool(item):
        return langchain_tool_skill(item)  # type: ignore[arg-type]
    if callable(item):
        return callable_skill(item)
    raise origin.mismatch("a Skill, a dict, a callable or a LangChain tool", item)


def _unique(loaded: list[Loaded], dedupe: bool) -> list[Skill]:
    first_seen: dict[str, Loaded] = {}
    skills = []
    for entry in loaded:
        first = first_seen.setdefault(entry.skill.id, entry)
        if first is entry:
            skills.append(entry.skill)
        elif not dedupe:
            error = entry.origin.error(
                f"duplicate skill id {entry.skill.id!r}, first defined at {first.origin.location} "
                "(rename one, or keep the first with --dedupe / dedupe=True)"
            )
            raise DuplicateSkillError(error.reason, source=error.source, where=error.where)
    return skills


def load_catalog(source: CatalogSource, *, dedupe: bool = False) -> list[Skill]:
    """Load skills from a file, a directory, or a sequence of skills, dicts, callables and tools.

    Files: ``.jsonl`` (one function/skill/MCP tool per line), ``.json`` (a function list, one
    function, an MCP ``tools/list`` result or an OpenAPI 3 document), ``.yaml``/``.yml``
    (OpenAPI 3). A ``.json`` MCP client config (``{"mcpServers": ...}``) starts its servers and
    lists their tools live, as ``server/tool`` ids; a server that fails is logged and skipped.
    A ``.py`` file is imported and its public functions are the skills (``module_tools`` gives
    the functions themselves). A directory holding any ``SKILL.md`` is read as Agent-Skills
    folders, otherwise as every catalog file below it (``.py`` files are not imported; an
    ``mcpServers`` config there is an error, since a run would not start its servers).

    Raises
    ------
    CatalogError
        The input is malformed; the message names the file and the line or JSON pointer.
    DuplicateSkillError
        Two skills share an id and ``dedupe`` is false. With ``dedupe=True`` the first is kept.
    """
    if isinstance(source, str | os.PathLike):
        loaded = _path_skills(Path(source))
    elif isinstance(source, Sequence):
        root = Origin(_OBJECTS)
        loaded = [_item_skill(item, root.at(i)) for i, item in enumerate(source)]
    else:
        raise Origin(_OBJECTS).mismatch("a path or a sequence of skills", source)
    return _unique(loaded, dedupe)
