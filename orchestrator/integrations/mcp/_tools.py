"""One MCP tool as a Skill: qualified ``server/tool`` id, schemas, annotations as risk hints.

Tools with the same name and input schema on servers started the same way (replicas) are one
tool served twice: they share a ``twin_key`` and are each other's alternatives when one server
fails. The same tool on a server started otherwise (a filesystem server on another folder, an
API server with another account's key) answers for other data: not a twin.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from mcp_types import Tool

from orchestrator.catalog import Skill
from orchestrator.catalog._mcp import mcp_tool_skill
from orchestrator.catalog._origin import Origin

__all__ = [
    "LAUNCH",
    "PROGRAM",
    "qualified_name",
    "split_name",
    "tool_skill",
    "tools_hash",
    "twin_key",
]

LAUNCH = "launch"  # the metadata key of a tool's server's replica group (McpServers.replica_key)
PROGRAM = "program"  # the metadata key of the program its server runs (ServerSpec.program)


def qualified_name(server: str, tool: str) -> str:
    """``server/tool``: the id a gateway client calls (e.g. ``time_b/get_current_time``)."""
    return f"{server}/{tool}"


def split_name(qualified: str) -> tuple[str, str]:
    """The server and the tool's own name of a qualified name (tool names may contain '/')."""
    server, _, tool = qualified.partition("/")
    return server, tool


def _wire(tool: Tool) -> dict[str, Any]:
    dumped: dict[str, Any] = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def tool_skill(
    server: str,
    tool: Tool,
    *,
    source: str,
    launch: str | None = None,
    program: str | None = None,
) -> Skill:
    """The Skill of ``tool`` served by ``server``: its name stays the tool's own (so routing groups
    the same tool served twice), its id is qualified, and ``metadata`` keeps the server, its
    replica group (``launch``; also its ``provider``, for planning: replicas are one provider)
    and program, the annotations and the wire form the gateway returns."""
    wire = _wire(tool)
    skill = mcp_tool_skill(wire, Origin(source)).skill
    return skill.model_copy(
        update={
            "id": qualified_name(server, tool.name),
            "source": source,
            "metadata": {
                **skill.metadata,
                "server": server,
                **({LAUNCH: launch, "provider": launch} if launch is not None else {}),
                **({PROGRAM: program} if program is not None else {}),
            },
        }
    )


def twin_key(skill: Skill) -> str:
    """Equal for the same tool on two replicas: the tool's own name, its input schema and how
    its server was started."""
    schema = json.dumps(skill.parameters, sort_keys=True, separators=(",", ":"))
    return "\0".join((skill.name, schema, str(skill.metadata.get(LAUNCH, ""))))


def tools_hash(tools: Sequence[Tool]) -> str:
    """A stable hash of a server's ``tools/list``: unchanged means nothing to re-embed."""
    payload = json.dumps([_wire(t) for t in tools], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]
