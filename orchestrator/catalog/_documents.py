"""Which loader reads a parsed document or file: format detection in one place.

A ``.json`` file may hold a function list, one function, an OpenAI request body's ``tools``, an
MCP ``tools/list`` result or an OpenAPI document; the shape of the parsed value decides, not the
file name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator.catalog._agent_skills import agent_skill
from orchestrator.catalog._files import read_json, read_jsonl, read_yaml
from orchestrator.catalog._functions import function_skill
from orchestrator.catalog._mcp import is_mcp_tool, mcp_tool_skill, mcp_tools_skills
from orchestrator.catalog._modules import is_python_catalog, module_skills
from orchestrator.catalog._openapi import openapi_skills
from orchestrator.catalog._origin import Loaded, Origin
from orchestrator.errors import CatalogError
from orchestrator.integrations.mcp._config import SERVERS_KEY

__all__ = ["CATALOG_SUFFIXES", "document_skills", "file_skills", "record_skill"]

CATALOG_SUFFIXES = (".json", ".jsonl", ".yaml", ".yml")


def record_skill(record: Any, origin: Origin) -> Loaded:
    """One tool object: an MCP tool if it has ``inputSchema``, else a function record."""
    if is_mcp_tool(record):
        return mcp_tool_skill(record, origin)
    return function_skill(record, origin)


def _is_function_list(tools: Any) -> bool:
    """Whether a ``tools`` array is OpenAI's (``{"type": "function", ...}`` entries, as a chat
    request body holds them) rather than MCP's, whose tools have no ``type``."""
    return isinstance(tools, list) and any(isinstance(t, Mapping) and "type" in t for t in tools)


def document_skills(document: Any, origin: Origin) -> list[Loaded]:
    """The skills of one parsed JSON or YAML document, whatever its shape."""
    if isinstance(document, Mapping):
        if "openapi" in document or "swagger" in document:
            return openapi_skills(document, origin)
        if SERVERS_KEY in document:
            # An MCP client config, which only ``load_catalog`` reads (as its servers' tools):
            # not a tool record missing its name, as it would otherwise be reported.
            servers = document[SERVERS_KEY]
            if not isinstance(servers, Mapping):
                raise origin.at(SERVERS_KEY).mismatch("an object of MCP servers by name", servers)
            raise origin.error(
                "an mcpServers config is read from a .json file given as the catalog itself"
            )
        if isinstance(document.get("functions"), list) and "name" not in document:
            # A chat request body of OpenAI's older API ("functions": [...]), each a function.
            functions = origin.at("functions")
            return [function_skill(f, functions.at(i)) for i, f in enumerate(document["functions"])]
        if "jsonrpc" not in document and _is_function_list(document.get("tools")):
            tools = origin.at("tools")
            return [function_skill(t, tools.at(i)) for i, t in enumerate(document["tools"])]
        if "tools" in document or "jsonrpc" in document:
            return mcp_tools_skills(document, origin)
        return [record_skill(document, origin)]
    if isinstance(document, list):
        return [record_skill(record, origin.at(i)) for i, record in enumerate(document)]
    raise origin.mismatch(
        "a list of functions, a function, an MCP tools/list result or an OpenAPI document", document
    )


def file_skills(path: Path) -> list[Loaded]:
    """The skills of one catalog file, chosen by its suffix."""
    suffix = path.suffix.lower()
    if path.name == "SKILL.md":
        return [agent_skill(path)]
    if suffix == ".jsonl":
        return [record_skill(rec, Origin(str(path), line)) for line, rec in read_jsonl(path)]
    if suffix == ".json":
        return document_skills(read_json(path), Origin(str(path)))
    if suffix in (".yaml", ".yml"):
        return document_skills(read_yaml(path), Origin(str(path)))
    if is_python_catalog(path):  # named explicitly only: a folder's scripts are not imported
        return module_skills(path)
    raise CatalogError(
        f"unsupported catalog file type {suffix or '(none)'!r}; expected SKILL.md, a Python "
        "file (.py) or one of " + ", ".join(CATALOG_SUFFIXES),
        source=str(path),
    )
