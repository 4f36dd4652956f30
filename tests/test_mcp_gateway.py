"""The gateway end to end, driven by the MCP SDK's own client: search finds the right tool,
call_tool has its real effect, a dying server's read-only tool heals on its twin, a
non-idempotent tool is never repeated, a dead server takes nothing else down, deny rules hold,
and no child process outlives the gateway."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest
from mcp import Client, ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_servers import (
    broken_server,
    faulty_server,
    free_port,
    ledger_lines,
    listing_server,
    npm_server,
    time_server,
    write_config,
)

from orchestrator.execution import Decision
from orchestrator.integrations.mcp import (
    DenyRule,
    Gateway,
    McpPolicy,
    McpServers,
    RestartPolicy,
    parse_servers_config,
)
from orchestrator.policy import Policy, load_policy
from orchestrator.routing import Embedder, load_embedder

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    """One packaged MiniLM for the whole module (loading it takes seconds)."""
    return load_embedder()


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Per-server index caches shared by the module: unchanged servers are not re-embedded."""
    yield tmp_path_factory.mktemp("mcp-index")


@asynccontextmanager
async def gateway_client(
    servers: dict[str, dict[str, Any]],
    embedder: Embedder,
    index_dir: Path,
    policy: Policy | None = None,
    decisions: list[Decision] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[tuple[Client, McpServers]]:
    policy = policy or load_policy()
    specs = parse_servers_config({"mcpServers": servers})
    async with McpServers(specs, policy=policy.mcp, clock=clock) as pool:
        listeners = [decisions.append] if decisions is not None else []
        gateway = Gateway.open(
            pool, policy=policy, embedder=embedder, index_dir=index_dir, listeners=listeners
        )
        async with Client(gateway.mcp_server()) as client:
            yield client, pool


@asynccontextmanager
async def following_gateway(
    servers: dict[str, dict[str, Any]], embedder: Embedder, index_dir: Path, policy: Policy
) -> AsyncIterator[tuple[Client, McpServers]]:
    """A gateway client whose gateway follows its servers (``Gateway.follow``), as ``serve``'s
    does."""
    specs = parse_servers_config({"mcpServers": servers})
    async with McpServers(specs, policy=policy.mcp) as pool, anyio.create_task_group() as tg:
        gateway = Gateway.open(pool, policy=policy, embedder=embedder, index_dir=index_dir)
        tg.start_soon(gateway.follow)
        async with Client(gateway.mcp_server()) as client:
            yield client, pool
        tg.cancel_scope.cancel()


async def _top_tool(client: Client, query: str) -> str:
    found = await client.call_tool("search_tools", {"query": query, "k": 1})
    tools = found.structured_content["tools"] if found.structured_content else []
    return str(tools[0]["name"]) if tools else ""


async def _until_top_tool(client: Client, query: str, name: str) -> None:
    with anyio.fail_after(30):
        while await _top_tool(client, query) != name:
            await anyio.sleep(0.1)


FAST_RESTARTS = load_policy().model_copy(
    update={"mcp": McpPolicy(call_timeout_s=5.0, restart=RestartPolicy(initial_s=0.2, max_s=0.4))}
)
FORECAST = {"name": "forecast_weather", "description": "Get the weather forecast for a city."}


def _text(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


async def test_search_finds_the_right_tool(
    embedder: Embedder, index_dir: Path, tmp_path: Path
) -> None:
    servers = {
        "time_a": time_server(),
        "fs": {"command": npm_server("mcp-server-filesystem"), "args": [str(tmp_path)]},
        "memory": {"command": npm_server("mcp-server-memory")},
    }
    async with gateway_client(servers, embedder, index_dir) as (client, _):
        listed = await client.list_tools()
        assert sorted(t.name for t in listed.tools) == ["call_tool", "plan_task", "search_tools"]
        found = await client.call_tool(
            "search_tools", {"query": "write text content into a file on disk", "k": 3}
        )
        assert not found.is_error
        tools = found.structured_content["tools"]
        assert tools[0]["name"] == "fs/write_file"
        assert tools[0]["server"] == "fs"
        assert "path" in tools[0]["inputSchema"]["properties"]
        assert tools[0]["annotations"].get("destructiveHint") is True
        assert json.loads(_text(found)) == found.structured_content  # same JSON as text
        assert found.structured_content["fits"] is True
        timed = await client.call_tool(
            "search_tools", {"query": "current time in a given timezone"}
        )
        assert timed.structured_content["tools"][0]["name"] == "time_a/get_current_time"
        assert len(timed.structured_content["tools"]) == 5  # k defaults to 5
        [search] = [t for t in listed.tools if t.name == "search_tools"]
        assert search.input_schema["properties"]["k"]["minimum"] == 1
        none = await client.call_tool("search_tools", {"query": "what time is it", "k": 0})
        assert none.is_error and "greater than or equal to 1" in _text(none)


async def test_call_tool_has_its_real_effect(
    embedder: Embedder, index_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "note.txt"
    servers = {"fs": {"command": npm_server("mcp-server-filesystem"), "args": [str(tmp_path)]}}
    async with gateway_client(servers, embedder, index_dir) as (client, _):
        result = await client.call_tool(
            "call_tool",
            {"name": "fs/write_file", "arguments": {"path": str(target), "content": "hello mcp"}},
        )
        assert not result.is_error, _text(result)
        assert target.read_text(encoding="utf-8") == "hello mcp"
        read = await client.call_tool(
            "call_tool", {"name": "fs/read_text_file", "arguments": {"path": str(target)}}
        )
        assert "hello mcp" in _text(read)


async def test_plan_task_returns_an_ordered_plan_over_the_servers_tools(
    embedder: Embedder, index_dir: Path, tmp_path: Path
) -> None:
    servers = {"fs": {"command": npm_server("mcp-server-filesystem"), "args": [str(tmp_path)]}}
    async with gateway_client(servers, embedder, index_dir) as (client, _):
        result = await client.call_tool(
            "plan_task", {"task": "create a folder called drafts, then write hello into it"}
        )
        assert not result.is_error, _text(result)
        planned = result.structured_content
        assert json.loads(_text(result)) == planned
        ids = [step["id"] for step in planned["plan"]]
        assert "fs/write_file" in ids
        assert all(set(step) == {"id", "name", "needs"} for step in planned["plan"])
        assert ids.index("fs/create_directory") < ids.index("fs/write_file")


async def test_every_gateway_call_is_one_trace_of_its_decisions(
    embedder: Embedder, index_dir: Path, tmp_path: Path
) -> None:
    from orchestrator.telemetry import read_spans, tracing

    trace = tmp_path / "trace.jsonl"
    servers = {"fs": {"command": npm_server("mcp-server-filesystem"), "args": [str(tmp_path)]}}
    with tracing(trace):
        async with gateway_client(servers, embedder, index_dir) as (client, _):
            arguments = {"path": str(tmp_path / "a"), "content": "x"}
            await client.call_tool("call_tool", {"name": "fs/write_file", "arguments": arguments})
    spans = read_spans(trace)
    root = next(s for s in spans if s.name == "invoke_workflow mcp_gateway")
    step = next(s for s in spans if s.name == "execute_tool fs/write_file")
    assert step.trace_id == root.trace_id and step.parent_id == root.span_id


async def test_dying_servers_read_only_tool_is_healed_on_its_twin(
    embedder: Embedder, index_dir: Path, tmp_path: Path
) -> None:
    flaky, steady = tmp_path / "flaky", tmp_path / "steady"
    servers = {
        "flaky": faulty_server(flaky, "--die-on", "lookup_record"),
        "steady": faulty_server(steady),
    }
    # Started with other arguments (their ledgers), so replicas only as declared.
    replicas = McpPolicy(replicas=(("flaky", "steady"),))
    policy = load_policy().model_copy(update={"mcp": replicas})
    decisions: list[Decision] = []
    frozen = 0.0  # a clock that never moves: the crashed server's circuit stays open
    async with gateway_client(
        servers, embedder, index_dir, policy, decisions=decisions, clock=lambda: frozen
    ) as (client, pool):
        result = await client.call_tool(
            "call_tool", {"name": "flaky/lookup_record", "arguments": {"key": "k1"}}
        )
        assert not result.is_error, _text(result)
        assert result.structured_content == {"key": "k1", "value": "value-of-k1"}
        assert (
            result.meta is not None
            and result.meta["orchestrator"]["tool"] == "steady/lookup_record"
        )
        assert len(ledger_lines(flaky, "lookup_record")) == 1
        assert len(ledger_lines(steady, "lookup_record")) == 1
        assert [d.action for d in decisions] == ["fail", "reroute", "execute", "complete"]
        assert pool.connection("flaky").state == "open circuit"
        # While its circuit is open the crashed server is avoided, not called.
        again = await client.call_tool(
            "call_tool", {"name": "flaky/lookup_record", "arguments": {"key": "k2"}}
        )
        assert again.structured_content == {"key": "k2", "value": "value-of-k2"}
        assert len(ledger_lines(flaky, "lookup_record")) == 1
        # Said as the server's state: it had read "breaker open after 0 consecutive failures".
        [avoided] = [d for d in decisions[4:] if "known down" in d.reason]
        assert "server flaky circuit open (" in avoided.reason
        assert "next restart in" in avoided.reason


async def test_non_idempotent_tool_is_not_repeated_after_a_lost_connection(
    embedder: Embedder, index_dir: Path, tmp_path: Path
) -> None:
    flaky, steady = tmp_path / "flaky", tmp_path / "steady"
    servers = {
        "flaky": faulty_server(flaky, "--die-on", "append_journal"),
        "steady": faulty_server(steady),
    }
    async with gateway_client(servers, embedder, index_dir) as (client, _):
        result = await client.call_tool(
            "call_tool", {"name": "flaky/append_journal", "arguments": {"text": "pay 7"}}
        )
    assert result.is_error
    text = _text(result)
    assert "flaky/append_journal" in text
    assert "may already have taken effect" in text
    assert "lost mid-call" in text
    assert len(ledger_lines(flaky, "append_journal")) == 1
    assert ledger_lines(steady) == []


async def test_server_that_does_not_start_does_not_take_the_others_down(
    embedder: Embedder, index_dir: Path
) -> None:
    servers = {"broken": broken_server(), "time_b": time_server()}
    async with gateway_client(servers, embedder, index_dir) as (client, pool):
        assert pool.connection("broken").state != "up"
        assert "fatal: no API key set" in str(pool.failures["broken"])
        found = await client.call_tool("search_tools", {"query": "what time is it", "k": 2})
        assert {t["server"] for t in found.structured_content["tools"]} == {"time_b"}
        now = await client.call_tool(
            "call_tool", {"name": "time_b/get_current_time", "arguments": {"timezone": "UTC"}}
        )
        assert not now.is_error and now.structured_content["timezone"] == "UTC"


async def test_the_same_tool_on_servers_that_are_not_replicas_never_stands_in(
    embedder: Embedder, index_dir: Path, tmp_path: Path
) -> None:
    """Two filesystem servers on other folders: a call to one is never answered by the other
    (it wrote into the wrong folder), and routing does not offer one as the other's
    alternative."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    fs = npm_server("mcp-server-filesystem")
    servers = {
        "proj_a": {"command": fs, "args": [str(tmp_path / "a")]},
        "proj_b": {"command": fs, "args": [str(tmp_path / "b")]},
    }
    async with gateway_client(servers, embedder, index_dir) as (client, _):
        found = await client.call_tool("search_tools", {"query": "write a file", "k": 3})
        assert all(not t["alternatives"] for t in found.structured_content["tools"])
        [proj_a] = [p for p in psutil.Process().children(recursive=True)
                    if str(tmp_path / "a") in p.cmdline()]  # fmt: skip
        proj_a.kill()
        proj_a.wait()
        lost = await client.call_tool(
            "call_tool",
            {"name": "proj_a/write_file", "arguments": {"path": "x.txt", "content": "hi"}},
        )
    assert lost.is_error and not (tmp_path / "b" / "x.txt").exists()
    assert lost.meta is not None and "tool" not in lost.meta["orchestrator"]  # nobody answered


async def test_a_tool_reported_error_is_returned_not_retried_and_leaves_the_server_healthy(
    embedder: Embedder, index_dir: Path
) -> None:
    """An ``isError`` result is the tool's answer (the MCP spec's tool execution error, for the
    model to read and correct): passed to the caller once, its twin never called, and the
    server's breaker not charged, so more bad calls than ``fail_max`` cost a valid one nothing."""
    policy = load_policy()
    servers = {"time_a": time_server(), "time_b": time_server()}
    decisions: list[Decision] = []
    bad = {"name": "time_a/get_current_time", "arguments": {"timezone": "Not/AZone"}}
    async with gateway_client(servers, embedder, index_dir, policy, decisions) as (client, _):
        for _ in range(policy.execution.breaker.fail_max + 1):
            before = len(decisions)
            refused = await client.call_tool("call_tool", bad)
            assert refused.is_error
            assert "Invalid timezone" in _text(refused) and "Not/AZone" in _text(refused)
            assert refused.meta is not None
            assert refused.meta["orchestrator"]["tool"] == "time_a/get_current_time"
            assert refused.meta["orchestrator"]["outcome"] == "escalated"
            assert [(d.action, d.tool) for d in decisions[before:]] == [
                ("execute", "time_a/get_current_time"),  # called once, and it answered
                ("complete", "done"),
                ("escalate", "time_a/get_current_time"),  # its answer, handed to the caller
            ]
            assert decisions[-1].data["kind"] == "tool_error"
            assert "Invalid timezone" in decisions[-1].reason
        before = len(decisions)
        now = await client.call_tool(
            "call_tool", {"name": "time_a/get_current_time", "arguments": {"timezone": "UTC"}}
        )
    assert not now.is_error, _text(now)
    assert now.structured_content is not None and now.structured_content["timezone"] == "UTC"
    assert now.meta is not None and now.meta["orchestrator"]["tool"] == "time_a/get_current_time"
    assert [d.action for d in decisions[before:]] == ["execute", "complete"]


async def test_unknown_name_and_exhausted_healing_are_clear_errors(
    embedder: Embedder, index_dir: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger"
    servers = {"only": faulty_server(ledger), "broken": broken_server()}
    async with gateway_client(servers, embedder, index_dir) as (client, _):
        unknown = await client.call_tool("call_tool", {"name": "lookup_record", "arguments": {}})
        assert unknown.is_error
        assert "unknown tool 'lookup_record'" in _text(unknown)
        assert "only/lookup_record" in _text(unknown)  # the qualified name it probably meant
        # A tool of a server that did not start: why, not "unknown tool".
        down = await client.call_tool("call_tool", {"name": "broken/anything", "arguments": {}})
        assert down.is_error and "its server did not start" in _text(down)
        assert "fatal: no API key set" in _text(down)
        # Arguments that do not fit: said first, not as "healing exhausted".
        unfit = await client.call_tool("call_tool", {"name": "only/lookup_record", "arguments": {}})
        assert _text(unfit).startswith("call_tool only/lookup_record: the arguments do not fit")
        assert "'key'" in _text(unfit)
        # A rate-limit refusal, unlike the tool's own error, is retried: it is no answer.
        failed = await client.call_tool(
            "call_tool", {"name": "only/limited_quote", "arguments": {"symbol": "X"}}
        )
        assert failed.is_error
        text = _text(failed)
        assert text.startswith("call_tool only/limited_quote: healing exhausted")
        assert text.count("rate limit exceeded") == 3  # every attempt, with its reason
    assert len(ledger_lines(ledger, "limited_quote")) == 3


async def test_a_charge_whose_error_names_429_is_answered_once_not_retried_as_a_rate_limit(
    embedder: Embedder, index_dir: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger"
    async with gateway_client({"f": faulty_server(ledger)}, embedder, index_dir) as (client, _):
        declined = await client.call_tool(
            "call_tool", {"name": "f/charge_card", "arguments": {"order": "429"}}
        )
    assert declined.is_error and "card declined for order 429" in _text(declined)
    assert declined.meta is not None and declined.meta["orchestrator"]["retries"] == 0
    assert len(ledger_lines(ledger, "charge_card")) == 1


async def test_arguments_named_as_the_executors_own_inputs_reach_the_tool_untouched(
    embedder: Embedder, index_dir: Path, tmp_path: Path
) -> None:
    """``routing`` and ``task`` are run inputs the executor reads; a tool's arguments of those
    names had failed call_tool with a bare "Error executing tool call_tool"."""
    ledger = tmp_path / "ledger"
    calls = [
        {"parcel": "p1", "routing": "shortest"},
        {"parcel": "p2", "routing": {"alternatives": "dlq"}, "task": "ship it"},
    ]
    async with gateway_client({"f": faulty_server(ledger)}, embedder, index_dir) as (client, _):
        answers = [
            await client.call_tool("call_tool", {"name": "f/route_parcel", "arguments": a})
            for a in calls
        ]
    assert [(a.is_error, _text(a)) for a in answers] == [
        (False, "p1 via \"shortest\" for ''"),
        (False, 'p2 via {"alternatives": "dlq"} for \'ship it\''),
    ]
    assert [json.loads(line.split("\t")[1])["routing"] for line in ledger_lines(ledger)] == [
        "shortest",
        {"alternatives": "dlq"},
    ]


async def test_a_failure_inside_the_gateway_reaches_the_client_as_a_clear_error(
    embedder: Embedder, index_dir: Path, tmp_path: Path
) -> None:
    def broken_exporter(decision: Decision) -> None:
        raise RuntimeError("trace exporter is down")

    servers = {"f": faulty_server(tmp_path / "ledger")}
    policy = load_policy()
    async with McpServers(parse_servers_config({"mcpServers": servers})) as pool:
        gateway = Gateway.open(
            pool, policy=policy, embedder=embedder, index_dir=index_dir,
            listeners=[broken_exporter],
        )  # fmt: skip
        async with Client(gateway.mcp_server()) as client:
            failed = await client.call_tool(
                "call_tool", {"name": "f/lookup_record", "arguments": {"key": "k"}}
            )
    assert failed.is_error
    assert _text(failed).startswith("call_tool f/lookup_record: internal error in the gateway")
    assert "RuntimeError: trace exporter is down" in _text(failed)


async def test_a_search_results_description_is_cut_to_the_policys_length(
    embedder: Embedder, index_dir: Path
) -> None:
    """A server's 400,000-character description went whole into every search result, and so
    into the client model's context."""
    long = "Look up the weather forecast for a city. " + "Details. " * 2000
    tools = [{"name": "forecast", "description": long, "inputSchema": {"type": "object"}}]
    policy = load_policy().model_copy(update={"mcp": McpPolicy(max_description_chars=300)})
    async with gateway_client({"w": listing_server(tools)}, embedder, index_dir, policy) as (
        client,
        _,
    ):
        found = await client.call_tool("search_tools", {"query": "weather forecast", "k": 1})
    [tool] = found.structured_content["tools"]
    assert tool["name"] == "w/forecast"
    assert len(tool["description"]) <= 300 and tool["description"].endswith("…")
    assert tool["description"].startswith("Look up the weather forecast for a city.")


async def test_denied_tools_are_hidden_from_search_and_refused_by_call(
    embedder: Embedder, index_dir: Path, tmp_path: Path
) -> None:
    base = load_policy()
    policy = base.model_copy(
        update={
            "mcp": McpPolicy(
                deny=(DenyRule(annotation="destructiveHint", reason="read-only agent"),)
            )
        }
    )
    servers = {"fs": {"command": npm_server("mcp-server-filesystem"), "args": [str(tmp_path)]}}
    async with gateway_client(servers, embedder, index_dir, policy=policy) as (client, _):
        found = await client.call_tool("search_tools", {"query": "write a file", "k": 10})
        names = {t["name"] for t in found.structured_content["tools"]}
        assert names and not names & {"fs/write_file", "fs/edit_file", "fs/move_file"}
        refused = await client.call_tool(
            "call_tool",
            {"name": "fs/write_file", "arguments": {"path": str(tmp_path / "x"), "content": "x"}},
        )
    assert refused.is_error
    assert "denied by policy" in _text(refused) and "read-only agent" in _text(refused)
    assert not (tmp_path / "x").exists()


async def test_no_child_process_outlives_the_gateway(tmp_path: Path, index_dir: Path) -> None:
    """`orchestrator mcp serve` as a real process, driven over stdio by the SDK's client."""
    config = write_config(
        tmp_path / "servers.json",
        {
            "time_a": time_server(),
            "memory": {"command": npm_server("mcp-server-memory")},
            "f": faulty_server(tmp_path / "ledger"),
            "broken": broken_server(),
        },
    )
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-c",
            "from orchestrator.cli import main; main()",
            "mcp",
            "serve",
            "--config",
            str(config),
            "--index",
            str(index_dir / "cli"),
        ],
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)},
        cwd=str(REPO),
    )
    mine = psutil.Process(os.getpid())
    errlog = (tmp_path / "gateway.err").open("w+", encoding="utf-8")
    async with (
        stdio_client(params, errlog=errlog) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        gateway = next(p for p in mine.children() if str(config) in " ".join(p.cmdline()))
        children = gateway.children(recursive=True)
        assert len(children) >= 3
        found = await session.call_tool("search_tools", {"query": "current time in Lisbon", "k": 1})
        assert found.structured_content["tools"][0]["name"] == "time_a/get_current_time"
        created = await session.call_tool(
            "call_tool",
            {
                "name": "memory/create_entities",
                "arguments": {"entities": [{"name": "x", "entityType": "t", "observations": []}]},
            },
        )
        assert not created.is_error
    _, alive = psutil.wait_procs([gateway, *children], timeout=10)
    errlog.close()
    said = (tmp_path / "gateway.err").read_text(encoding="utf-8")
    assert "not serving its tools: MCP server 'broken'" in said  # not silent about it
    assert alive == []


class _Counting:
    """The module's embedder, counting the texts it embeds."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.texts = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def encode(
        self, texts: list[str], *, batch_size: int = 64, max_tokens: int | None = None
    ) -> Any:
        self.texts += len(texts)
        return self.inner.encode(texts, batch_size=batch_size, max_tokens=max_tokens)


async def test_twins_share_a_duplicate_group_and_unchanged_servers_are_not_re_embedded(
    embedder: Embedder, tmp_path: Path
) -> None:
    specs = parse_servers_config({"mcpServers": {"time_a": time_server(), "time_b": time_server()}})
    counting = _Counting(embedder)
    async with McpServers(specs) as pool:
        first = Gateway.open(pool, embedder=counting, index_dir=tmp_path)
        embedded_first = counting.texts
        again = Gateway.open(pool, embedder=counting, index_dir=tmp_path)
        embedded_again = counting.texts - embedded_first
        found = await again.search("what is the current time in Tokyo", k=2)
    assert embedded_first > 0 and embedded_again == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{c.name}-{c.tools_hash}" for c in pool
    )
    best = found["tools"][0]
    twin = "time_b/get_current_time" if best["server"] == "time_a" else "time_a/get_current_time"
    assert best["name"].endswith("/get_current_time") and best["alternatives"] == [twin]
    match = first.router.route("what is the current time in Tokyo", 1).matches[0]
    assert [d.id for d in match.duplicates] == [twin]


async def test_reindexing_a_server_keeps_the_caches_of_servers_whose_names_extend_its_own(
    embedder: Embedder, tmp_path: Path
) -> None:
    """Server ``a``'s stale entries are ``a-<hash>`` only: not ``a-b-<hash>`` (server ``a-b``),
    and a name with glob characters (``q[1]``) matches itself, not ``q1``."""
    servers = {"a-b": time_server(), "a": time_server(), "q[1]": time_server()}
    specs = parse_servers_config({"mcpServers": servers})
    async with McpServers(specs) as pool:
        digest = pool.connection("a").tools_hash
        old = "0" * len(digest)
        kept = {f"q1-{old}", "a-notes"}
        for name in [*kept, f"a-{old}", f"q[1]-{old}"]:
            (tmp_path / name).mkdir()
        Gateway.open(pool, embedder=embedder, index_dir=tmp_path)
    current = {f"{name}-{digest}" for name in servers}  # the same tools: the same hash
    assert {p.name for p in tmp_path.iterdir()} == kept | current


async def test_an_index_cache_that_cannot_be_written_is_warned_about_and_the_index_served(
    embedder: Embedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A read-only ``$ORCHESTRATOR_CACHE`` had stopped the gateway from starting (as root, a
    folder below a regular file stands in for a read-only one: mkdir fails either way)."""
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    unwritable = tmp_path / "file" / "mcp-index"
    specs = parse_servers_config({"mcpServers": {"time_a": time_server()}})
    async with McpServers(specs) as pool:
        with caplog.at_level(logging.WARNING, logger="orchestrator.mcp"):
            gateway = Gateway.open(pool, embedder=embedder, index_dir=unwritable)
        found = await gateway.search("what is the current time in Tokyo", k=1)
    assert found["tools"][0]["name"] == "time_a/get_current_time"
    [warning] = [r.getMessage() for r in caplog.records if r.name == "orchestrator.mcp"]
    assert f"cannot write the MCP index cache in {unwritable}" in warning
    assert "time_a" in warning and "in memory only" in warning


async def test_tools_a_server_announces_are_indexed_and_served(
    embedder: Embedder, index_dir: Path, tmp_path: Path
) -> None:
    """A server's ``tools/list_changed``: its tools are listed again and the gateway's index,
    twins and schemas follow (the index had been fixed at startup)."""
    servers = {"f": faulty_server(tmp_path / "ledger")}
    async with following_gateway(servers, embedder, index_dir, FAST_RESTARTS) as (client, _):
        assert await _top_tool(client, "weather forecast for a city") != "f/forecast_weather"
        grown = await client.call_tool("call_tool", {"name": "f/grow_tool", "arguments": FORECAST})
        assert not grown.is_error, _text(grown)
        await _until_top_tool(client, "weather forecast for a city", "f/forecast_weather")
        called = await client.call_tool(
            "call_tool", {"name": "f/forecast_weather", "arguments": {"city": "Oslo"}}
        )
    assert not called.is_error and _text(called) == "forecast_weather for Oslo"


async def test_a_down_servers_tools_stay_served_when_another_servers_change(
    embedder: Embedder, index_dir: Path, tmp_path: Path
) -> None:
    """A re-index while a server is down (crashed, waiting out its restart backoff) keeps that
    server's tools as last listed: a call to one restarts it, as before any re-index."""
    servers = {
        "f": faulty_server(tmp_path / "ledger_f", "--die-on", "append_journal"),
        "g": faulty_server(tmp_path / "ledger_g"),
    }
    async with following_gateway(servers, embedder, index_dir, FAST_RESTARTS) as (client, pool):
        lost = await client.call_tool(
            "call_tool", {"name": "f/append_journal", "arguments": {"text": "x"}}
        )
        assert lost.is_error and pool.connection("f").session is None
        grown = await client.call_tool("call_tool", {"name": "g/grow_tool", "arguments": FORECAST})
        assert not grown.is_error, _text(grown)
        await _until_top_tool(client, "weather forecast for a city", "g/forecast_weather")
        lookup = {"name": "f/lookup_record", "arguments": {"key": "k"}}
        with anyio.fail_after(10):  # served still: a call after the backoff restarts f
            while pool.connection("f").state != "up":
                await anyio.sleep(0.1)
                called = await client.call_tool("call_tool", lookup)
                assert "unknown tool" not in _text(called)
    assert not called.is_error, _text(called)


async def test_a_restarted_server_listing_other_tools_is_indexed_again(
    embedder: Embedder, index_dir: Path, tmp_path: Path
) -> None:
    extra = tmp_path / "extra.json"
    extra.write_text("[]", encoding="utf-8")
    options = ("--die-on", "append_journal", "--extra-tools", str(extra))
    servers = {"f": faulty_server(tmp_path / "ledger", *options)}
    async with following_gateway(servers, embedder, index_dir, FAST_RESTARTS) as (client, pool):
        extra.write_text(json.dumps([FORECAST]), encoding="utf-8")  # served from its next start
        lost = await client.call_tool(
            "call_tool", {"name": "f/append_journal", "arguments": {"text": "x"}}
        )
        assert lost.is_error and pool.connection("f").state == "open circuit"
        lookup = {"name": "f/lookup_record", "arguments": {"key": "k"}}
        with anyio.fail_after(10):  # a call after the backoff restarts it
            while pool.connection("f").state != "up":
                await anyio.sleep(0.1)
                await client.call_tool("call_tool", lookup)
        await _until_top_tool(client, "weather forecast for a city", "f/forecast_weather")
        called = await client.call_tool(
            "call_tool", {"name": "f/forecast_weather", "arguments": {"city": "Rome"}}
        )
    assert not called.is_error and _text(called) == "forecast_weather for Rome"
    assert pool.connection("f").starts == 2


async def test_a_server_that_failed_to_start_is_started_after_its_backoff_and_served(
    embedder: Embedder, index_dir: Path, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    servers = {
        "time_a": time_server(),
        "late": faulty_server(tmp_path / "ledger", "--require", str(ready)),
    }
    async with following_gateway(servers, embedder, index_dir, FAST_RESTARTS) as (client, pool):
        assert "is missing" in str(pool.failures["late"])
        ready.touch()
        await _until_top_tool(
            client, "look up the stored value of a record key", "late/lookup_record"
        )
        called = await client.call_tool(
            "call_tool", {"name": "late/lookup_record", "arguments": {"key": "k"}}
        )
        assert "late" not in pool.failures
    assert not called.is_error and called.structured_content == {"key": "k", "value": "value-of-k"}


async def test_gateway_serves_streamable_http(
    embedder: Embedder, index_dir: Path, tmp_path: Path
) -> None:
    import uvicorn

    port = free_port()
    specs = parse_servers_config({"mcpServers": {"time_a": time_server()}})
    async with McpServers(specs) as pool, anyio.create_task_group() as tg:
        gateway = Gateway.open(pool, embedder=embedder, index_dir=index_dir)
        app = gateway.mcp_server().streamable_http_app(host="127.0.0.1")
        http = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        tg.start_soon(http.serve)
        with anyio.fail_after(20):
            while not http.started:
                await anyio.sleep(0.05)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            now = await client.call_tool(
                "call_tool", {"name": "time_a/get_current_time", "arguments": {"timezone": "UTC"}}
            )
        http.should_exit = True
    assert not now.is_error and now.structured_content["timezone"] == "UTC"
