"""The executor: retries, reroutes without re-running, breakers, monitors, escalation, the log."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import yaml

from orchestrator.errors import (
    EscalationError,
    LLMError,
    RateLimitedError,
    ToolArgumentError,
    ToolCallError,
    ToolUnavailableError,
)
from orchestrator.execution import (
    STATE_CLOSED,
    STATE_HALF_OPEN,
    STATE_OPEN,
    CallableInvoker,
    CircuitBreaker,
    Decision,
    DecisionLog,
    Demote,
    EscalationDecision,
    EscalationRequest,
    ExecutionPolicy,
    Executor,
    GiveUp,
    LLMEscalation,
    OpenAICompatibleClient,
    ScriptedEscalation,
    silent_failures,
)
from orchestrator.graph import (
    Fallback,
    GraphPolicy,
    ToolGraph,
    ToolStats,
    graph_from_definition,
    load_graph,
)
from orchestrator.policy import Policy

pytestmark = pytest.mark.anyio

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"


def fast_policy(**execution: Any) -> Policy:
    base = Policy().model_dump()
    base["execution"]["retry"].update({"initial_s": 0.001, "max_s": 0.01, "jitter_s": 0.001})
    base["execution"].update(execution)
    return Policy.model_validate(base)


class Calls:
    """Python callables that count their calls; behaviour per tool is a list of outcomes."""

    def __init__(self, script: Mapping[str, list[Any]] | None = None) -> None:
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.count: Counter[str] = Counter()

    def tool(self, name: str) -> Any:
        async def call(arguments: Mapping[str, Any]) -> Any:
            self.count[name] += 1
            queue = self.script.get(name)
            step = queue.pop(0) if queue else {"tool": name, "refund_id": f"r-{name}"}
            if isinstance(step, BaseException):
                raise step
            if isinstance(step, float):
                await anyio.sleep(step)
                return {"tool": name, "refund_id": "slow"}
            return step

        return call

    def invoker(self, graph: ToolGraph) -> CallableInvoker:
        return CallableInvoker({t: self.tool(t) for t in graph.tools()})


def support() -> ToolGraph:
    return load_graph(GRAPHS / "customer_support.yaml")


def down(name: str) -> ToolUnavailableError:
    return ToolUnavailableError("connection refused", tool=name)


def actions(result_log: DecisionLog) -> list[tuple[str, str]]:
    return [(d.action, d.tool) for d in result_log]


async def test_happy_path_runs_the_cheapest_route_once() -> None:
    g = support()
    calls = Calls()
    result = await Executor(g, calls.invoker(g), policy=fast_policy()).run()
    assert result.outcome == "completed"
    assert result.path == ["CRM", "Stripe", "Email"]
    assert actions(result.log)[-1] == ("complete", "Complete")
    assert result.llm_calls == 0


async def test_down_tool_is_rerouted_around_without_rerunning_completed_steps() -> None:
    g = support()
    calls = Calls({"Stripe": [down("Stripe")] * 5})
    result = await Executor(g, calls.invoker(g), policy=fast_policy()).run()
    assert result.outcome == "completed"
    assert result.path == ["CRM", "Razorpay", "Email"]
    assert calls.count["CRM"] == 1
    assert calls.count["Stripe"] == 1  # down is not transient: no retry
    assert ("reroute", "Stripe") in actions(result.log)
    assert result.silent_failures() == []


async def test_log_listeners_see_each_decision_live_with_its_structured_data() -> None:
    g = support()
    calls = Calls({"Stripe": [down("Stripe")]})
    log = DecisionLog()
    seen: list[Decision] = []
    log.subscribe(seen.append)
    result = await Executor(g, calls.invoker(g), policy=fast_policy()).run(log=log)
    assert seen == log.entries
    fail = next(d for d in seen if d.action == "fail")
    assert fail.data["kind"] == "down" and fail.data["duration_ms"] >= 0
    reroute = next(d for d in seen if d.action == "reroute")
    assert reroute.data["path"] == ["CRM", "Razorpay", "Email", "Complete"]
    assert result.to_dict()["decisions"][0]["data"]["duration_ms"] >= 0


async def test_transient_error_is_retried_with_backoff_and_then_succeeds() -> None:
    g = support()
    calls = Calls({"Stripe": [ToolCallError("503"), ToolCallError("503")]})
    result = await Executor(g, calls.invoker(g), policy=fast_policy()).run()
    assert result.path == ["CRM", "Stripe", "Email"]
    assert result.retries == 2
    assert result.reroutes == 0
    assert calls.count["Stripe"] == 3


async def test_retries_are_bounded_then_the_step_is_rerouted() -> None:
    g = support()
    calls = Calls({"Stripe": [ToolCallError("500")] * 10})
    result = await Executor(g, calls.invoker(g), policy=fast_policy()).run()
    assert calls.count["Stripe"] == 3
    assert result.retries == 2
    assert result.path == ["CRM", "Razorpay", "Email"]


async def test_retry_after_is_honoured() -> None:
    g = support()
    calls = Calls({"Stripe": [RateLimitedError("429", retry_after=0.15)]})
    started = time.perf_counter()
    result = await Executor(g, calls.invoker(g), policy=fast_policy()).run()
    assert time.perf_counter() - started >= 0.15
    assert result.path == ["CRM", "Stripe", "Email"]
    assert result.retries == 1


async def test_retry_after_beyond_the_cap_reroutes_instead_of_waiting() -> None:
    g = support()
    calls = Calls({"Stripe": [RateLimitedError("429", retry_after=600.0)]})
    result = await Executor(g, calls.invoker(g), policy=fast_policy()).run()
    assert result.retries == 0
    assert result.path == ["CRM", "Razorpay", "Email"]
    # The log says why it was not waited for: the wait asked had not been in it.
    [fail] = [d for d in result.log if d.action == "fail"]
    assert fail.reason == "rate_limited: 429 (retry after 600 s)"


async def test_step_timeout_cancels_a_hung_call() -> None:
    g = support()
    calls = Calls({"Stripe": [5.0, 5.0, 5.0]})
    started = time.perf_counter()
    result = await Executor(g, calls.invoker(g), policy=fast_policy(step_timeout_s=0.05)).run()
    assert time.perf_counter() - started < 2.0
    assert [d.reason.split(":")[0] for d in result.log if d.action == "fail"] == ["timeout"] * 3
    assert result.path == ["CRM", "Razorpay", "Email"]


async def test_sync_callable_runs_in_a_thread_and_can_time_out() -> None:
    g = support()

    def slow(arguments: Mapping[str, Any]) -> Any:
        time.sleep(0.3)
        return {"refund_id": "late"}

    def ok(arguments: Mapping[str, Any]) -> Any:
        return {"refund_id": "ok"}

    tools = {t: ok for t in g.tools()} | {"Stripe": slow}
    policy = fast_policy(step_timeout_s=0.05, retry={"max_attempts": 1})
    result = await Executor(g, CallableInvoker(tools), policy=policy).run()
    assert result.path == ["CRM", "Razorpay", "Email"]


async def test_a_sync_callable_abandoned_by_a_timeout_is_not_called_again_while_it_runs() -> None:
    g = support()
    running, most = 0, 0
    lock = threading.Lock()

    def slow(arguments: Mapping[str, Any]) -> Any:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.3)
        with lock:
            running -= 1
        return {"refund_id": "late"}

    def ok(arguments: Mapping[str, Any]) -> Any:
        return {"refund_id": "ok"}

    tools = {t: ok for t in g.tools()} | {"Stripe": slow}
    invoker = CallableInvoker(tools)
    executor = Executor(g, invoker, policy=fast_policy(step_timeout_s=0.05))
    result = await executor.run()
    fails = [d for d in result.log if d.action == "fail" and d.tool == "Stripe"]
    assert fails[0].reason.startswith("timeout")
    assert fails[1].reason.startswith("down: its earlier call, abandoned (a timeout, or no longer")
    assert fails[1].data["served"] is False  # the busy refusal is not held against the tool
    assert executor.stats["Stripe"].failures == 1  # the timeout alone
    assert result.path == ["CRM", "Razorpay", "Email"]
    assert most == 1  # never twice at once
    await anyio.sleep(0.4)  # the abandoned call ends: the function may be called again
    assert await invoker.invoke("Stripe", {}) == {"refund_id": "late"}


def test_a_script_whose_abandoned_tool_call_never_returns_still_exits(tmp_path: Path) -> None:
    script = tmp_path / "hung.py"
    script.write_text(
        "import threading, anyio\n"
        "from orchestrator.execution import CallableInvoker\n"
        "def hang(arguments):\n"
        "    threading.Event().wait()  # never returns\n"
        "async def main():\n"
        "    with anyio.move_on_after(0.1):\n"
        "        await CallableInvoker({'hang': hang}).invoke('hang', {})\n"
        "anyio.run(main)\n"
        "print('done')\n",
        encoding="utf-8",
    )
    # Before, the interpreter waited at exit for the abandoned worker thread: for ever.
    finished = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=30
    )
    assert finished.stdout == "done\n" and finished.returncode == 0


async def test_a_sync_call_cancelled_before_it_starts_is_never_made() -> None:
    calls: list[str] = []
    invoker = CallableInvoker({"charge": lambda arguments: calls.append("charged") or "ok"})
    with anyio.CancelScope() as scope:
        scope.cancel()
        await invoker.invoke("charge", {})
    assert calls == []
    assert await invoker.invoke("charge", {}) == "ok"  # nothing was left running
    assert calls == ["charged"]


def test_a_runs_part_of_a_shared_log_is_recorded_in_both_and_seen_by_both_listeners() -> None:
    log = DecisionLog()
    whole: list[Decision] = []
    log.subscribe(whole.append)
    log.record("execute", "earlier", "an earlier run's")
    part = log.since(1)
    own: list[Decision] = []
    part.subscribe(own.append)
    decision = part.record("escalate", "Stripe", "handed back")
    assert part.entries == [decision] and log.entries[-1] is decision
    assert whole[-1] is decision and own == [decision]


async def test_malformed_output_fails_validation_and_is_rerouted_not_retried() -> None:
    g = support()
    calls = Calls({"Stripe": [{"status": "weird"}]})
    result = await Executor(g, calls.invoker(g), policy=fast_policy()).run()
    fails = [d for d in result.log if d.action == "fail"]
    assert len(fails) == 1
    assert fails[0].reason.startswith("malformed:")
    assert "refund_id" in fails[0].reason
    assert result.path == ["CRM", "Razorpay", "Email"]


async def test_upstream_outputs_reach_a_join_step() -> None:
    g = load_graph(GRAPHS / "release_pipeline.yaml")
    seen: dict[str, Any] = {}

    def tool(name: str) -> Any:
        async def call(arguments: Mapping[str, Any]) -> Any:
            seen[name] = arguments
            return {"from": name}

        return call

    invoker = CallableInvoker({t: tool(t) for t in g.tools()})
    result = await Executor(g, invoker, policy=fast_policy()).run({"version": "1.2"})
    assert result.outcome == "completed"
    assert set(seen["Package"]["upstream"]) == {"Build", "Docs"}
    assert seen["Package"]["inputs"] == {"version": "1.2"}


async def test_once_the_goal_is_reached_steps_still_running_are_cancelled_not_awaited() -> None:
    g = load_graph(GRAPHS / "research_fanout.yaml")
    calls = Calls({"Exa": [1000.0]})  # hangs; the quorum of two is reached without it
    started = time.perf_counter()
    result = await Executor(g, calls.invoker(g), policy=fast_policy(step_timeout_s=60)).run()
    assert time.perf_counter() - started < 2.0
    assert result.outcome == "completed" and "Exa" not in result.path
    cancel, complete = [(d.action, d.tool) for d in result.log][-2:]
    assert cancel == ("cancel", "Exa") and complete == ("complete", "Answered")
    assert calls.count["Exa"] == 1 and not result.silent_failures()


async def test_a_straggler_not_safe_to_repeat_is_let_finish_when_the_goal_is_reached() -> None:
    definition = yaml.safe_load((GRAPHS / "research_fanout.yaml").read_text())
    definition["nodes"]["Exa"]["idempotent"] = False  # stopped mid-call, it may half-happen
    g = graph_from_definition(definition)
    calls = Calls({"Exa": [0.5]})
    result = await Executor(g, calls.invoker(g), policy=fast_policy()).run()
    assert result.outcome == "completed" and "Exa" in result.path
    assert result.log.count("cancel") == 0


@pytest.mark.parametrize(
    ("error", "kind", "calls"),
    [
        (LLMError("HTTP 429", status=429, retry_after=0.0), "rate_limited", 3),
        (LLMError("HTTP 401: bad key", status=401), "tool_error", 1),
        (LLMError("HTTP 503", status=503), "rate_limited", 3),
        (LLMError("HTTP 529: overloaded_error", status=529), "rate_limited", 3),
        (LLMError("HTTP 500", status=500), "error", 3),
        (LLMError("no answer within 1 s", timed_out=True), "timeout", 1),  # not safe to repeat
        (LLMError("ConnectError", unreachable=True), "down", 1),
    ],
)
async def test_a_step_whose_llm_call_fails_fails_as_that_call_did(
    error: LLMError, kind: str, calls: int
) -> None:
    """All had been a generic, retried error: a 401 sent three times, a 429 retried after 20 ms
    whatever its Retry-After, a timed-out request not safe to repeat sent again."""
    g = ToolGraph(start="S", goal="G")
    g.add_tool("Draft", idempotent=False)
    g.add_edge("S", "Draft")
    g.add_edge("Draft", "G", 0.0)
    sent = Counter[str]()

    async def draft(arguments: Mapping[str, Any]) -> Any:
        sent["Draft"] += 1
        raise error

    result = await Executor(g, CallableInvoker({"Draft": draft}), policy=fast_policy()).run()
    [first, *_] = [d for d in result.log if d.action == "fail"]
    assert first.data["kind"] == kind
    assert sent["Draft"] == calls
    assert result.outcome == "escalated" and not result.silent_failures()


async def test_a_straggler_failing_after_the_goal_is_reached_is_not_tried_again() -> None:
    """It was retried twice more, for a result the run no longer needed."""
    definition = yaml.safe_load((GRAPHS / "research_fanout.yaml").read_text())
    definition["nodes"]["Exa"]["idempotent"] = False
    g = graph_from_definition(definition)
    calls = Calls()
    tools = {t: calls.tool(t) for t in g.tools()}

    async def slow_then_error(arguments: Mapping[str, Any]) -> Any:
        calls.count["Exa"] += 1
        await anyio.sleep(0.3)
        raise ToolCallError("search backend error", tool="Exa")

    tools["Exa"] = slow_then_error
    result = await Executor(g, CallableInvoker(tools), policy=fast_policy()).run()
    assert result.outcome == "completed" and "Exa" not in result.path
    assert calls.count["Exa"] == 1 and result.log.count("retry") == 0
    assert not result.silent_failures()


async def test_a_straggler_that_may_have_taken_effect_after_the_goal_is_handed_back() -> None:
    definition = yaml.safe_load((GRAPHS / "research_fanout.yaml").read_text())
    definition["nodes"]["Exa"]["idempotent"] = False
    g = graph_from_definition(definition)
    calls = Calls({"Exa": [5.0]})  # times out after the goal is reached: did it search?
    policy = fast_policy(step_timeout_s=0.3)
    result = await Executor(g, calls.invoker(g), policy=policy).run()
    assert result.outcome == "completed" and "Summarise" in result.outputs
    escalate = next(d for d in result.log if d.action == "escalate")
    assert escalate.tool == "Exa" and escalate.data["may_have_taken_effect"] is True
    assert "Answered was reached without it" in escalate.reason
    assert calls.count["Exa"] == 1 and not result.silent_failures()


async def test_fan_out_branches_run_concurrently() -> None:
    g = load_graph(GRAPHS / "research_fanout.yaml")
    calls = Calls({t: [0.1] for t in ("Bing", "Brave", "Tavily", "Exa")})
    started = time.perf_counter()
    result = await Executor(g, calls.invoker(g), policy=fast_policy()).run()
    assert time.perf_counter() - started < 0.3  # four 0.1 s branches, not 0.4 s in a row
    assert result.outcome == "completed"


async def test_a_slow_branch_does_not_delay_the_dependent_of_a_fast_branch() -> None:
    # Slow answers only once FastNext has started; scheduling in waves would hold FastNext back
    # until Slow finished, so Slow would time out instead.
    g = ToolGraph(start="Start", goal="Done")
    g.add_tool("Slow", timeout_s=1.0)
    g.add_state("Joined", join="all")
    for source, target in [
        ("Start", "Slow"),
        ("Start", "Fast"),
        ("Fast", "FastNext"),
        ("Slow", "Joined"),
        ("FastNext", "Joined"),
        ("Joined", "Done"),
    ]:
        g.add_edge(source, target, 1.0)
    fast_next_started = anyio.Event()
    order: list[str] = []

    async def slow(arguments: Mapping[str, Any]) -> Any:
        await fast_next_started.wait()
        order.append("Slow")
        return {}

    async def fast(arguments: Mapping[str, Any]) -> Any:
        order.append("Fast")
        return {}

    async def fast_next(arguments: Mapping[str, Any]) -> Any:
        fast_next_started.set()
        order.append("FastNext")
        return {}

    invoker = CallableInvoker({"Slow": slow, "Fast": fast, "FastNext": fast_next})
    result = await Executor(g, invoker, policy=fast_policy()).run()
    assert result.outcome == "completed"
    assert order == ["Fast", "FastNext", "Slow"]
    assert result.path == ["Fast", "FastNext", "Slow"]
    assert [d.action for d in result.log if d.action == "fail"] == []


async def test_quorum_survives_failed_branches_and_logs_each() -> None:
    g = load_graph(GRAPHS / "research_fanout.yaml")
    calls = Calls({"Bing": [down("Bing")], "Exa": [down("Exa")]})
    result = await Executor(g, calls.invoker(g), policy=fast_policy()).run()
    assert result.outcome == "completed"
    assert {"Brave", "Tavily", "Summarise"} <= set(result.path)
    assert {d.tool for d in result.log if d.action == "reroute"} == {"Bing", "Exa"}
    assert result.silent_failures() == []


async def test_no_path_demotes_to_the_declared_fallback() -> None:
    g = support()
    calls = Calls({"Stripe": [down("Stripe")], "Razorpay": [down("Razorpay")]})
    escalation = ScriptedEscalation()
    result = await Executor(g, calls.invoker(g), policy=fast_policy(), escalation=escalation).run()
    assert result.outcome == "demoted"
    assert result.goal == "RefundTicketed"
    assert result.path == ["CRM", "ManualTicket"]
    assert result.llm_calls == escalation.calls == 1
    assert ("demote", "RefundTicketed") in actions(result.log)
    assert calls.count["CRM"] == 1


async def test_no_path_without_a_handler_escalates_explicitly() -> None:
    g = support()
    calls = Calls({"Stripe": [down("Stripe")], "Razorpay": [down("Razorpay")]})
    result = await Executor(g, calls.invoker(g), policy=fast_policy()).run()
    assert result.outcome == "escalated"
    assert result.log.entries[-1].action == "escalate"
    assert result.silent_failures() == []


async def test_handler_giving_up_ends_escalated_and_nonsense_ends_failed() -> None:
    g = support()
    script = {"Stripe": [down("Stripe")], "Razorpay": [down("Razorpay")]}
    gave_up = await Executor(
        g,
        Calls(script).invoker(g),
        policy=fast_policy(),
        escalation=ScriptedEscalation([GiveUp("no")]),
    ).run()
    assert gave_up.outcome == "escalated"
    nonsense = await Executor(
        g,
        Calls(script).invoker(g),
        policy=fast_policy(),
        escalation=ScriptedEscalation([Demote("Nowhere")]),
    ).run()
    assert nonsense.outcome == "failed"
    assert "Nowhere" in nonsense.log.entries[-1].reason


async def test_llm_escalation_over_an_openai_compatible_endpoint() -> None:
    asked: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(json.loads(request.content))
        answer = {"action": "demote", "fallback": "RefundTicketed", "reason": "providers down"}
        return httpx.Response(200, json={"choices": [{"message": {"content": json.dumps(answer)}}]})

    client = OpenAICompatibleClient(
        "http://llm.local/v1", "small", transport=httpx.MockTransport(handler)
    )
    g = support()
    calls = Calls({"Stripe": [down("Stripe")], "Razorpay": [down("Razorpay")]})
    escalation = LLMEscalation(client)
    result = await Executor(g, calls.invoker(g), policy=fast_policy(), escalation=escalation).run()
    assert result.outcome == "demoted"
    assert client.calls == result.llm_calls == 1
    assert asked[0]["model"] == "small"
    assert "RefundTicketed" in asked[0]["messages"][1]["content"]


@pytest.mark.parametrize("refusal", [429, 500, 400])
async def test_an_escalations_model_refusing_for_load_or_failing_is_asked_again(
    refusal: int,
) -> None:
    """A one-second rate limit on the escalation's one call had ended the run failed, while
    a step's call waits it out; a 400 (the request itself is refused) is not asked again."""
    asked: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        if len(asked) == 1:
            return httpx.Response(refusal, headers={"Retry-After": "0.05"}, json={"error": "x"})
        answer = {"action": "demote", "fallback": "RefundTicketed", "reason": "providers down"}
        return httpx.Response(200, json={"choices": [{"message": {"content": json.dumps(answer)}}]})

    client = OpenAICompatibleClient("http://llm/v1", "m", transport=httpx.MockTransport(handler))
    g = support()
    calls = Calls({"Stripe": [down("Stripe")], "Razorpay": [down("Razorpay")]})
    escalation = LLMEscalation(client)
    result = await Executor(g, calls.invoker(g), policy=fast_policy(), escalation=escalation).run()
    if refusal == 400:
        assert result.outcome == "failed" and len(asked) == 1 and result.llm_calls == 1
        return
    assert result.outcome == "demoted" and len(asked) == 2
    assert client.calls == result.llm_calls == 2
    [retry] = [d for d in result.log if d.action == "retry"]
    assert retry.reason.startswith("escalation: ") and f"HTTP {refusal}" in retry.reason
    if refusal == 429:
        assert retry.data["delay_ms"] >= 50.0  # its Retry-After
    # An LLM call asked again, not a tool's retry: the run's retries count tools only.
    assert retry.data["escalation"] is True and result.retries == 0
    assert result.silent_failures() == []
    # A policy that retries nothing transient does not ask again either.
    asked.clear()
    calls = Calls({"Stripe": [down("Stripe")], "Razorpay": [down("Razorpay")]})
    strict = fast_policy().model_copy(deep=True)
    none_transient = strict.execution.retry.model_copy(update={"transient": ()})
    strict = strict.model_copy(
        update={"execution": strict.execution.model_copy(update={"retry": none_transient})}
    )
    failed = await Executor(g, calls.invoker(g), policy=strict, escalation=escalation).run()
    assert failed.outcome == "failed" and len(asked) == 1


