"""The MCP gateway's costs, measured in one run (not a test):

- call_tool overhead: the median latency of ``echo`` through the gateway (in-process SDK client ->
  gateway -> executor -> stdio server) minus a direct SDK call to the same server (the baseline);
  also the gateway as a separate process over stdio, which adds a second stdio hop. The variants
  are timed in interleaved rounds, so load on the shared machine hits them alike; the CPU time
  the gateway process and its upstream server spend per call is reported beside;
- search_tools p50 over a catalog of >= 1,000 tools (the sample catalog x4 on one server);
- time to the first tools/list with 5 servers configured (started concurrently), against starting
  the same 5 one after another, and the gateway process's cold start to its first tools/list.

    python bench/mcp_gateway.py [--calls 300] [--copies 4]
    # prints a table, writes bench/results/mcp_gateway.json; per-server indexes are cached in
    # bench/results/mcp-index (the first run embeds the ~1,000 tools once)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import psutil
from mcp import Client, ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from orchestrator.integrations.mcp import Gateway, McpServers, parse_servers_config
from orchestrator.routing import load_embedder

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
INDEX = RESULTS / "mcp-index"
ENV = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
QUERIES = [
    json.loads(line)["query"]
    for line in (REPO / "skills" / "sample_queries.jsonl").read_text().splitlines()
    if line.strip()
]


def bench_server(copies: int) -> dict[str, Any]:
    return {
        "command": sys.executable,
        "args": [str(HERE / "mcp_tools_server.py"), "--copies", str(copies)],
        "env": {"PYTHONPATH": str(REPO)},
    }


def five_servers(copies: int, scratch: Path) -> dict[str, dict[str, Any]]:
    npm = REPO / ".cache" / "npm" / "node_modules" / ".bin"
    time_server = {"command": sys.executable, "args": ["-m", "mcp_server_time"]}
    return {
        "bench": bench_server(copies),
        "time_a": time_server,
        "time_b": time_server,
        "fs": {"command": str(npm / "mcp-server-filesystem"), "args": [str(scratch)]},
        "memory": {"command": str(npm / "mcp-server-memory")},
    }


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    return sorted(samples)[int(0.95 * (len(samples) - 1))]


async def startup(servers: dict[str, dict[str, Any]]) -> tuple[float, float, int]:
    """(concurrent start to all tools listed, the same one by one, tools) in ms."""
    specs = parse_servers_config({"mcpServers": servers})
    start = time.perf_counter()
    async with McpServers(specs) as pool:
        concurrent = (time.perf_counter() - start) * 1000.0
        tools = sum(len(c.tools) for c in pool)
        assert not pool.failures, pool.failures
    sequential = 0.0
    for spec in specs:
        start = time.perf_counter()
        async with McpServers([spec]):
            sequential += (time.perf_counter() - start) * 1000.0
    return concurrent, sequential, tools


def gateway_params(config: Path) -> StdioServerParameters:
    """`orchestrator mcp serve` as a child process over stdio."""
    return StdioServerParameters(
        command=sys.executable,
        args=[
            "-c",
            "from orchestrator.cli import main; main()",
            "mcp",
            "serve",
            "--config",
            str(config),
            "--index",
            str(INDEX),
        ],
        env=ENV,
        cwd=str(REPO),
    )


def cpu_ms(process: psutil.Process) -> float:
    times = process.cpu_times()
    return (times.user + times.system) * 1000.0


async def interleaved(
    variants: dict[str, Callable[[], Awaitable[Any]]], calls: int, rounds: int
) -> dict[str, list[float]]:
    """Every variant timed in turn, ``calls / rounds`` calls at a time, so a load change on the
    shared machine hits the baseline and the gateway alike."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for call in variants.values():  # warm-up
        for _ in range(10):
            await call()
    per_round = max(1, calls // rounds)
    for _ in range(rounds):
        for name, call in variants.items():
            for _ in range(per_round):
                start = time.perf_counter()
                await call()
                samples[name].append((time.perf_counter() - start) * 1000.0)
    return samples


async def run(calls: int, copies: int) -> dict[str, Any]:
    scratch = RESULTS / "mcp-scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"calls": calls}
    config = RESULTS / "mcp-servers.json"
    config.write_text(json.dumps({"mcpServers": {"bench": bench_server(copies)}}))
    echo = {"name": "bench/echo", "arguments": {"text": "hi"}}

    specs = parse_servers_config({"mcpServers": {"bench": bench_server(copies)}})
    embedder = load_embedder()
    me = psutil.Process()
    async with AsyncExitStack() as stack:
        read, write = await stack.enter_async_context(
            stdio_client(StdioServerParameters(**bench_server(copies)))
        )
        direct = await stack.enter_async_context(ClientSession(read, write))
        await direct.initialize()
        pool = await stack.enter_async_context(McpServers(specs))
        start = time.perf_counter()
        gateway = Gateway.open(pool, embedder=embedder, index_dir=INDEX)
        report["index_open_s"] = time.perf_counter() - start
        report["catalog_tools"] = len(gateway.skills)
        client = await stack.enter_async_context(Client(gateway.mcp_server()))
        start = time.perf_counter()
        read, write = await stack.enter_async_context(stdio_client(gateway_params(config)))
        process = await stack.enter_async_context(ClientSession(read, write))
        await process.initialize()
        await process.list_tools()
        cold = (time.perf_counter() - start) * 1000.0
        served = next(p for p in me.children() if str(config) in " ".join(p.cmdline()))
        upstream = served.children()[0]

        cpu_before = (cpu_ms(served), cpu_ms(upstream))
        samples = await interleaved(
            {
                "direct": lambda: direct.call_tool("echo", {"text": "hi"}),
                "api": lambda: gateway.call("bench/echo", {"text": "hi"}),
                "in_process_client": lambda: client.call_tool("call_tool", echo),
                "gateway_process": lambda: process.call_tool("call_tool", echo),
            },
            calls,
            rounds=max(1, calls // 50),
        )
        timed_calls = len(samples["gateway_process"]) + 10
        report["cpu_ms_per_call"] = {
            "gateway_process": (cpu_ms(served) - cpu_before[0]) / timed_calls,
            "its_upstream_server": (cpu_ms(upstream) - cpu_before[1]) / timed_calls,
        }

        for query in QUERIES:  # warm-up: the first pass over the queries is much slower
            await gateway.search(query, 5)
        searches = []
        for query in QUERIES:
            started = time.perf_counter()
            await client.call_tool("search_tools", {"query": query, "k": 5})
            searches.append((time.perf_counter() - started) * 1000.0)
        routes = []
        for query in QUERIES:
            started = time.perf_counter()
            gateway.router.route(query, 5)
            routes.append((time.perf_counter() - started) * 1000.0)

    concurrent, sequential, listed = await startup(five_servers(copies, scratch))
    shutil.rmtree(scratch, ignore_errors=True)

    direct_ms = samples["direct"]
    rows = [
        ("direct SDK call (baseline)", p50(direct_ms), p95(direct_ms)),
        ("gateway.call (API, executor)", p50(samples["api"]), p95(samples["api"])),
        (
            "call_tool, in-process SDK client",
            p50(samples["in_process_client"]),
            p95(samples["in_process_client"]),
        ),
        (
            "call_tool, gateway process (stdio)",
            p50(samples["gateway_process"]),
            p95(samples["gateway_process"]),
        ),
        (f"search_tools, {len(gateway.skills)} tools", p50(searches), p95(searches)),
        (f"router.route alone, {len(gateway.skills)} tools", p50(routes), p95(routes)),
    ]
    report["latency_ms"] = {name: {"p50": a, "p95": b} for name, a, b in rows}
    report["overhead_ms"] = {
        name: p50(samples[name]) - p50(direct_ms)
        for name in ("api", "in_process_client", "gateway_process")
    }
    report["five_servers"] = {
        "tools": listed,
        "concurrent_first_list_ms": concurrent,
        "sequential_ms": sequential,
        "gateway_cold_start_to_first_list_ms": cold,
    }
    print(f"{'latency (ms)':<40} {'p50':>8} {'p95':>8}")
    for name, a, b in rows:
        print(f"{name:<40} {a:>8.2f} {b:>8.2f}")
    print()
    for name, value in report["overhead_ms"].items():
        print(f"{'call_tool overhead, ' + name:<40} {value:>8.2f} ms (median, vs direct)")
    for name, value in report["cpu_ms_per_call"].items():
        print(f"{'CPU per call_tool, ' + name:<40} {value:>8.2f} ms")
    print(
        f"{'5 servers, concurrent start to tools/list':<40} {concurrent:>8.0f} ms ({listed} tools)"
    )
    print(f"{'5 servers, one after another':<40} {sequential:>8.0f} ms")
    print(f"{'gateway process cold start to tools/list':<40} {cold:>8.0f} ms (index cached)")
    opened = f"index open ({len(gateway.skills)} tools)"
    print(f"{opened:<40} {report['index_open_s']:>8.2f} s")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--copies", type=int, default=4, help="Sample catalog copies (4 = 1,036).")
    options = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    report = anyio.run(run, options.calls, options.copies)
    (RESULTS / "mcp_gateway.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
