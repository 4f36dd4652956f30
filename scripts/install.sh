#!/usr/bin/env bash
# Create .venv and install orchestrator into it; "$1" names the extras (e.g. "[test]").
# torch is pinned first: an unpinned torch would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".${1:-}"

# MCP test servers from npm (issue 8): the filesystem and memory reference servers, into a
# git-ignored local folder (.cache/npm); tests/mcp_servers finds them there. Needs node and npm.
if [[ "${1:-}" == *test* ]]; then
    npm install --silent --no-audit --no-fund --prefix .cache/npm \
        @modelcontextprotocol/server-filesystem@^2026.8.31 @modelcontextprotocol/server-memory@^2026.8.31
fi