async def test_an_escalations_model_is_asked_again_after_a_jittered_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its backoff had no jitter, unlike a step's retries: runs refused together by one
    provider all came back at the same instant."""
    asked: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        if len(asked) == 1:
            return httpx.Response(500, json={"error": "x"})
        answer = {"action": "demote", "fallback": "RefundTicketed", "reason": "providers down"}
        return httpx.Response(200, json={"choices": [{"message": {"content": json.dumps(answer)}}]})

    monkeypatch.setattr(random, "uniform", lambda low, high: high)  # the most jitter
    base = Policy().model_dump()
    base["execution"]["retry"].update({"initial_s": 0.001, "max_s": 1.0, "jitter_s": 0.04})
    policy = Policy.model_validate(base)
    client = OpenAICompatibleClient("http://llm/v1", "m", transport=httpx.MockTransport(handler))
    g = support()
    calls = Calls({"Stripe": [down("Stripe")], "Razorpay": [down("Razorpay")]})
    escalation = LLMEscalation(client)
    result = await Executor(g, calls.invoker(g), policy=policy, escalation=escalation).run()
    [retry] = [d for d in result.log if d.action == "retry"]
    assert result.outcome == "demoted" and retry.data["delay_ms"] == pytest.approx(41.0)


async def test_no_model_is_asked_when_giving_up_is_the_only_answer() -> None:
    """No input to ask for and no fallback goal: the model could only say "give up". Asking
    cost a paid call, and a failed one (here every call is a 500) ended the run failed."""
    sent: list[httpx.Request] = []

    def broken(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    client = OpenAICompatibleClient("http://x/v1", "m", transport=httpx.MockTransport(broken))
    g = two_ways()
    calls = Calls({"A": [down("A")], "B": [down("B")]})
    escalation = LLMEscalation(client)
    result = await Executor(g, calls.invoker(g), policy=fast_policy(), escalation=escalation).run()
    assert result.outcome == "escalated" and result.llm_calls == 0 and sent == []
    last = result.log.entries[-1]
    assert last.action == "escalate" and "nothing for the handler to decide" in last.reason
    assert result.silent_failures() == []


async def test_llm_escalation_rejects_an_unparseable_answer() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"choices": [{"message": {"content": "sure, demote!"}}]})

    client = OpenAICompatibleClient("http://x/v1", "m", transport=httpx.MockTransport(handler))
    request = EscalationRequest("g", "Complete", (), (), (), "no path")
    with pytest.raises(EscalationError, match="not JSON"):
        await LLMEscalation(client).escalate(request)


@pytest.mark.parametrize(
    "reply",
    [
        '<think>The user wants {"action": "give_up"}? No.</think>\n{"action": "demote", '
        '"fallback": "Logged"}',
        'Qwen3 template opened the block. So demote.</think>\n\n{"action": "demote", '
        '"fallback": "Logged"}',
        'Both providers are down [1], so:\n```json\n{"action": "demote", "fallback": '
        '"Logged"}\n```\nThat keeps the ticket.',
        'I choose {"action": "demote", "fallback": "Logged"}; to repeat: {"fallback": '
        '"Logged", "action": "demote"}',
    ],
)
async def test_llm_escalation_reads_the_one_json_decision_after_thinking_or_prose(
    reply: str,
) -> None:
    """A reply with a think block before the JSON (Qwen, DeepSeek), or prose before a fenced
    block, had always failed as "not JSON"."""
    assert await _escalate_answered(reply) == Demote("Logged")


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (
            'Either {"action": "give_up"} or {"action": "demote", "fallback": "Logged"}.',
            r"escalation answer holds 2 different JSON values \(\{\"action\": \"give_up\"\}, ",
        ),
        (
            '```json\n{"action": "give_up"}\n```\nor\n```json\n{"action": "demote"}\n```',
            "escalation answer holds 2 different JSON values",
        ),
        ("<think>still weighing {the options", "escalation answer is not JSON"),
    ],
)
async def test_llm_escalation_refuses_a_reply_with_no_single_json_decision(
    reply: str, said: str
) -> None:
    with pytest.raises(EscalationError, match=said):
        await _escalate_answered(reply)


async def _escalate_answered(reply: str) -> EscalationDecision:
    """An LLM escalation, offered one fallback, whose model answers ``reply``."""
    answer = {"choices": [{"message": {"content": reply}}]}
    client = OpenAICompatibleClient(
        "http://x/v1",
        "m",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=answer)),
    )
    request = EscalationRequest(
        "g", "Complete", (), (), (Fallback("Logged", "log it for later"),), "no path"
    )
    return await LLMEscalation(client).escalate(request)


async def test_http_errors_become_escalation_errors() -> None:
    client = OpenAICompatibleClient(
        "http://x/v1", "m", transport=httpx.MockTransport(lambda r: httpx.Response(500))
    )
    with pytest.raises(EscalationError, match="chat completion failed"):
        await client.complete([{"role": "user", "content": "hi"}])


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_fail_max_and_half_opens_after_reset() -> None:
    clock = Clock()
    breaker = CircuitBreaker(fail_max=5, reset_timeout=60.0, clock=clock)
    for _ in range(4):
        breaker.record_failure()
    assert breaker.state == STATE_CLOSED
    breaker.record_failure()
    assert breaker.state == STATE_OPEN
    assert not breaker.allows_call()
    clock.now = 60.0
    assert breaker.state == STATE_HALF_OPEN
    breaker.record_failure()  # the trial call failed: open again
    assert breaker.state == STATE_OPEN
    clock.now = 120.0
    breaker.record_success()
    assert breaker.state == STATE_CLOSED


async def test_tool_with_open_breaker_is_avoided_before_it_is_called() -> None:
    g = support()
    calls = Calls({"Stripe": [down("Stripe")] * 10})
    clock = Clock()
    executor = Executor(g, calls.invoker(g), policy=fast_policy(), clock=clock)
    for _ in range(5):
        with pytest.raises(ToolUnavailableError):
            await executor.invoke_step("Stripe", {}, DecisionLog())
    assert executor.breakers["Stripe"].state == STATE_OPEN
    # Forget the learned failure rate so only the open breaker keeps Stripe off the route.
    executor.stats["Stripe"] = ToolStats.prior(g.node("Stripe"))
    before = calls.count["Stripe"]
    result = await executor.run()
    assert calls.count["Stripe"] == before
    assert result.path == ["CRM", "Razorpay", "Email"]
    assert [d.action for d in result.log if d.tool == "Stripe"] == ["reroute"]
    assert "known down" in next(d.reason for d in result.log if d.tool == "Stripe")


async def test_a_call_with_bad_arguments_is_not_retried_nor_held_against_the_tool() -> None:
    g = support()
    bad = ToolArgumentError("missing a required argument: 'amount'", tool="Stripe")
    calls = Calls({"Stripe": [bad] * 10})
    executor = Executor(g, calls.invoker(g), policy=fast_policy(), clock=Clock())
    before = executor.stats["Stripe"].failure_rate
    for _ in range(6):  # more than the breaker's fail_max
        with pytest.raises(ToolArgumentError):
            await executor.run_step("Stripe", {}, DecisionLog())
    assert calls.count["Stripe"] == 6  # one call each: no retry
    assert executor.breakers["Stripe"].state == STATE_CLOSED
    assert executor.stats["Stripe"].failure_rate == before


async def test_executors_sharing_tool_health_avoid_a_tool_another_one_broke() -> None:
    g = support()
    calls = Calls({"Stripe": [down("Stripe")] * 10})
    breakers: dict[str, CircuitBreaker] = {"Elsewhere": CircuitBreaker(5, 60.0)}
    stats: dict[str, ToolStats] = {}
    first = Executor(g, calls.invoker(g), policy=fast_policy(), breakers=breakers, stats=stats)
    for _ in range(5):
        with pytest.raises(ToolUnavailableError):
            await first.invoke_step("Stripe", {}, DecisionLog())
    second = Executor(g, calls.invoker(g), policy=fast_policy(), breakers=breakers, stats=stats)
    assert second.breakers["Stripe"] is breakers["Stripe"] is first.breakers["Stripe"]
    assert "Elsewhere" not in second.breakers  # only its own graph's tools
    before = calls.count["Stripe"]
    result = await second.run()
    assert calls.count["Stripe"] == before
    assert result.path == ["CRM", "Razorpay", "Email"]


async def test_a_tool_avoided_after_failures_is_tried_again_once_they_fade() -> None:
    g = support()
    # Stripe fails one run (down, then an error), then works again; nothing else calls it.
    calls = Calls({"Stripe": [ToolCallError("503")] * 3})
    clock = Clock()
    executor = Executor(g, calls.invoker(g), policy=fast_policy(), clock=clock)
    first = await executor.run()
    assert first.path == ["CRM", "Razorpay", "Email"]
    clock.now += 1.0
    second = await executor.run()
    assert second.path == ["CRM", "Razorpay", "Email"]  # its failures still weigh it down
    assert calls.count["Stripe"] == 3
    clock.now += 300.0  # five half-lives of the default policy
    third = await executor.run()
    assert third.path == ["CRM", "Stripe", "Email"]
    assert calls.count["Stripe"] == 4


async def test_without_a_recovery_half_life_failures_weigh_until_the_next_call() -> None:
    g = support()
    calls = Calls({"Stripe": [ToolCallError("503")] * 3})
    clock = Clock()
    policy = fast_policy().model_copy(update={"graph": GraphPolicy(recovery_half_life_s=None)})
    executor = Executor(g, calls.invoker(g), policy=policy, clock=clock)
    await executor.run()
    clock.now += 3600.0
    assert (await executor.run()).path == ["CRM", "Razorpay", "Email"]


class ProbingTools(CallableInvoker):
    def __init__(self, tools: Mapping[str, Any], healthy: set[str]) -> None:
        super().__init__(tools)
        self.healthy = healthy
        self.probes: list[str] = []

    async def probe(self, tool: str) -> bool:
        self.probes.append(tool)
        return tool in self.healthy


async def test_monitor_probe_closes_a_half_open_breaker_during_a_run() -> None:
    g = support()
    calls = Calls({"CRM": [0.2]})  # keep the run busy while the monitor ticks
    invoker = ProbingTools({t: calls.tool(t) for t in g.tools()}, healthy={"Stripe"})
    clock = Clock()
    policy = fast_policy(
        breaker={"fail_max": 1, "reset_timeout_s": 10.0}, monitors={"interval_s": 0.01}
    )
    executor = Executor(g, invoker, policy=policy, clock=clock)
    executor.breakers["Stripe"].record_failure()
    assert executor.breakers["Stripe"].state == STATE_OPEN
    clock.now = 10.0
    result = await executor.run()
    assert "Stripe" in invoker.probes
    assert executor.breakers["Stripe"].state == STATE_CLOSED
    assert result.path == ["CRM", "Stripe", "Email"]


class BrokenEscalation:
    async def escalate(self, request: EscalationRequest) -> EscalationDecision:
        raise RuntimeError("bug in the escalation handler")


async def test_a_handler_bug_is_raised_as_itself_while_monitors_run() -> None:
    g = support()
    # CRM is slow enough for the monitors to start; then both payment tools are down.
    calls = Calls({"CRM": [0.05], "Stripe": [down("Stripe")], "Razorpay": [down("Razorpay")]})
    policy = fast_policy(monitors={"interval_s": 0.01})
    executor = Executor(g, calls.invoker(g), policy=policy, escalation=BrokenEscalation())
    with pytest.raises(RuntimeError, match="bug in the escalation handler"):
        await executor.run()


class UnreachableEscalation:
    async def escalate(self, request: EscalationRequest) -> EscalationDecision:
        raise ConnectionRefusedError(111, "Connection refused")


async def test_an_unreachable_handler_ends_the_run_failed_with_the_reason_logged() -> None:
    g = support()
    calls = Calls({"Stripe": [down("Stripe")], "Razorpay": [down("Razorpay")]})
    executor = Executor(
        g, calls.invoker(g), policy=fast_policy(), escalation=UnreachableEscalation()
    )
    result = await executor.run()
    assert result.outcome == "failed"
    last = result.log.entries[-1]
    assert last.action == "escalate"
    assert "handler failed: ConnectionRefusedError: [Errno 111] Connection refused" in last.reason


async def test_monitors_report_rate_limit_pressure_and_latency_spikes() -> None:
    g = support()
    calls = Calls({"Stripe": [RateLimitedError("429", retry_after=0.001)] * 3})
    executor = Executor(g, calls.invoker(g), policy=fast_policy())
    result = await executor.run()
    kinds = {(c.kind, c.tool) for c in result.conditions}
    assert ("rate_limit_pressure", "Stripe") in kinds
    executor.stats["Email"].last_latency_ms = 10 * executor.stats["Email"].latency_ms
    assert ("latency_spike", "Email") in {(c.kind, c.tool) for c in executor.assess()}


def two_ways(**a_attributes: Any) -> ToolGraph:
    """Start -> A -> Done (cheaper) or Start -> B -> Done; both declared 1 ms."""
    g = ToolGraph(start="Start", goal="Done")
    g.add_tool("A", latency_ms=1.0, reliability=1.0, **a_attributes)
    g.add_tool("B", latency_ms=1.0, reliability=1.0)
    g.add_edge("Start", "A", 1.0)
    g.add_edge("Start", "B", 1.5)
    g.add_edge("A", "Done", 0.0)
    g.add_edge("B", "Done", 0.0)
    return g


async def test_latency_spike_is_logged_and_reweights_the_next_route() -> None:
    g = two_ways()
    calls = Calls({"A": [0.1]})  # 100 ms against a declared 1 ms
    base = fast_policy().model_dump()
    base["graph"]["latency_ref_ms"] = 10.0
    executor = Executor(g, calls.invoker(g), policy=Policy.model_validate(base))
    first = await executor.run()
    assert first.path == ["A"]
    spike = [d for d in first.log if d.action == "monitor"]
    assert [(d.tool, d.reason.split(":")[0]) for d in spike] == [("A", "latency_spike")]
    # Its one call is held against what it declared, not an "average" made of that and itself.
    assert "vs 1.0 ms declared" in spike[0].reason
    assert executor.weights().breakdown("Start", "A").latency_factor > 2.5
    second = await executor.run()
    assert second.path == ["B"]
    assert second.silent_failures() == []


async def test_a_sub_millisecond_call_of_a_tool_declared_at_0_ms_is_no_latency_spike() -> None:
    """Against a declared 0 ms, any call was a spike ("last call 0.1 ms vs 0.0 ms declared")."""
    g = ToolGraph(start="Start", goal="Done")
    g.add_tool("A", latency_ms=0.0, reliability=1.0)
    g.add_edge("Start", "A", 1.0)
    g.add_edge("A", "Done", 0.0)
    result = await Executor(g, Calls().invoker(g), policy=fast_policy()).run()
    assert result.outcome == "completed"
    assert [d for d in result.log if d.action == "monitor"] == []


async def test_rate_limit_pressure_is_logged_and_reweights_the_next_route() -> None:
    g = two_ways()
    calls = Calls({"A": [RateLimitedError("429", retry_after=0.001)] * 3})
    executor = Executor(g, calls.invoker(g), policy=fast_policy())
    first = await executor.run()
    assert first.path == ["B"]  # three refusals: retried, then rerouted
    pressure = [d for d in first.log if d.action == "monitor"]
    assert [(d.tool, d.reason.split(":")[0]) for d in pressure] == [("A", "rate_limit_pressure")]
    assert first.silent_failures() == []
    assert executor.weights().breakdown("Start", "A").pressure_factor > 3.0
    # A answers again and is not masked, but its pressure still makes B the cheaper route.
    second = await executor.run()
    assert second.path == ["B"]
    assert calls.count["A"] == 3


async def test_a_risky_tool_is_flagged_in_the_log_before_it_is_called() -> None:
    g = two_ways(risk=0.9)
    result = await Executor(g, Calls().invoker(g), policy=fast_policy()).run()
    assert actions(result.log) == [("monitor", "A"), ("execute", "A"), ("complete", "Done")]
    assert "declared risk 0.90" in result.log.entries[0].reason


def test_silent_failure_checker_flags_a_skipped_stage_only() -> None:
    def log(*entries: tuple[str, str]) -> list[Decision]:
        return [Decision(a, t, "", float(i)) for i, (a, t) in enumerate(entries)]  # type: ignore[arg-type]

    skipped = log(("fail", "Stripe"), ("execute", "Email"), ("complete", "Complete"))
    assert [d.tool for d in silent_failures(skipped)] == ["Stripe"]
    healed = log(("fail", "Stripe"), ("execute", "X"), ("reroute", "Stripe"), ("complete", "C"))
    assert silent_failures(healed) == []
    retried = log(("fail", "Stripe"), ("retry", "Stripe"), ("fail", "Stripe"), ("escalate", "C"))
    assert silent_failures(retried) == []
    observed = log(("fail", "A"), ("monitor", "A"), ("reroute", "A"), ("complete", "C"))
    assert silent_failures(observed) == []
    dangling = log(("execute", "A"), ("fail", "B"))
    assert [d.tool for d in silent_failures(dangling)] == ["B"]


def test_default_policy_file_matches_the_built_in_defaults() -> None:
    data = yaml.safe_load((GRAPHS.parent / "policies" / "default.yaml").read_text())
    assert GraphPolicy.model_validate(data["graph"]) == GraphPolicy()
    assert ExecutionPolicy.model_validate(data["execution"]) == ExecutionPolicy()
    assert ExecutionPolicy().breaker.fail_max == 5
    assert ExecutionPolicy().breaker.reset_timeout_s == 60.0


async def test_a_cancellation_raised_by_the_tool_itself_is_a_failure_rerouted_not_a_crash() -> None:
    """A tool awaiting a task something else cancelled let ``CancelledError`` out: the run
    crashed with an internal ``UnboundLocalError`` and logged nothing."""
    g = support()
    calls = Calls()

    async def stripe(arguments: Mapping[str, Any]) -> Any:
        shared = asyncio.create_task(asyncio.sleep(1))  # e.g. a shared connection's reader
        shared.cancel()
        return await shared

    tools = {t: calls.tool(t) for t in g.tools()} | {"Stripe": stripe}
    result = await Executor(g, CallableInvoker(tools), policy=fast_policy()).run()
    assert result.outcome == "completed" and result.path == ["CRM", "Razorpay", "Email"]
    fails = [d for d in result.log if d.action == "fail"]
    assert fails and all("cancellation nobody asked of this call" in d.reason for d in fails)
    assert ("reroute", "Stripe") in actions(result.log) and not result.silent_failures()


async def test_a_run_cancelled_from_outside_still_ends_cancelled_while_a_tool_runs() -> None:
    g = support()
    calls = Calls({"Stripe": [5.0]})
    with anyio.move_on_after(0.2) as scope:
        await Executor(g, calls.invoker(g), policy=fast_policy()).run()
    assert scope.cancelled_caught  # not turned into a failure of Stripe and a reroute
    assert calls.count["Razorpay"] == 0


async def test_a_tools_own_timeout_error_keeps_its_words_not_the_step_timeout() -> None:
    g = support()
    calls = Calls({"Stripe": [TimeoutError("upstream DB query exceeded 2 s")]})
    result = await Executor(g, calls.invoker(g), policy=fast_policy()).run()
    [fail] = [d for d in result.log if d.action == "fail"]
    assert fail.data["kind"] == "timeout"
    assert fail.reason == "timeout: TimeoutError: upstream DB query exceeded 2 s"


async def test_the_step_timeout_still_reads_as_no_answer_within_it() -> None:
    g = support()
    calls = Calls({"Stripe": [5.0]})
    result = await Executor(g, calls.invoker(g), policy=fast_policy(step_timeout_s=0.05)).run()
    fail = next(d for d in result.log if d.action == "fail")
    assert fail.reason == "timeout: no answer within 0.05 s"


@pytest.mark.parametrize("lost", [ConnectionResetError, ConnectionAbortedError, BrokenPipeError])
async def test_a_connection_broken_mid_call_is_never_repeated_on_a_tool_not_safe_to_repeat(
    lost: type[ConnectionError],
) -> None:
    """Python's own errors for a connection broken once made were "down": the refund was
    rerouted to the other provider although the first may have refunded already."""
    definition = yaml.safe_load((GRAPHS / "customer_support.yaml").read_text())
    definition["nodes"]["Stripe"]["idempotent"] = False  # a refund: not safe to repeat
    g = graph_from_definition(definition)
    calls = Calls({"Stripe": [lost("Connection reset by peer")]})
    result = await Executor(g, calls.invoker(g), policy=fast_policy()).run()
    assert result.outcome == "escalated"
    assert calls.count["Stripe"] == 1 and calls.count["Razorpay"] == 0
    escalate = next(d for d in result.log if d.action == "escalate")
    assert "may already have taken" in escalate.reason


def test_classify_reads_a_broken_connection_as_lost_mid_call_and_a_refused_one_as_down() -> None:
    """The scenario baselines classify raw exceptions too: they must agree with the executor."""
    from orchestrator.execution._failures import classify

    for lost in (ConnectionResetError(), ConnectionAbortedError(), BrokenPipeError()):
        assert classify(lost).ambiguous, type(lost).__name__
    refused = classify(ConnectionRefusedError("connection refused"))
    assert refused.kind == "down" and not refused.ambiguous


async def test_a_refused_connection_is_still_down_and_rerouted() -> None:
    g = support()
    calls = Calls({"Stripe": [ConnectionRefusedError("connection refused")]})
    result = await Executor(g, calls.invoker(g), policy=fast_policy()).run()
    assert result.outcome == "completed" and result.path == ["CRM", "Razorpay", "Email"]


def test_a_half_open_breaker_lets_one_trial_call_through_until_it_ends() -> None:
    clock = Clock()
    breaker = CircuitBreaker(fail_max=1, reset_timeout=10.0, clock=clock)
    breaker.record_failure()
    clock.now = 10.0
    assert breaker.allows_call() and breaker.begin_call()  # the trial
    assert not breaker.allows_call() and not breaker.begin_call()  # everyone else
    breaker.end_call()  # it ended recording nothing (a rate limit, a cancel)
    assert breaker.begin_call()
    breaker.record_success()
    breaker.end_call()
    assert breaker.state == STATE_CLOSED and breaker.begin_call() and breaker.begin_call()


async def test_concurrent_runs_send_a_half_open_tool_one_trial_call_not_one_each() -> None:
    """Every run sharing the breaker called the half-open tool at once (5 calls for 5 runs),
    where the breaker is there to let one call probe it."""
    g = support()
    clock = Clock()
    calls = Calls({"Stripe": [0.2]})
    breakers: dict[str, CircuitBreaker] = {}
    stats: dict[str, ToolStats] = {}

    def executor() -> Executor:
        policy = fast_policy(breaker={"fail_max": 1, "reset_timeout_s": 10.0})
        return Executor(
            g, calls.invoker(g), policy=policy, clock=clock, breakers=breakers, stats=stats
        )

    executor()  # makes the shared breakers
    breakers["Stripe"].open()
    clock.now = 10.0
    results = []

    async def run() -> None:
        results.append(await executor().run())

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(run)
    assert calls.count["Stripe"] == 1
    assert all(r.outcome == "completed" for r in results)
    assert sorted(tuple(r.path) for r in results).count(("CRM", "Stripe", "Email")) == 1


async def test_a_recovery_probe_that_raises_or_hangs_reads_unhealthy_not_a_crashed_run() -> None:
    """A probe raising failed the run beside it with an ExceptionGroup, its finished steps
    lost; one that hung held the monitors for ever."""
    definition = yaml.safe_load((GRAPHS / "customer_support.yaml").read_text())
    definition["nodes"]["CRM"]["timeout_ms"] = 5000  # the probes' bound is the step timeout
    g = graph_from_definition(definition)
    clock = Clock()

    class Probing(CallableInvoker):
        async def probe(self, tool: str) -> bool:
            if tool == "Razorpay":
                await anyio.sleep(60)
            raise ConnectionRefusedError("health endpoint down")

    calls = Calls({"CRM": [0.4]})  # slow enough for the monitors to probe both
    policy = fast_policy(step_timeout_s=0.1, monitors={"interval_s": 0.01})
    executor = Executor(
        g, Probing({t: calls.tool(t) for t in g.tools()}), policy=policy, clock=clock
    )
    executor.breakers["SMS"].open()
    executor.breakers["Razorpay"].open()
    clock.now = 1000.0  # both half-open
    result = await executor.run()
    assert result.outcome == "completed" and result.path == ["CRM", "Stripe", "Email"]
    assert executor.breakers["SMS"].state == STATE_OPEN  # the probe's failure re-opened it
    assert executor.breakers["Razorpay"].state == STATE_OPEN


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("its __str__ is broken")


@pytest.mark.parametrize(
    ("raised", "reason"),
    [(_Unprintable(), "error: _Unprintable"), (SystemExit(3), "error: SystemExit: 3")],
)
async def test_a_tool_raising_an_unprintable_error_or_exiting_is_a_failure_rerouted(
    raised: BaseException, reason: str
) -> None:
    """Both crashed the run: the first from inside its own failure handling (the message could
    not be made), the second as a BaseExceptionGroup that ended the whole process."""
    g = support()
    calls = Calls()

    def stripe(arguments: Mapping[str, Any]) -> Any:  # sync: run in a thread, as scripts are
        raise raised

    tools = {t: calls.tool(t) for t in g.tools()} | {"Stripe": stripe}
    result = await Executor(g, CallableInvoker(tools), policy=fast_policy()).run()
    assert result.outcome == "completed" and result.path == ["CRM", "Razorpay", "Email"]
    assert next(d for d in result.log if d.action == "fail").reason == reason
