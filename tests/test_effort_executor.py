"""The executor with an effort router: every step's effort is chosen, logged and passed on, and
a retried step runs at a strictly higher effort."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from orchestrator.effort import EffortPolicy, EffortPrior, EffortRouter, Step
from orchestrator.errors import RateLimitedError, ToolCallError
from orchestrator.execution import (
    CallableInvoker,
    CompositeInvoker,
    EffortInvoker,
    Executor,
    Reasoned,
)
from orchestrator.graph import ToolGraph
from orchestrator.llm import AnthropicClient, AnthropicEffort, LLMPolicy, OpenAICompatibleClient
from orchestrator.planning import BindingInvoker, TaskPlan
from orchestrator.policy import Policy

pytestmark = pytest.mark.anyio


def graph() -> ToolGraph:
    g = ToolGraph(start="Start", goal="Done")
    g.add_tool("fetch", description="Fetch the report.")
    g.add_tool("summarise", description="Summarise the report for the board.")
    g.add_edge("Start", "fetch")
    g.add_edge("fetch", "summarise")
    g.add_edge("summarise", "Done")
    return g


def fast_policy() -> Policy:
    base = Policy().model_dump()
    base["execution"]["retry"].update({"initial_s": 0.001, "max_s": 0.01, "jitter_s": 0.001})
    return Policy.model_validate(base)


class ThinkingTools:
    """An effort-aware invoker: ``summarise`` fails below the effort it needs."""

    def __init__(self, needs: str = "high") -> None:
        self.needs = needs
        self.calls: list[tuple[str, str | None]] = []

    async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        self.calls.append((tool, None))
        return {"tool": tool}

    async def invoke_with_effort(self, tool: str, arguments: Mapping[str, Any], effort: str) -> Any:
        self.calls.append((tool, effort))
        levels = ("low", "medium", "high")
        if tool == "summarise" and levels.index(effort) < levels.index(self.needs):
            raise ToolCallError(f"shallow answer at {effort}", tool=tool)
        return {"tool": tool, "effort": effort}


class AlwaysWrong(ThinkingTools):
    """``summarise`` is wrong at every effort."""

    async def invoke_with_effort(self, tool: str, arguments: Mapping[str, Any], effort: str) -> Any:
        self.calls.append((tool, effort))
        if tool == "summarise":
            raise ToolCallError("wrong at any effort", tool=tool)
        return {"tool": tool}


def router() -> EffortRouter:
    return EffortRouter(EffortPolicy(features="signals"))


async def test_each_step_runs_at_the_routers_effort_and_the_log_records_it() -> None:
    tools = ThinkingTools(needs="low")
    assert isinstance(tools, EffortInvoker)
    result = await Executor(graph(), tools, policy=fast_policy(), effort=router()).run()
    assert result.outcome == "completed"
    assert tools.calls == [("fetch", "low"), ("summarise", "low")]
    executed = [d for d in result.log if d.action == "execute"]
    assert [(d.tool, d.data["effort"]) for d in executed] == [
        ("fetch", "low"),
        ("summarise", "low"),
    ]


async def test_a_failed_step_is_retried_at_strictly_higher_effort() -> None:
    tools = ThinkingTools(needs="high")
    result = await Executor(graph(), tools, policy=fast_policy(), effort=router()).run()
    assert result.outcome == "completed"
    efforts = [e for t, e in tools.calls if t == "summarise"]
    ranks = [("low", "medium", "high").index(e) for e in efforts if e is not None]
    assert ranks == sorted(set(ranks)) and efforts[-1] == "high" and len(efforts) > 1
    retries = [d for d in result.log if d.action == "retry"]
    fails = [d for d in result.log if d.action == "fail"]
    assert [d.data["effort"] for d in retries] == efforts[1:]
    assert [d.data["effort"] for d in fails] == efforts[:-1]


async def test_no_retry_when_the_router_has_no_higher_effort_left() -> None:
    # The router goes straight to high (low and medium look hopeless), so a failure there is
    # not retried at the same effort: the step fails and the run has no other route.
    hopeless_low = EffortPrior(success={"low": 0.0, "medium": 0.0, "high": 0.9})
    straight_high = EffortRouter(EffortPolicy(features="signals", prior=hopeless_low))
    tools = AlwaysWrong()
    result = await Executor(graph(), tools, policy=fast_policy(), effort=straight_high).run()
    assert result.outcome == "escalated"
    assert [e for t, e in tools.calls if t == "summarise"] == ["high"]
    assert result.retries == 0


class RateLimitedOnce(ThinkingTools):
    """``summarise`` is refused once for now, at any effort."""

    async def invoke_with_effort(self, tool: str, arguments: Mapping[str, Any], effort: str) -> Any:
        self.calls.append((tool, effort))
        if tool == "summarise" and len(self.calls) == 2:
            raise RateLimitedError("429", tool=tool, retry_after=0.0)
        return {"tool": tool, "effort": effort}


async def test_a_rate_limited_step_is_retried_at_the_same_effort_even_at_the_top() -> None:
    """Thinking harder does not lift a rate limit: each retry had climbed an effort, and at the
    top effort a passing refusal was not retried at all."""
    hopeless_low = EffortPrior(success={"low": 0.0, "medium": 0.0, "high": 0.9})
    straight_high = EffortRouter(EffortPolicy(features="signals", prior=hopeless_low))
    tools = RateLimitedOnce()
    result = await Executor(graph(), tools, policy=fast_policy(), effort=straight_high).run()
    assert result.outcome == "completed"
    assert [e for t, e in tools.calls if t == "summarise"] == ["high", "high"]


class Drafting:
    """An effort-aware invoker whose ``summarise`` is a real LLM client's call."""

    def __init__(self, client: AnthropicClient | OpenAICompatibleClient) -> None:
        self.client = client

    async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        return {"tool": tool}

    async def invoke_with_effort(self, tool: str, arguments: Mapping[str, Any], effort: str) -> Any:
        if tool != "summarise":
            return {"tool": tool}
        answer = await self.client.chat([{"role": "user", "content": "Q3?"}], effort=effort)
        return Reasoned(answer.text, tokens=answer.usage.output_tokens)


