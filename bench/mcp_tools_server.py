"""A benchmark MCP server (stdio, the SDK's low-level ``Server``): the shipped sample catalog's
skills as tools, repeated ``--copies`` times for a large catalog, plus a trivial ``echo`` tool.

    python bench/mcp_tools_server.py --copies 4     # 1,036 tools + echo
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import anyio
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp_types import (
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
    ToolAnnotations,
)

from orchestrator._resources import data_path


def catalog_tools(copies: int) -> list[Tool]:
    records = [
        json.loads(line)
        for line in data_path("skills", "sample.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    tools = [
        Tool(
            name="echo",
            description="Echo the given text back.",
            input_schema={"type": "object", "properties": {"text": {"type": "string"}}},
            annotations=ToolAnnotations(read_only_hint=True),
        )
    ]
    for copy in range(copies):
        suffix = "" if copy == 0 else f"_v{copy + 1}"
        for record in records:
            tools.append(
                Tool(
                    name=record["name"] + suffix,
                    description=record.get("description", ""),
                    input_schema=record.get("parameters") or {"type": "object"},
                )
            )
    return tools


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=0, help="Copies of the sample catalog.")
    options = parser.parse_args()
    tools = catalog_tools(options.copies)

    async def list_tools(ctx: Any, params: PaginatedRequestParams | None) -> ListToolsResult:
        return ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: CallToolRequestParams) -> CallToolResult:
        text = json.dumps(params.arguments or {})
        return CallToolResult(content=[TextContent(type="text", text=text)])

    server: Server[Any] = Server("bench", on_list_tools=list_tools, on_call_tool=call_tool)

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)


if __name__ == "__main__":
    main()
