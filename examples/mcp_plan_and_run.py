"""Plan a task over the tools of live MCP servers and run it through them.

Two copies of the reference time server (PyPI ``mcp-server-time``) are started from one
``mcpServers`` config; their tools are the catalog. The plan for the task needs a timezone
nobody gave, and the tool's input schema says so before any call, so the first run does not
start. Given the timezone, the second run starts; the first server's tool is down (an injected
fault), so it heals onto the same tool on the other server. Each step's output is the tool's
structured content.

    pip install -e '.[mcp]' mcp-server-time     # the [test] extra has both
    python examples/mcp_plan_and_run.py
"""

from __future__ import annotations

import sys

import anyio

from orchestrator import Orchestrator
from orchestrator.integrations.mcp import McpInvoker, McpServers, parse_servers_config
from orchestrator.scenarios import DownFault, FaultInjector

TASK = "what time is it right now?"
TIME_SERVER = {"command": sys.executable, "args": ["-m", "mcp_server_time"]}
CONFIG = {"mcpServers": {"time_a": TIME_SERVER, "time_b": TIME_SERVER}}


async def main() -> None:
    async with McpServers(parse_servers_config(CONFIG)) as servers:
        orchestrator = Orchestrator(servers.skills())
        plan = await orchestrator.aplan(TASK)
        for step in plan.steps:
            print(f"{step.id:<24} alternatives {list(step.alternatives)}")
            print(f"{'':<24} inputs the caller must give: {list(step.open_inputs)}")

        unstarted = await orchestrator.run(TASK, tools=McpInvoker(servers), plan=plan)
        print(f"\nwithout inputs: {unstarted.outcome}: {unstarted.log.entries[-1].reason}")

        chosen = plan.steps[0].id
        tools = FaultInjector(McpInvoker(servers), [DownFault(tool=chosen, kind="down")])
        inputs = {"timezone": "Asia/Tokyo"}
        result = await orchestrator.run(TASK, tools=tools, plan=plan, inputs=inputs)
        print(f"\nwith {inputs}: {result.outcome} via {' > '.join(result.path)}")
        for d in result.log:
            print(f"  {d.t_ms:8.1f} ms  {d.action:<8} {d.tool:<24} {d.reason}")
        print(f"outputs: {result.outputs}")


if __name__ == "__main__":
    anyio.run(main)