def straight_high() -> EffortRouter:
    """A router whose plan starts at its top effort: low and medium are hopeless to it."""
    hopeless_low = EffortPrior(success={"low": 0.0, "medium": 0.0, "high": 0.9})
    return EffortRouter(EffortPolicy(features="signals", prior=hopeless_low))


OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
CHAT_OK = {"choices": [{"message": {"content": "fine"}}], "usage": {"completion_tokens": 9}}
MESSAGES_OK = {"content": [{"type": "text", "text": "fine"}], "usage": {"output_tokens": 9}}


@pytest.mark.parametrize("status", [503, 529])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_provider_overloaded_is_a_rate_limit_waited_for_and_retried_at_the_same_effort(
    status: int, provider: str
) -> None:
    """A 503 or Anthropic's 529 overloaded_error had been a generic error: retried after about
    26 ms though the server said ``Retry-After``, at a higher effort, or not at all when the
    step already ran at the top one."""
    sent: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        if len(sent) == 1:
            return httpx.Response(status, headers={"Retry-After": "0.3"}, json=OVERLOADED)
        return httpx.Response(200, json=CHAT_OK if provider == "openai" else MESSAGES_OK)

    transport = httpx.MockTransport(answer)
    client: AnthropicClient | OpenAICompatibleClient = (
        OpenAICompatibleClient("http://llm/v1", "o-mini", transport=transport)
        if provider == "openai"
        else AnthropicClient("claude-x", base_url="http://llm", transport=transport)
    )
    result = await Executor(
        graph(), Drafting(client), policy=fast_policy(), effort=straight_high()
    ).run()
    assert result.outcome == "completed" and result.outputs["summarise"] == "fine"
    [fail] = [d for d in result.log if d.action == "fail"]
    assert fail.data["kind"] == "rate_limited" and f"HTTP {status}" in fail.reason
    [retry] = [d for d in result.log if d.action == "retry"]
    assert retry.data["delay_ms"] >= 300.0 and retry.data["effort"] == "high"
    efforts = [b.get("reasoning_effort") or b["output_config"]["effort"] for b in sent]
    assert efforts == ["high", "high"]


