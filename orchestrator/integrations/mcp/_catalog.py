"""Live servers as a catalog: list every configured server's tools, and index them with a cache
per server and ``tools/list`` hash, so an unchanged server is never embedded again.

``load_catalog`` calls :func:`servers_skills` for an ``mcpServers`` file; a server that fails is
logged with its command and stderr tail, and the others still load.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import numpy as np

from orchestrator.catalog import Skill, catalog_hash
from orchestrator.errors import CatalogError, IndexFormatError, McpServerError
from orchestrator.integrations.mcp._config import ServerSpec, load_servers_config
from orchestrator.integrations.mcp._policy import McpPolicy
from orchestrator.integrations.mcp._servers import McpServers
from orchestrator.routing import Embedder, SkillIndex
from orchestrator.routing._policy import IndexPolicy

__all__ = [
    "list_servers_tools",
    "server_indexes",
    "servers_skills",
]

logger = logging.getLogger("orchestrator.mcp")


async def list_servers_tools(
    specs: Sequence[ServerSpec], *, policy: McpPolicy | None = None
) -> tuple[list[Skill], dict[str, McpServerError]]:
    """Start the servers, list their tools (following pagination) and stop them again."""
    async with McpServers(specs, policy=policy) as servers:
        return servers.skills(), dict(servers.failures)


def servers_skills(path: str | Path, *, policy: McpPolicy | None = None) -> list[Skill]:
    """The live tools of every server in an ``mcpServers`` config file, as skills.

    Raises
    ------
    CatalogError
        The config is malformed, or no server could list its tools (each one's reason named).
    """
    specs = load_servers_config(path)

    def listing() -> tuple[list[Skill], dict[str, McpServerError]]:
        return anyio.run(lambda: list_servers_tools(specs, policy=policy))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        skills, failures = listing()
    else:
        # Called from async code (a sync API inside an event loop): list on a thread of its own.
        with ThreadPoolExecutor(max_workers=1) as pool:
            skills, failures = pool.submit(listing).result()
    for failure in failures.values():
        logger.warning("%s", failure)
    if failures and len(failures) == len(specs):
        raise CatalogError(
            "no MCP server listed its tools: " + "; ".join(str(f) for f in failures.values()),
            source=str(path),
        )
    return skills


def server_indexes(
    servers: McpServers,
    embedder: Embedder,
    policy: IndexPolicy,
    cache_dir: Path | None,
) -> SkillIndex:
    """One index over every server's tools as last listed (a server down for now keeps its
    tools: a call restarts it), reusing each server's cached vectors.

    Each server's index is kept under ``cache_dir/<server>-<tools hash>``; a server whose
    ``tools/list`` is unchanged is loaded, not embedded, and a changed one is embedded reusing the
    vectors of its unchanged tools. The combined index then only rebuilds BM25 and faiss.

    The cache is best effort: one that cannot be read is rebuilt, and one that cannot be written
    (a read-only ``$ORCHESTRATOR_CACHE``) is warned about once and the index served from memory.
    """
    parts: list[SkillIndex] = []
    unsaved: list[tuple[str, Exception]] = []
    for connection in servers:
        if not connection.tools:  # never listed any: it has not started yet
            continue
        skills = servers.server_skills(connection)
        part, problem = _server_index(
            connection.name, connection.tools_hash, skills, embedder, policy, cache_dir
        )
        parts.append(part)
        if problem is not None:
            unsaved.append((connection.name, problem))
    if unsaved:
        logger.warning(
            "cannot write the MCP index cache in %s (%s), so the tools of %s are indexed in "
            "memory only and embedded again at the next start",
            cache_dir,
            unsaved[0][1],
            ", ".join(name for name, _ in unsaved),
        )
    skills = [s for part in parts for s in part.skills]
    previous = _concatenate(parts, embedder, policy) if parts else None
    return SkillIndex.build(skills, embedder, policy, previous=previous)


def _server_index(
    server: str,
    digest: str,
    skills: list[Skill],
    embedder: Embedder,
    policy: IndexPolicy,
    cache_dir: Path | None,
) -> tuple[SkillIndex, Exception | None]:
    """The server's index (cached, or built reusing what the cache holds) and why it could not
    be saved, if it could not."""
    if cache_dir is None:
        return SkillIndex.build(skills, embedder, policy), None
    directory = cache_dir / f"{server}-{digest}"
    try:
        stale = [d for d in _cache_entries(cache_dir, server, len(digest)) if d != directory]
    except OSError:
        stale = []  # an unreadable cache holds nothing to reuse or remove
    previous = None
    cached = _cached_index(directory)
    if cached is not None and cached.embedder_name == embedder.name and cached.policy == policy:
        same_order = [s.id for s in cached.skills] == [s.id for s in skills]
        if same_order and cached.catalog_hash == catalog_hash(skills):  # every field alike
            return cached, None
        previous = cached  # the same tools otherwise described: its vectors serve
    for old in stale if previous is None else ():
        previous = _cached_index(old)
        if previous is not None:
            break
    index = SkillIndex.build(skills, embedder, policy, previous=previous)
    try:
        index.save(directory)
    except (OSError, IndexFormatError) as exc:
        return index, exc
    for old in stale:
        shutil.rmtree(old, ignore_errors=True)
    return index, None


def _cached_index(directory: Path) -> SkillIndex | None:
    """The index saved in ``directory``; None when there is none or it cannot be read (a
    cache: it is rebuilt)."""
    try:
        if not (directory / "manifest.json").exists():
            return None
        return SkillIndex.load(directory)
    except (OSError, IndexFormatError):
        return None


def _cache_entries(cache_dir: Path, server: str, digest_length: int) -> list[Path]:
    """The cached indexes of ``server`` alone, any tools hash: ``<server>-<hex digest>``.

    Not a glob of ``<server>-*``: that takes server ``a-b``'s entries for server ``a``'s (and
    deletes them as stale), and reads ``[`` or ``*`` in a server's name as a pattern."""
    if not cache_dir.is_dir():
        return []
    own = re.compile(re.escape(server) + f"-[0-9a-f]{{{digest_length}}}")
    return sorted(d for d in cache_dir.iterdir() if d.is_dir() and own.fullmatch(d.name))


def _concatenate(parts: list[SkillIndex], embedder: Embedder, policy: IndexPolicy) -> SkillIndex:
    """The parts' skills and vectors as one index to reuse vectors from (no search structures)."""
    offsets = np.cumsum([0] + [len(p.skills) for p in parts[:-1]])
    return SkillIndex(
        skills=[s for p in parts for s in p.skills],
        policy=policy,
        embedder_name=embedder.name,
        vectors=np.concatenate([p.vectors for p in parts]),
        owners=np.concatenate([p.owners + off for p, off in zip(parts, offsets, strict=True)]),
        bm25=None,
        bm25_signature=None,
        faiss_index=None,
        catalog_hash="",
    )
