"""Real MCP servers for the MCP tests: the fault-injecting FastMCP server in this folder, a
hand-written one that lists any tools it is given, ``mcp-server-time`` (PyPI) and the npm
reference servers installed by ``scripts/install.sh``."""

from __future__ import annotations

import json
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FAULTY = Path(__file__).with_name("faulty_server.py")
NPM_BIN = REPO / ".cache" / "npm" / "node_modules" / ".bin"


def npm_server(name: str) -> str:
    """The installed npm server binary; a clear failure when the CI install step did not run."""
    path = NPM_BIN / name
    if not path.exists():
        raise RuntimeError(
            f"{path} is missing: run `npm install --prefix .cache/npm "
            "@modelcontextprotocol/server-filesystem @modelcontextprotocol/server-memory` "
            "(scripts/install.sh does)"
        )
    if shutil.which("node") is None:
        raise RuntimeError("node is not on PATH; the npm MCP servers need it")
    return str(path)


def time_server(**extra: Any) -> dict[str, Any]:
    return {
        "command": sys.executable,
        "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"],
        **extra,
    }


def faulty_server(ledger: Path, *options: str) -> dict[str, Any]:
    return {"command": sys.executable, "args": [str(FAULTY), "--ledger", str(ledger), *options]}


def listing_server(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """A server listing ``tools`` as given, even ones no SDK server would send."""
    listing = str(Path(__file__).with_name("listing_server.py"))
    return {"command": sys.executable, "args": [listing, json.dumps(tools)]}


def broken_server() -> dict[str, Any]:
    return {
        "command": sys.executable,
        "args": ["-c", "import sys; sys.stderr.write('fatal: no API key set\\n'); sys.exit(1)"],
    }


def write_config(path: Path, servers: dict[str, dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"mcpServers": servers}), encoding="utf-8")
    return path


def ledger_lines(ledger: Path, tool: str | None = None) -> list[str]:
    """What really ran on a faulty server (one line per call that reached a tool)."""
    if not ledger.exists():
        return []
    lines = ledger.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if tool is None or line.split("\t")[0] == tool]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