async def test_an_effort_the_clients_policy_does_not_map_fails_the_step_once_unsent() -> None:
    """The mapping error had been a generic error: retried at the next effort up, as if more
    thinking could mend a policy, and counted as a call of the model each time."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=MESSAGES_OK)

    no_low = LLMPolicy(anthropic=AnthropicEffort(effort={"medium": "medium", "high": "high"}))
    client = AnthropicClient(
        "claude-x", base_url="http://llm", transport=httpx.MockTransport(answer), policy=no_low
    )
    tools = Drafting(client)
    executor = Executor(graph(), tools, policy=fast_policy(), effort=router())
    result = await executor.run()
    [fail] = [d for d in result.log if d.action == "fail"]
    assert fail.data.get("effort") == "low"
    assert "policy field llm.anthropic.effort: no mapping for effort 'low'" in fail.reason
    assert result.outcome == "escalated" and result.retries == 0
    assert sent == [] and client.calls == 0 and not result.silent_failures()
    # A configuration error, not the model's: its health and breaker are as they were.
    health = executor.stats["summarise"]
    assert (health.calls, health.failures) == (0, 0)
    assert executor.breakers["summarise"].state == "closed"


CUT = {
    "choices": [{"message": {"content": "The Q3 numb"}, "finish_reason": "length"}],
    "usage": {"completion_tokens": 4096},
}
REFUSED = {
    "choices": [{"message": {"content": None, "refusal": "I can't."}, "finish_reason": "stop"}],
    "usage": {"completion_tokens": 6},
}


class Observing(EffortRouter):
    def __init__(self, policy: EffortPolicy) -> None:
        super().__init__(policy)
        self.outcomes: list[tuple[str, bool, float]] = []

    def observe(self, step: Step, effort: str, success: bool, tokens: float) -> None:
        self.outcomes.append((effort, success, tokens))
        super().observe(step, effort, success, tokens)


def _chat_client(*answers: dict[str, Any]) -> tuple[OpenAICompatibleClient, list[dict[str, Any]]]:
    """A client whose calls get ``answers`` in turn (the last one again once they run out)."""
    sent: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=answers[min(len(sent), len(answers)) - 1])

    transport = httpx.MockTransport(answer)
    return OpenAICompatibleClient("http://llm/v1", "o-mini", transport=transport), sent


async def test_an_answer_cut_at_the_token_limit_is_retried_at_the_same_effort() -> None:
    """It was a generic error, retried one effort up: more reasoning spends more of the same
    limit before the answer, so the cut came sooner. Its tokens were not observed either."""
    client, sent = _chat_client(CUT, CHAT_OK)
    learning = Observing(EffortPolicy(features="signals"))
    result = await Executor(graph(), Drafting(client), policy=fast_policy(), effort=learning).run()
    assert result.outcome == "completed" and result.outputs["summarise"] == "fine"
    assert [b["reasoning_effort"] for b in sent] == ["low", "low"]
    [fail] = [d for d in result.log if d.action == "fail"]
    assert fail.data["kind"] == "error" and "cut at the token limit" in fail.reason
    [retry] = [d for d in result.log if d.action == "retry"]
    assert retry.data["effort"] == "low"
    assert ("low", False, 4096.0) in learning.outcomes


REASONED_AWAY = {
    "choices": [{"message": {"content": None}, "finish_reason": "length"}],
    "usage": {"completion_tokens": 4096, "completion_tokens_details": {"reasoning_tokens": 4096}},
}


async def test_an_answer_cut_before_any_text_is_retried_one_effort_lower() -> None:
    """The whole limit spent on reasoning, the same effort was asked again until the attempts
    ran out, spending it the same way each time; one lower leaves room for the answer."""
    client, sent = _chat_client(REASONED_AWAY, CHAT_OK)
    result = await Executor(
        graph(), Drafting(client), policy=fast_policy(), effort=straight_high()
    ).run()
    assert result.outcome == "completed" and result.outputs["summarise"] == "fine"
    assert [b["reasoning_effort"] for b in sent] == ["high", "medium"]
    [retry] = [d for d in result.log if d.action == "retry"]
    assert retry.data["effort"] == "medium"
    # At the lowest effort there is none lower: asked again at it.
    client, sent = _chat_client(REASONED_AWAY, CHAT_OK)
    result = await Executor(graph(), Drafting(client), policy=fast_policy(), effort=router()).run()
    assert result.outcome == "completed" and [b["reasoning_effort"] for b in sent] == ["low", "low"]


async def test_a_turn_the_model_paused_is_not_asked_again_at_a_higher_effort() -> None:
    """Anthropic's ``pause_turn`` was a generic error, sent again one effort up, where the
    turn paused the same way; the client cannot continue it, so the step is rerouted."""
    paused = {
        "content": [{"type": "text", "text": "Let me search"}],
        "stop_reason": "pause_turn",
        "usage": {"input_tokens": 5, "output_tokens": 9},
    }
    sent: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=paused)

    transport = httpx.MockTransport(answer)
    client = AnthropicClient("claude-x", base_url="http://llm", transport=transport)
    executor = Executor(graph(), Drafting(client), policy=fast_policy(), effort=router())
    result = await executor.run()
    assert len(sent) == 1 and result.retries == 0
    [fail] = [d for d in result.log if d.action == "fail"]
    assert fail.data["kind"] == "tool_error" and "paused its turn" in fail.reason
    assert fail.data["tokens"] == 9.0 and executor.stats["summarise"].failures == 0


async def test_a_refused_answer_is_not_asked_again_nor_blamed_on_the_model() -> None:
    """A refusal was a generic error: the same request was sent again at higher efforts, each
    declined, and the model's breaker counted it as failing."""
    client, sent = _chat_client(REFUSED)
    learning = Observing(EffortPolicy(features="signals"))
    executor = Executor(graph(), Drafting(client), policy=fast_policy(), effort=learning)
    result = await executor.run()
    assert len(sent) == 1 and result.retries == 0
    [fail] = [d for d in result.log if d.action == "fail"]
    assert fail.data["kind"] == "tool_error" and "the model refused: I can't." in fail.reason
    assert result.outcome == "escalated" and not result.silent_failures()
    assert executor.stats["summarise"].failures == 0
    # Its tokens are logged, but a refusal is given at any effort: nothing to learn of "low".
    assert fail.data["tokens"] == 6.0 and learning.outcomes == []


