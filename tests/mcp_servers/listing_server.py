"""A hand-written stdio MCP server that lists the tools given to it as JSON (``argv[1]``), as
they are: a listing no SDK server would send (a tool without ``inputSchema``), to see how a
client takes it. It answers ``initialize``, ``tools/list`` and ``ping``, and nothing else.
"""

from __future__ import annotations

import json
import sys

tools = json.loads(sys.argv[1])


def answer(request_id: object, result: dict[str, object]) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    if not line.strip():
        continue
    message = json.loads(line)
    method, request_id = message.get("method"), message.get("id")
    if method == "initialize":
        version = message["params"]["protocolVersion"]
        info = {"name": "listing", "version": "0"}
        answer(request_id, {"protocolVersion": version, "capabilities": {}, "serverInfo": info})
    elif method == "tools/list":
        answer(request_id, {"tools": tools})
    elif method == "ping":
        answer(request_id, {})
