"""MCP servers as executors: every failure kind classified, circuits and restarts, sessions
reused and closed with no child left, and idempotency-aware healing in the one executor."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import httpx
import psutil
import pytest
from mcp_servers import (
    FAULTY,
    broken_server,
    faulty_server,
    free_port,
    ledger_lines,
    time_server,
)

from orchestrator.errors import (
    CircuitOpenError,
    ConnectionLostError,
    MalformedOutputError,
    RateLimitedError,
    ToolAnswerError,
    ToolArgumentError,
    ToolCallError,
    ToolTimeoutError,
    ToolUnavailableError,
)
from orchestrator.execution import CallableInvoker, DecisionLog, Executor, classify
from orchestrator.graph import ToolGraph
from orchestrator.integrations.mcp import (
    McpInvoker,
    McpPolicy,
    McpServers,
    RestartPolicy,
    parse_servers_config,
)
from orchestrator.integrations.mcp._invoker import rate_limit_of
from orchestrator.policy import load_policy

pytestmark = pytest.mark.anyio


def _specs(servers: dict[str, dict[str, Any]]) -> list[Any]:
    return parse_servers_config({"mcpServers": servers})


def _children() -> set[int]:
    return {p.pid for p in psutil.Process(os.getpid()).children(recursive=True)}


FAST = McpPolicy(call_timeout_s=1.0, restart=RestartPolicy(initial_s=0.3, max_s=1.0))


async def test_each_failure_kind_is_classified(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    specs = _specs({"f": faulty_server(ledger, "--fail-on", "lookup_record")})
    async with McpServers(specs, policy=FAST) as servers:
        invoker = McpInvoker(servers)
        with pytest.raises(ToolAnswerError, match="lookup_record failed on purpose"):
            await invoker.invoke("f/lookup_record", {"key": "a"})
        with pytest.raises(RateLimitedError) as limited:
            await invoker.invoke("f/limited_quote", {"symbol": "X"})
        assert limited.value.retry_after == pytest.approx(0.01)
        with pytest.raises(MalformedOutputError, match="structured"):
            await invoker.invoke("f/broken_record", {"key": "a"})
        with pytest.raises(ToolTimeoutError):
            await invoker.invoke("f/slow_echo", {"text": "hi", "seconds": 3})
        # The session survives a timeout: the next call is answered on the same connection.
        result = await invoker.invoke("f/append_journal", {"text": "after"})
        assert result == {"result": "appended 'after'"}
        assert servers.connection("f").starts == 1
        # A call without a required argument is refused as such (not as the tool's error).
        with pytest.raises(ToolArgumentError, match=r"\['key'\]") as refused:
            await invoker.invoke("f/lookup_record", {})
        assert refused.value.missing == ("key",)


@pytest.mark.parametrize("code", [-32000, -32001])
async def test_a_servers_own_error_in_the_sdks_codes_is_the_tools_error(
    tmp_path: Path, code: int
) -> None:
    """-32000 and -32001 open JSON-RPC's range for servers' own errors, and the SDK raises its
    closed-connection and timeout errors with them: a server answering "database connection
    refused" as -32000 was read as a lost connection (the server stopped, its message lost),
    and as -32001 as a call that had timed out."""
    specs = _specs({"f": faulty_server(tmp_path / "ledger")})
    async with McpServers(specs, policy=FAST) as servers:
        invoker = McpInvoker(servers)
        with pytest.raises(ToolCallError, match="database connection refused") as failed:
            await invoker.invoke("f/database_lookup", {"key": "a", "code": code})
        assert type(failed.value) is ToolCallError
        connection = servers.connection("f")
        assert connection.state == "up" and connection.starts == 1


async def test_an_http_server_that_refuses_the_calls_connection_did_not_receive_it(
    tmp_path: Path,
) -> None:
    """The SDK ends the session on a refused POST as on a connection lost mid-call, so a tool
    not safe to repeat was not rerouted to a replica though nothing had been delivered."""
    port = free_port()
    ledger = tmp_path / "ledger"
    command = [sys.executable, str(FAULTY), "--ledger", str(ledger), "--port", str(port)]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        await _answering(url)
        async with McpServers(_specs({"h": {"url": url}}), policy=FAST) as servers:
            invoker = McpInvoker(servers)
            assert await invoker.invoke("h/append_journal", {"text": "one"})
            process.kill()
            process.wait(timeout=10)
            with pytest.raises(ToolUnavailableError, match="refused") as refused:
                await invoker.invoke("h/append_journal", {"text": "two"})
    finally:
        process.kill()
        process.wait(timeout=10)
    assert not isinstance(refused.value, ConnectionLostError)
    assert classify(refused.value).ambiguous is False
    assert len(ledger_lines(ledger, "append_journal")) == 1


async def test_a_call_running_when_its_http_server_dies_is_lost_and_one_after_it_refused(
    tmp_path: Path,
) -> None:
    """The SDK words a streamed call's end as "SSE stream ended without a response" (code
    -32000). Read as the server's own error since 56a1c69, a call running when the server died
    was no longer "lost mid-call", so a tool not safe to repeat could be retried (found by a
    reviewer). A call made once the server is gone is refused: it was not delivered."""
    port = free_port()
    ledger = tmp_path / "ledger"
    command = [sys.executable, str(FAULTY), "--ledger", str(ledger), "--port", str(port)]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    outcomes: dict[str, BaseException] = {}

    async def call(invoker: McpInvoker, tool: str, arguments: dict[str, Any]) -> None:
        try:
            await invoker.invoke(tool, arguments)
        except Exception as exc:
            outcomes[tool] = exc

    try:
        url = f"http://127.0.0.1:{port}/mcp"
        await _answering(url)
        async with McpServers(_specs({"h": {"url": url}}), policy=FAST) as servers:
            invoker = McpInvoker(servers, timeout_s=10.0)
            async with anyio.create_task_group() as group:
                group.start_soon(call, invoker, "h/slow_echo", {"text": "hi", "seconds": 5})
                with anyio.fail_after(10):
                    while not ledger_lines(ledger, "slow_echo"):
                        await anyio.sleep(0.05)
                process.kill()
                process.wait(timeout=10)
                await call(invoker, "h/append_journal", {"text": "two"})
    finally:
        process.kill()
        process.wait(timeout=10)
    assert isinstance(outcomes["h/slow_echo"], ConnectionLostError)
    assert not isinstance(outcomes["h/append_journal"], ConnectionLostError)


async def _answering(url: str) -> None:
    """Wait until the HTTP server at ``url`` answers (it takes a second or two to start)."""
    with anyio.fail_after(20):
        while True:
            try:
                async with httpx.AsyncClient() as client:
                    await client.get(url, timeout=0.5)
                return
            except httpx.TransportError:
                await anyio.sleep(0.1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card declined for order 429", (False, None)),
        ("no such file: /data/429.csv", (False, None)),
        ("storage quota exceeded", (False, None)),
        ("HTTP 429 Too Many Requests", (True, None)),
        ("rate-limited; retry after 250 ms", (True, 0.25)),
        ("Rate limit exceeded, Retry-After: 2", (True, 2.0)),
    ],
)
def test_only_unambiguous_wording_reads_as_a_rate_limit(
    text: str, expected: tuple[bool, float | None]
) -> None:
    assert rate_limit_of(text) == expected


async def test_a_number_in_a_tools_error_answer_does_not_make_it_a_rate_limit(
    tmp_path: Path,
) -> None:
    """A charge declined "for order 429" gets the tool's answer: run once, not three
    times as a refusal for load."""
    ledger = tmp_path / "ledger"
    async with McpServers(_specs({"f": faulty_server(ledger)}), policy=FAST) as servers:
        invoker = McpInvoker(servers)
        with pytest.raises(ToolAnswerError, match="card declined for order 429"):
            await invoker.invoke("f/charge_card", {"order": "429"})
        graph = ToolGraph(start="start", goal="done")
        graph.add_tool(invoker.skills["f/charge_card"], outputs=None)
        graph.add_edge("start", "f/charge_card", 0.0)
        graph.add_edge("f/charge_card", "done", 0.0)
        run = await Executor(graph, invoker).run({"order": "429"})
    assert run.outcome == "escalated" and run.retries == 0
    assert len(ledger_lines(ledger, "charge_card")) == 2  # the direct call and the run's one


async def test_a_tool_not_safe_to_repeat_is_not_retried_on_rate_limit_wording(
    tmp_path: Path,
) -> None:
    """Words are a guess: retried, a wrong one would move the money twice. A read-only tool
    saying the same is still a rate limit, from an isError answer or a JSON-RPC error."""
    ledger = tmp_path / "ledger"
    async with McpServers(_specs({"f": faulty_server(ledger)}), policy=FAST) as servers:
        invoker = McpInvoker(servers)
        graph = ToolGraph(start="start", goal="done")
        graph.add_tool(invoker.skills["f/limited_transfer"], outputs=None)
        graph.add_edge("start", "f/limited_transfer", 0.0)
        graph.add_edge("f/limited_transfer", "done", 0.0)
        run = await Executor(graph, invoker).run({"amount": "10"})
        with pytest.raises(RateLimitedError) as throttled:
            await invoker.invoke("f/throttled_quote", {"symbol": "X"})
    assert run.retries == 0 and len(ledger_lines(ledger, "limited_transfer")) == 1
    [fail] = [d for d in run.log if d.action == "fail"]
    assert fail.data["kind"] == "tool_error" and "rate limit exceeded" in fail.reason
    assert throttled.value.retry_after == pytest.approx(0.01)


async def test_executor_envelope_passes_the_run_inputs_as_arguments(tmp_path: Path) -> None:
    specs = _specs({"t": time_server()})
    async with McpServers(specs) as servers:
        result = await McpInvoker(servers, output="result").invoke(
            "t/get_current_time", {"inputs": {"timezone": "Asia/Tokyo"}, "upstream": {}}
        )
        content = await McpInvoker(servers).invoke("t/get_current_time", {"timezone": "UTC"})
    assert result.structured_content is not None
    assert result.structured_content["timezone"] == "Asia/Tokyo"
    assert content["timezone"] == "UTC"  # by default, the structured content itself


async def test_a_caller_passing_results_on_gets_a_tool_reported_error_as_the_tools_answer(
    tmp_path: Path,
) -> None:
    """With ``output="result"`` (the gateway's) an ``isError`` result is returned, not raised for
    the executor to retry, and not checked against the outputSchema a success would meet."""
    ledger = tmp_path / "ledger"
    specs = _specs({"f": faulty_server(ledger, "--fail-on", "lookup_record")})
    async with McpServers(specs, policy=FAST) as servers:
        invoker = McpInvoker(servers, output="result")
        assert invoker.skills["f/lookup_record"].outputs is not None  # the Record schema
        answer = await invoker.invoke("f/lookup_record", {"key": "a"})
        with pytest.raises(RateLimitedError):  # a refusal for load is no answer: still raised
            await invoker.invoke("f/limited_quote", {"symbol": "X"})
    assert answer.is_error
    assert "lookup_record failed on purpose" in "".join(b.text for b in answer.content)
    assert len(ledger_lines(ledger, "lookup_record")) == 1


class ManualClock:
    """A monotonic clock the test moves, so circuit timing does not depend on machine load."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_crashed_server_opens_its_circuit_then_restarts_after_backoff(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    clock = ManualClock()
    specs = _specs({"f": faulty_server(ledger, "--die-on", "lookup_record")})
    async with McpServers(specs, policy=FAST, clock=clock) as servers:
        invoker = McpInvoker(servers)
        connection = servers.connection("f")
        with pytest.raises(ConnectionLostError, match="may have taken effect"):
            await invoker.invoke("f/lookup_record", {"key": "a"})
        assert connection.state == "open circuit"
        with pytest.raises(CircuitOpenError, match=r"next restart in 0\.3 s"):
            await invoker.invoke("f/append_journal", {"text": "x"})
        assert ledger_lines(ledger, "append_journal") == []  # avoided, never sent
        clock.now += 0.3
        result = await invoker.invoke("f/append_journal", {"text": "x"})
        assert result == {"result": "appended 'x'"}
        assert connection.state == "up" and connection.starts == 2


async def test_sessions_are_reused_and_no_child_process_outlives_the_pool(tmp_path: Path) -> None:
    before = _children()
    specs = _specs({"a": time_server(), "b": faulty_server(tmp_path / "ledger")})
    async with McpServers(specs) as servers:
        during = _children() - before
        assert len(during) >= 2
        invoker = McpInvoker(servers)
        for _ in range(3):
            await invoker.invoke("a/get_current_time", {"timezone": "UTC"})
            await invoker.invoke("b/append_journal", {"text": "x"})
        assert _children() - before == during  # no new process: the sessions were reused
        assert [c.starts for c in servers] == [1, 1]
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in during
    )