@pytest.mark.parametrize("failure", ["HTTP 500", "HTTP 502", "dropped"])
async def test_a_providers_server_error_is_retried_at_the_same_effort(failure: str) -> None:
    """A 500 (or a connection dropped mid-answer) was a generic error: retried one effort up as
    if the step had reasoned too little, and, when the router's plan started at its top
    effort, not retried at all, so one server hiccup ended the run escalated."""
    sent: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        if len(sent) > 1:
            return httpx.Response(200, json=CHAT_OK)
        if failure == "dropped":
            raise httpx.RemoteProtocolError("peer closed connection without a response")
        return httpx.Response(int(failure.split()[1]), json={"error": {"message": "oops"}})

    client = OpenAICompatibleClient(
        "http://llm/v1", "o-mini", transport=httpx.MockTransport(answer)
    )
    result = await Executor(
        graph(), Drafting(client), policy=fast_policy(), effort=straight_high()
    ).run()
    assert result.outcome == "completed" and result.outputs["summarise"] == "fine"
    assert [b["reasoning_effort"] for b in sent] == ["high", "high"]
    [fail] = [d for d in result.log if d.action == "fail"]
    assert fail.data["kind"] == "error"
    [retry] = [d for d in result.log if d.action == "retry"]
    assert retry.data["effort"] == "high"


class Recording(EffortRouter):
    def __init__(self, policy: EffortPolicy) -> None:
        super().__init__(policy)
        self.seen: list[Step] = []

    def choose(self, step: Step) -> str:
        self.seen.append(step)
        return super().choose(step)


async def test_the_step_context_reaches_the_router() -> None:
    tools = ThinkingTools(needs="low")
    learner = Recording(EffortPolicy(features="signals"))
    result = await Executor(graph(), tools, policy=fast_policy(), effort=learner).run(
        {"task": "brief the board on Q3", "routing": {"confidence": 0.9, "alternatives": 4}}
    )
    assert result.outcome == "completed" and [t for t, _ in tools.calls] == ["fetch", "summarise"]
    seen = learner.seen
    assert [(s.tool, s.history) for s in seen] == [("fetch", ()), ("summarise", ("fetch",))]
    assert seen[1].task == "brief the board on Q3"
    assert seen[1].tool_description == "Summarise the report for the board."
    assert (seen[1].confidence, seen[1].margin, seen[1].alternatives) == (0.9, None, 4)


