"""MCP: live servers as a catalog source and an executor transport, and orchestrator itself as an
MCP tool-search gateway (``search_tools`` and ``call_tool`` in front of many servers).

Names are imported on first use, so the policy model can be read without loading the MCP SDK.
"""

from typing import TYPE_CHECKING

from orchestrator._lazy import lazy_attributes

if TYPE_CHECKING:
    from orchestrator.integrations.mcp._catalog import list_servers_tools, servers_skills
    from orchestrator.integrations.mcp._config import (
        ServerSpec,
        is_servers_config_file,
        load_servers_config,
        parse_servers_config,
    )
    from orchestrator.integrations.mcp._gateway import Gateway, serve
    from orchestrator.integrations.mcp._invoker import McpInvoker
    from orchestrator.integrations.mcp._policy import DenyRule, McpPolicy, RestartPolicy
    from orchestrator.integrations.mcp._servers import McpServers, ServerStatus
    from orchestrator.integrations.mcp._tools import qualified_name, tool_skill, tools_hash

_WHERE = {
    "DenyRule": "_policy",
    "Gateway": "_gateway",
    "McpInvoker": "_invoker",
    "McpPolicy": "_policy",
    "McpServers": "_servers",
    "RestartPolicy": "_policy",
    "ServerSpec": "_config",
    "ServerStatus": "_servers",
    "is_servers_config_file": "_config",
    "list_servers_tools": "_catalog",
    "load_servers_config": "_config",
    "parse_servers_config": "_config",
    "qualified_name": "_tools",
    "serve": "_gateway",
    "servers_skills": "_catalog",
    "tool_skill": "_tools",
    "tools_hash": "_tools",
}


__getattr__ = lazy_attributes(__name__, _WHERE)


__all__ = [
    "DenyRule",
    "Gateway",
    "McpInvoker",
    "McpPolicy",
    "McpServers",
    "RestartPolicy",
    "ServerSpec",
    "ServerStatus",
    "is_servers_config_file",
    "list_servers_tools",
    "load_servers_config",
    "parse_servers_config",
    "qualified_name",
    "serve",
    "servers_skills",
    "tool_skill",
    "tools_hash",
]
