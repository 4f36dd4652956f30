"""An MCP server served by orchestrator's stdio transport whose tool prints to stdout (as careless
libraries do) and can answer with a message far larger than a pipe's buffer."""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import MCPServer

from orchestrator.integrations.mcp._stdio import serve_stdio

server = MCPServer(name="noisy")


@server.tool()
def shout(text: str, times: int = 1) -> str:
    """Print to stdout, then return ``text`` repeated ``times`` times."""
    print("stray output that must not reach the wire", flush=True)
    return text * times


if __name__ == "__main__":
    anyio.run(serve_stdio, server)