class FailsOnce:
    """A plain function's invoker (no effort to take): ``summarise`` fails once, transiently."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        self.calls.append(tool)
        if tool == "summarise" and self.calls.count(tool) == 1:
            raise ToolCallError("connection reset", tool=tool)
        return {"tool": tool}


@pytest.mark.parametrize("wrapped", ["plain", "routed", "bound"])
async def test_tools_that_take_no_effort_keep_their_retries_beside_an_effort_router(
    wrapped: str,
) -> None:
    """Their retries had become effort escalations: with the router starting at high, none
    was left, and one transient error of a plain function escalated the run."""
    hopeless_low = EffortPrior(success={"low": 0.0, "medium": 0.0, "high": 0.9})
    learner = Recording(EffortPolicy(features="signals", prior=hopeless_low))
    plain = FailsOnce()
    invoker: Any = plain
    if wrapped != "plain":
        # Routed beside an invoker that does take an effort, as Orchestrator.run serves tools,
        # and there behind the plan's argument binding.
        invoker = CompositeInvoker({"fetch": ThinkingTools()}, default=plain)
    if wrapped == "bound":
        invoker = BindingInvoker(invoker, TaskPlan(task="t", subgoals=("t",), steps=()), {})
    result = await Executor(graph(), invoker, policy=fast_policy(), effort=learner).run()
    assert result.outcome == "completed" and plain.calls.count("summarise") == 2
    assert result.retries == 1
    summarise = [d for d in result.log if d.tool == "summarise"]
    assert summarise and all("effort" not in d.data for d in summarise)
    assert [s.tool for s in learner.seen] == (["fetch"] if wrapped != "plain" else [])


async def test_without_a_router_no_effort_is_logged() -> None:
    tools = ThinkingTools()
    result = await Executor(graph(), tools, policy=fast_policy()).run()
    assert tools.calls == [("fetch", None), ("summarise", None)]
    assert all("effort" not in d.data for d in result.log)


async def test_the_router_is_not_asked_for_a_retry_the_attempt_budget_forbids() -> None:
    asked: list[str] = []

    class Counting(EffortRouter):
        def escalate(self, step: Step, current: str) -> str | None:
            asked.append(current)
            return super().escalate(step, current)

    tools = AlwaysWrong()
    counting = Counting(EffortPolicy(features="signals"))
    result = await Executor(graph(), tools, policy=fast_policy(), effort=counting).run()
    summarise_calls = [e for t, e in tools.calls if t == "summarise"]
    assert result.outcome == "escalated"
    # One question per retry actually made, none after the last allowed attempt.
    assert len(asked) == result.retries == len(summarise_calls) - 1


TOKENS = {"low": 400.0, "medium": 600.0, "high": 900.0}


class ReportingTools(ThinkingTools):
    """``ThinkingTools`` that say what each call spent: ``Reasoned`` outputs, and failures
    raised with ``tokens``."""

    async def invoke_with_effort(self, tool: str, arguments: Mapping[str, Any], effort: str) -> Any:
        self.calls.append((tool, effort))
        levels = ("low", "medium", "high")
        if tool == "summarise" and levels.index(effort) < levels.index(self.needs):
            raise ToolCallError(f"shallow answer at {effort}", tool=tool, tokens=TOKENS[effort])
        return Reasoned({"tool": tool, "effort": effort}, tokens=TOKENS[effort])


def outcomes(router: EffortRouter) -> list[tuple[str, str, bool, float, tuple[str, ...]]]:
    return [(o.step.tool, o.effort, o.success, o.tokens, o.step.tried) for o in router.observations]


async def test_calls_that_report_tokens_are_observed_by_the_router_as_outcomes() -> None:
    tools, learner = ReportingTools(needs="high"), router()
    result = await Executor(graph(), tools, policy=fast_policy(), effort=learner).run()
    assert result.outcome == "completed"
    tried = [e for t, e in tools.calls if t == "summarise"]
    assert len(tried) > 1 and tried[-1] == "high"
    # One outcome per call, each with the step as first shown (the router conditions on
    # earlier failures itself when it plans a retry).
    assert outcomes(learner) == [
        ("fetch", "low", True, TOKENS["low"], ()),
        *[("summarise", effort, effort == "high", TOKENS[effort], ()) for effort in tried],
    ]
    # The output is passed on bare, and the log says what each call spent.
    assert result.outputs["summarise"] == {"tool": "summarise", "effort": "high"}
    spent = [(d.action, d.tool, d.data.get("tokens")) for d in result.log if d.tool == "summarise"]
    assert [s for s in spent if s[0] in ("execute", "fail")] == [
        ("fail", "summarise", TOKENS[e]) for e in tried[:-1]
    ] + [("execute", "summarise", TOKENS["high"])]


async def test_calls_that_do_not_say_what_they_spent_teach_the_router_nothing() -> None:
    tools, learner = ThinkingTools(needs="high"), router()
    result = await Executor(graph(), tools, policy=fast_policy(), effort=learner).run()
    assert result.outcome == "completed"
    assert learner.observations == []
    assert all("tokens" not in d.data for d in result.log)


class ZeroUsageTools(ThinkingTools):
    """A provider that reports no usage: its client reads 0 tokens for every call."""

    async def invoke_with_effort(self, tool: str, arguments: Mapping[str, Any], effort: str) -> Any:
        self.calls.append((tool, effort))
        return Reasoned({"tool": tool}, tokens=0)


async def test_a_call_reporting_zero_tokens_teaches_the_router_nothing() -> None:
    """No reasoning call spends nothing: 0 had been learnt as "effort is free"."""
    learner = router()
    result = await Executor(graph(), ZeroUsageTools(), policy=fast_policy(), effort=learner).run()
    assert result.outcome == "completed" and learner.observations == []


async def test_runs_teach_the_router_to_go_straight_to_the_effort_a_step_needs() -> None:
    learner = EffortRouter(EffortPolicy(features="signals", neighbours=3))
    first = ReportingTools(needs="high")
    await Executor(graph(), first, policy=fast_policy(), effort=learner).run()
    assert next(e for t, e in first.calls if t == "summarise") != "high"
    for _ in range(5):
        await Executor(
            graph(), ReportingTools(needs="high"), policy=fast_policy(), effort=learner
        ).run()
    learner.fit()
    after = ReportingTools(needs="high")
    result = await Executor(graph(), after, policy=fast_policy(), effort=learner).run()
    assert result.outcome == "completed" and result.retries == 0
    assert after.calls == [("fetch", "low"), ("summarise", "high")]


async def test_a_composite_invoker_passes_the_effort_to_the_invoker_serving_the_tool() -> None:
    thinking = ReportingTools(needs="medium")
    plain = CallableInvoker({"fetch": lambda arguments: {"report": "q3"}}, threaded=False)
    composite = CompositeInvoker({"summarise": thinking}, default=plain)
    learner = router()
    result = await Executor(graph(), composite, policy=fast_policy(), effort=learner).run()
    assert result.outcome == "completed"
    assert [t for t, e in thinking.calls] == ["summarise"] * len(thinking.calls)
    assert thinking.calls[-1] == ("summarise", "medium")
    assert {o.step.tool for o in learner.observations} == {"summarise"}


async def test_a_call_not_made_at_the_chosen_effort_teaches_the_router_nothing() -> None:
    # A plain invoker ignores the effort: what it spent says nothing about the effort chosen.
    plain = CallableInvoker(
        {t: (lambda a, t=t: Reasoned({"tool": t}, tokens=50)) for t in ("fetch", "summarise")},
        threaded=False,
    )
    learner = router()
    result = await Executor(graph(), plain, policy=fast_policy(), effort=learner).run()
    assert result.outcome == "completed" and result.outputs["fetch"] == {"tool": "fetch"}
    assert learner.observations == []


@pytest.mark.parametrize(
    ("routing", "said"),
    [
        ({"confidence": "high"}, r"inputs\.routing\.confidence: expected a number, got 'high'"),
        ({"summarise": {"margin": [1]}}, r"inputs\.routing\.summarise\.margin: expected a number"),
    ],
)
async def test_routing_signals_that_are_not_numbers_are_refused_before_the_run(
    routing: dict[str, Any], said: str
) -> None:
    """They had failed the run mid-way with a task-group error naming no field."""
    tools = ThinkingTools(needs="low")
    with pytest.raises(ValueError, match=said):
        await Executor(graph(), tools, effort=router()).run({"routing": routing})
    assert tools.calls == []
    done = await Executor(graph(), tools, effort=router()).run({"routing": {"alternatives": None}})
    assert done.outcome == "completed"