def _open_file_bytes() -> int:
    """The size of the largest regular file this process holds open (deleted ones too)."""
    sizes = [0]
    for fd in os.listdir("/proc/self/fd"):
        try:
            info = os.stat(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            sizes.append(info.st_size)
    return max(sizes)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc/self/fd (Linux)")
async def test_a_chatty_servers_stderr_is_kept_as_a_bounded_tail_across_restarts(
    tmp_path: Path,
) -> None:
    """8 MB of debug logging on stderr: the server never blocks on a full pipe, nothing held
    grows with it, and the tail shows the latest lines, also after a restart."""
    clock = ManualClock()
    specs = _specs({"f": faulty_server(tmp_path / "ledger", "--die-on", "append_journal")})
    async with McpServers(specs, policy=FAST, clock=clock) as servers:
        invoker = McpInvoker(servers)
        connection = servers.connection("f")
        for tag in ("a", "b", "c", "d"):
            await invoker.invoke("f/chatter", {"lines": 9000, "tag": tag})
        with anyio.fail_after(5):
            while "chatter d done" not in connection.stderr_tail():
                await anyio.sleep(0.01)
        assert _open_file_bytes() < 1_000_000
        assert len(connection.stderr) <= connection.stderr.keep
        with pytest.raises(ConnectionLostError):
            await invoker.invoke("f/append_journal", {"text": "x"})
        clock.now += connection.circuit_remaining_s()
        await invoker.invoke("f/chatter", {"lines": 1, "tag": "e"})  # restarted
        with anyio.fail_after(5):
            while "chatter e done" not in connection.stderr_tail():
                await anyio.sleep(0.01)
        assert connection.starts == 2
        assert "chatter d done" in connection.stderr.text(connection.stderr.keep)  # kept


# -- idempotency-aware healing, in the one executor ---------------------------------------------


def _twins_graph(first: str, second: str, *, idempotent: bool) -> ToolGraph:
    graph = ToolGraph(start="start", goal="done")
    for tool, cost in ((first, 0.0), (second, 1.0)):
        graph.add_tool(tool, idempotent=idempotent)
        graph.add_edge("start", tool, cost)
        graph.add_edge(tool, "done", 0.0)
    return graph


async def test_non_idempotent_tool_is_not_repeated_after_a_lost_connection(tmp_path: Path) -> None:
    flaky, steady = tmp_path / "flaky", tmp_path / "steady"
    specs = _specs(
        {"a": faulty_server(flaky, "--die-on", "append_journal"), "b": faulty_server(steady)}
    )
    async with McpServers(specs, policy=FAST) as servers:
        invoker = McpInvoker(servers)
        skills = invoker.skills
        graph = ToolGraph(start="start", goal="done")
        for tool, cost in (("a/append_journal", 0.0), ("b/append_journal", 1.0)):
            graph.add_tool(skills[tool], outputs=None)
            graph.add_edge("start", tool, cost)
            graph.add_edge(tool, "done", 0.0)
        run = await Executor(graph, invoker).run({"text": "pay invoice 7"})
    assert run.outcome == "escalated"
    assert len(ledger_lines(flaky, "append_journal")) == 1
    assert ledger_lines(steady) == []  # not rerouted to the twin either
    escalation = next(d for d in run.log if d.action == "escalate")
    assert escalation.tool == "a/append_journal"
    assert "may already have taken effect" in escalation.reason
    assert escalation.data["may_have_taken_effect"] is True
    assert run.retries == 0 and run.reroutes == 0


async def test_ambiguous_timeout_of_a_non_idempotent_tool_is_not_retried() -> None:
    calls: list[str] = []

    async def hang(arguments: Mapping[str, Any]) -> str:
        calls.append("hang")
        await anyio.sleep(5)
        return "late"

    graph = ToolGraph(start="start", goal="done")
    graph.add_tool("transfer", idempotent=False, timeout_s=0.05)
    graph.add_edge("start", "transfer", 0.0)
    graph.add_edge("transfer", "done", 0.0)
    run = await Executor(graph, CallableInvoker({"transfer": hang})).run()
    assert calls == ["hang"]
    assert run.outcome == "escalated" and run.retries == 0
    assert "may already have taken effect" in run.log.entries[-1].reason


async def test_ambiguous_timeout_of_an_idempotent_tool_is_retried_then_rerouted() -> None:
    calls: list[str] = []

    async def hang(arguments: Mapping[str, Any]) -> str:
        calls.append("hang")
        await anyio.sleep(5)
        return "late"

    async def answer(arguments: Mapping[str, Any]) -> str:
        calls.append("answer")
        return "ok"

    graph = _twins_graph("a", "b", idempotent=True)
    graph.add_tool("a", idempotent=True, timeout_s=0.05)
    policy = load_policy()
    run = await Executor(graph, CallableInvoker({"a": hang, "b": answer}), policy=policy).run(
        log=DecisionLog()
    )
    assert run.outcome == "completed" and run.path == ["b"]
    assert calls == ["hang"] * policy.execution.retry.max_attempts + ["answer"]


async def test_failed_restarts_back_off_doubling_up_to_the_cap() -> None:
    policy = McpPolicy(restart=RestartPolicy(initial_s=0.5, max_s=1.5))
    clock = ManualClock()
    specs = _specs({"broken": broken_server()})
    async with McpServers(specs, policy=policy, clock=clock) as servers:
        connection = servers.connection("broken")
        assert "broken" in servers.failures
        backoffs = [connection.breaker.reset_timeout]
        for _ in range(3):
            clock.now += connection.circuit_remaining_s()
            with pytest.raises(ToolUnavailableError, match="fatal: no API key set"):
                await McpInvoker(servers).invoke("broken/anything", {})
            backoffs.append(connection.breaker.reset_timeout)
        with pytest.raises(CircuitOpenError):
            await McpInvoker(servers).invoke("broken/anything", {})
    assert backoffs == [0.5, 1.0, 1.5, 1.5]
    assert connection.starts == 4


async def test_an_orchestrator_run_over_mcp_tools_starts_only_with_their_required_arguments(
    tmp_path: Path,
) -> None:
    from orchestrator import Orchestrator

    ledger = tmp_path / "ledger"
    async with McpServers(_specs({"f": faulty_server(ledger)}), policy=FAST) as servers:
        orchestrator = Orchestrator(servers.skills(), index_dir=tmp_path / "index")
        invoker = McpInvoker(servers)
        task = "append a line to the journal"
        unstarted = await orchestrator.run(task, tools=invoker)
        assert unstarted.plan.ids[-1] == "f/append_journal"
        # Known from the tool's inputSchema before any call: nothing reached the server.
        assert unstarted.outcome == "escalated" and ledger_lines(ledger) == []
        [decision] = unstarted.log.entries
        assert "not started" in decision.reason and "['text']" in decision.reason
        done = await orchestrator.run(task, tools=invoker, inputs={"text": "hello"})
        assert done.outcome == "completed" and done.path[-1] == "f/append_journal"
        assert ledger_lines(ledger)[-1] == 'append_journal\t{"text": "hello"}'
        # The step's output is the tool's structured content, checked against its outputSchema.
        assert done.outputs["f/append_journal"] == {"result": "appended 'hello'"}


async def test_a_tools_error_answer_in_a_run_is_not_retried_nor_held_against_it(
    tmp_path: Path,
) -> None:
    from orchestrator import Orchestrator

    ledger = tmp_path / "ledger"
    specs = _specs({"f": faulty_server(ledger, "--fail-on", "append_journal")})
    async with McpServers(specs, policy=FAST) as servers:
        orchestrator = Orchestrator(servers.skills(), index_dir=tmp_path / "index")
        invoker = McpInvoker(servers)
        for _ in range(6):  # more than the breaker's five failures
            run = await orchestrator.run(
                "append a line to the journal", tools=invoker, inputs={"text": "hi"}
            )
            [fail] = [d for d in run.log if d.action == "fail"]
            assert fail.data["kind"] == "tool_error" and run.log.count("retry") == 0
    # It reached the server once per run (its own answer), and the server is not "down".
    assert len(ledger_lines(ledger, "append_journal")) == 6
    assert orchestrator.breakers["f/append_journal"].state == "closed"
    assert orchestrator.stats["f/append_journal"].failures == 0


async def test_an_orchestrator_over_an_mcp_config_starts_its_servers_to_run_a_task(
    tmp_path: Path,
) -> None:
    from mcp_servers import write_config

    from orchestrator import Orchestrator

    ledger = tmp_path / "ledger"
    config = write_config(tmp_path / "servers.json", {"f": faulty_server(ledger)})
    orchestrator = Orchestrator(config, index_dir=tmp_path / "index")
    done = await orchestrator.run("append a line to the journal", inputs={"text": "hello"})
    assert done.outcome == "completed" and done.path[-1] == "f/append_journal"
    assert ledger_lines(ledger)[-1] == 'append_journal\t{"text": "hello"}'  # the server ran it
    # A function given for one of its tools replaces that tool; the servers serve the rest.
    calls: list[str] = []

    def append_journal(text: str) -> dict[str, str]:
        calls.append(text)
        return {"result": "kept locally"}

    local = await orchestrator.run(
        "append a line to the journal",
        inputs={"text": "again"},
        tools={"f/append_journal": append_journal},
    )
    assert local.outputs["f/append_journal"] == {"result": "kept locally"} and calls == ["again"]
    assert ledger_lines(ledger)[-1] == 'append_journal\t{"text": "hello"}'
