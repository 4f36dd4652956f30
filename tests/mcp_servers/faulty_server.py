"""A FastMCP (MCPServer) test server that injects faults: it dies mid-call, reports isError, is
slow, refuses for rate limits (or says so about a tool not safe to repeat), declines with a
number in its error, or returns output that breaks its outputSchema.

Run as ``python faulty_server.py --ledger FILE [--die-on TOOL ...]``. Every call that reaches a
tool appends ``tool<TAB>arguments`` to the ledger first, so a test can count what really ran.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TypedDict

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, ListToolsResult, TextContent, ToolAnnotations

parser = argparse.ArgumentParser()
parser.add_argument("--ledger", required=True, type=Path)
parser.add_argument("--die-on", action="append", default=[], help="Exit mid-call in this tool.")
parser.add_argument("--fail-on", action="append", default=[], help="Return isError in this tool.")
parser.add_argument("--page-size", type=int, default=0, help="Paginate tools/list.")
parser.add_argument("--list-twice", help="List this tool twice, the second time reworded.")
parser.add_argument("--port", type=int, default=0, help="Serve streamable HTTP on 127.0.0.1.")
parser.add_argument("--require", type=Path, help="Exit at start while this file is missing.")
parser.add_argument(
    "--extra-tools", type=Path, help="A JSON list of {name, description} to serve too."
)
options = parser.parse_args()
if options.require is not None and not options.require.exists():
    sys.stderr.write(f"fatal: {options.require} is missing\n")
    sys.exit(1)


class Record(TypedDict):
    key: str
    value: str


RECORD_SCHEMA = {
    "type": "object",
    "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
    "required": ["key", "value"],
}


class FaultyServer(MCPServer):
    """Lists ``broken_record`` with the Record schema its answers break (the SDK would check a
    schema it derived itself, so the fault is injected at listing time), and, if asked, one
    tool twice."""

    async def list_tools(self):  # type: ignore[no-untyped-def]
        tools = await super().list_tools()
        tools = [
            t.model_copy(update={"output_schema": RECORD_SCHEMA})
            if t.name == "broken_record"
            else t
            for t in tools
        ]
        twice = [t for t in tools if t.name == options.list_twice]
        return tools + [t.model_copy(update={"description": "Listed again."}) for t in twice]

    async def _handle_list_tools(self, ctx, params):  # type: ignore[no-untyped-def]
        tools = await self.list_tools()
        if not options.page_size:
            return ListToolsResult(tools=tools)
        start = int(params.cursor) if params is not None and params.cursor else 0
        end = start + options.page_size
        return ListToolsResult(
            tools=tools[start:end], next_cursor=str(end) if end < len(tools) else None
        )


server = FaultyServer(name="faulty")


def _arrive(tool: str, arguments: dict[str, object]) -> None:
    with options.ledger.open("a", encoding="utf-8") as ledger:
        ledger.write(f"{tool}\t{json.dumps(arguments, sort_keys=True)}\n")
    if tool in options.die_on:
        os._exit(1)  # mid-call: the request arrived, no answer will ever leave
    if tool in options.fail_on:
        raise ToolError(f"{tool} failed on purpose")


@server.tool(
    description="Look up the stored value of a record key in the key-value record store.",
    annotations=ToolAnnotations(read_only_hint=True),
)
def lookup_record(key: str) -> Record:
    _arrive("lookup_record", {"key": key})
    return {"key": key, "value": f"value-of-{key}"}


@server.tool(
    description="Append a line of text to the audit journal (each call adds one more line).",
    annotations=ToolAnnotations(read_only_hint=False, idempotent_hint=False),
)
def append_journal(text: str) -> str:
    _arrive("append_journal", {"text": text})
    return f"appended {text!r}"


@server.tool(
    description="Route a parcel with a routing mode, for a task.",
    annotations=ToolAnnotations(read_only_hint=True),
)
def route_parcel(parcel: str, routing: str | dict[str, str], task: str = "") -> str:
    _arrive("route_parcel", {"parcel": parcel, "routing": routing, "task": task})
    return f"{parcel} via {json.dumps(routing)} for {task!r}"


@server.tool(
    description="Write debug lines to stderr, as a server logging every request does.",
    annotations=ToolAnnotations(read_only_hint=True),
)
def chatter(lines: int, tag: str) -> str:
    for i in range(lines):
        sys.stderr.write(f"debug {tag} line {i} {'x' * 200}\n")
    sys.stderr.write(f"chatter {tag} done\n")
    sys.stderr.flush()
    return "ok"


def _serve_extra_tool(name: str, description: str) -> None:
    def extra(city: str) -> str:
        return f"{name} for {city}"

    server.add_tool(
        extra, name=name, description=description, annotations=ToolAnnotations(read_only_hint=True)
    )


if options.extra_tools is not None:
    for extra_tool in json.loads(options.extra_tools.read_text(encoding="utf-8")):
        _serve_extra_tool(extra_tool["name"], extra_tool["description"])


@server.tool(description="Serve one more tool from now on, and say so (tools/list_changed).")
async def grow_tool(name: str, description: str, ctx: Context) -> str:
    _arrive("grow_tool", {"name": name})
    _serve_extra_tool(name, description)
    await ctx.session.send_tool_list_changed()
    return f"now serving {name}"


@server.tool(description="Wait the given seconds, then answer.")
def slow_echo(text: str, seconds: float) -> str:
    _arrive("slow_echo", {"text": text})
    time.sleep(seconds)
    return text


@server.tool(
    description="Always refused: the rate limit is exceeded.",
    annotations=ToolAnnotations(read_only_hint=True),
)
def limited_quote(symbol: str) -> str:
    _arrive("limited_quote", {"symbol": symbol})
    raise ToolError("rate limit exceeded (429 Too Many Requests); retry after 0.01 s")


@server.tool(
    description="Always refused by the server for load (a JSON-RPC error, not isError).",
    annotations=ToolAnnotations(read_only_hint=True),
)
def throttled_quote(symbol: str) -> str:
    _arrive("throttled_quote", {"symbol": symbol})
    raise MCPError(code=-32099, message="Too Many Requests; retry after 0.01 s")


@server.tool(
    description="Look a record up; its database is down, said as a JSON-RPC error of the code "
    "given (-32000 and -32001 are also the codes of the SDK's own closed and timed-out errors).",
    annotations=ToolAnnotations(read_only_hint=True),
)
def database_lookup(key: str, code: int) -> str:
    _arrive("database_lookup", {"key": key})
    raise MCPError(code=code, message="database connection refused")


@server.tool(
    description="Transfer money; always answers that the rate limit is exceeded.",
    annotations=ToolAnnotations(read_only_hint=False, idempotent_hint=False),
)
def limited_transfer(amount: str) -> str:
    _arrive("limited_transfer", {"amount": amount})
    raise ToolError("rate limit exceeded (429 Too Many Requests); retry after 0.01 s")


@server.tool(
    description="Charge the card of a customer order; the card is always declined.",
    annotations=ToolAnnotations(read_only_hint=False, idempotent_hint=False),
)
def charge_card(order: str) -> str:
    _arrive("charge_card", {"order": order})
    raise ToolError(f"card declined for order {order}")


@server.tool(description="Answers with a record whose value is a number, breaking its schema.")
def broken_record(key: str) -> CallToolResult:
    _arrive("broken_record", {"key": key})
    return CallToolResult(
        content=[TextContent(type="text", text="{}")],
        structured_content={"key": key, "value": 42},
    )


if __name__ == "__main__":
    if options.port:
        server.run("streamable-http", host="127.0.0.1", port=options.port)
    else:
        server.run()
