"""LLM clients on the wire: a real HTTP server on loopback speaks each provider's format and
records every request, so the exact bodies each effort produces are pinned down."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

import orchestrator
import orchestrator.execution
from orchestrator.errors import EscalationError, LLMError, PolicyError, UnmappedEffortError
from orchestrator.execution import EscalationRequest, LLMEscalation
from orchestrator.llm import (
    AnthropicClient,
    GptOssClient,
    LLMClient,
    LLMPolicy,
    OpenAICompatibleClient,
    OpenAIEffort,
    QwenClient,
    ReasoningClient,
    Usage,
)
from orchestrator.llm._http import token_count
from orchestrator.policy import load_policy

pytestmark = pytest.mark.anyio

CHAT_ANSWER = {
    "id": "c1",
    "model": "served-model",
    "choices": [{"message": {"role": "assistant", "content": "42", "reasoning_content": "hmm"}}],
    "usage": {
        "prompt_tokens": 12,
        "completion_tokens": 80,
        "completion_tokens_details": {"reasoning_tokens": 64},
    },
}
MESSAGES_ANSWER = {
    "id": "m1",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [
        {"type": "thinking", "thinking": "let me see", "signature": "sig"},
        {"type": "text", "text": "forty-two"},
    ],
    "usage": {"input_tokens": 20, "output_tokens": 150},
}


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Server:
    url: str
    requests: list[Recorded] = field(default_factory=list)
    status: int = 200
    answers: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def server() -> Iterator[Server]:
    """A loopback HTTP server answering /v1/chat/completions and /v1/messages."""
    state = Server(url="")
    state.answers = {"/v1/chat/completions": CHAT_ANSWER, "/v1/messages": MESSAGES_ANSWER}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            body = json.loads(self.rfile.read(length))
            state.requests.append(
                Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            payload = json.dumps(state.answers.get(self.path, {})).encode()
            self.send_response(state.status if self.path in state.answers else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean; requests are recorded above

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


MESSAGES = [
    {"role": "system", "content": "You plan tool calls."},
    {"role": "user", "content": "What is 6 x 7?"},
]


async def test_openai_client_sends_reasoning_effort_and_reads_reasoning_tokens(
    server: Server,
) -> None:
    client = OpenAICompatibleClient(f"{server.url}/v1", "o-mini", api_key="k")
    completion = await client.chat(MESSAGES, effort="high")
    assert server.requests[0].path == "/v1/chat/completions"
    assert server.requests[0].body == {
        "model": "o-mini",
        "messages": MESSAGES,
        "reasoning_effort": "high",
    }
    assert server.requests[0].headers["authorization"] == "Bearer k"
    assert completion.text == "42"
    assert completion.reasoning == "hmm"
    assert completion.usage == Usage(input_tokens=12, output_tokens=80, reasoning_tokens=64)
    assert (completion.model, completion.effort) == ("served-model", "high")


async def test_complete_without_effort_returns_text_and_sends_no_effort_knob(
    server: Server,
) -> None:
    client = OpenAICompatibleClient(f"{server.url}/v1", "o-mini")
    text = await client.complete(MESSAGES)
    assert text == "42"
    assert server.requests[0].body == {"model": "o-mini", "messages": MESSAGES}
    assert "authorization" not in server.requests[0].headers


async def test_policy_mapping_decides_the_value_on_the_wire(server: Server) -> None:
    policy = LLMPolicy.model_validate({"openai": {"reasoning_effort": {"low": "minimal"}}})
    client = OpenAICompatibleClient(f"{server.url}/v1", "o-mini", policy=policy)
    await client.complete(MESSAGES, effort="low")
    assert server.requests[0].body["reasoning_effort"] == "minimal"
    with pytest.raises(LLMError, match=r"llm\.openai\.reasoning_effort.*'high'"):
        await client.complete(MESSAGES, effort="high")
    assert len(server.requests) == 1  # refused before anything was sent


async def test_usage_accumulates_over_calls(server: Server) -> None:
    client = OpenAICompatibleClient(f"{server.url}/v1", "o-mini")
    await client.complete(MESSAGES, effort="low")
    await client.complete(MESSAGES, effort="medium")
    assert client.calls == 2
    assert client.usage == Usage(24, 160, 128)
    assert client.last is not None and client.last.effort == "medium"


async def test_anthropic_adaptive_thinking_sends_output_config_effort(server: Server) -> None:
    client = AnthropicClient("claude-x", base_url=server.url, api_key="secret")
    completion = await client.chat(MESSAGES, effort="medium")
    sent = server.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.body == {
        "model": "claude-x",
        "max_tokens": 32000,
        "system": "You plan tool calls.",
        "messages": [{"role": "user", "content": "What is 6 x 7?"}],
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "medium"},
    }
    assert sent.headers["x-api-key"] == "secret"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert completion.text == "forty-two"
    assert completion.reasoning == "let me see"
    assert completion.usage == Usage(20, 150, None)


async def test_anthropic_budget_mode_sends_a_thinking_budget_or_disables_thinking(
    server: Server,
) -> None:
    policy = LLMPolicy.model_validate({"anthropic": {"mode": "budget"}})
    client = AnthropicClient("claude-old", base_url=server.url, policy=policy)
    await client.complete(MESSAGES, effort="high")
    await client.complete(MESSAGES, effort="low")
    await client.complete(MESSAGES)
    high, low, default = (r.body for r in server.requests)
    assert high["thinking"] == {"type": "enabled", "budget_tokens": 16384}
    assert low["thinking"] == {"type": "disabled"}
    assert "thinking" not in default and "output_config" not in default
    assert "output_config" not in high


async def test_gpt_oss_effort_is_reasoning_effort_and_the_reasoning_line_of_the_system_message(
    server: Server,
) -> None:
    """vLLM and Transformers render a caller's system message as developer instructions and
    read the effort from ``reasoning_effort``; the system line alone had not reached them."""
    client = GptOssClient(f"{server.url}/v1", "gpt-oss-20b")
    await client.complete(MESSAGES, effort="low")
    await client.complete(MESSAGES[1:], effort="high")
    with_system, without_system = (r.body for r in server.requests)
    assert with_system == {
        "model": "gpt-oss-20b",
        "reasoning_effort": "low",
        "messages": [
            {"role": "system", "content": "You plan tool calls.\nReasoning: low"},
            MESSAGES[1],
        ],
    }
    assert without_system["reasoning_effort"] == "high"
    assert without_system["messages"] == [
        {"role": "system", "content": "Reasoning: high"},
        MESSAGES[1],
    ]
    assert MESSAGES[0]["content"] == "You plan tool calls."  # the caller's list is untouched
    # A reasoning line the caller wrote gives way to the step's: two had been sent.
    own = [{"role": "system", "content": "Reasoning: low\nYou plan tool calls."}, MESSAGES[1]]
    await client.complete(own, effort="high")
    assert server.requests[-1].body["messages"][0]["content"] == (
        "You plan tool calls.\nReasoning: high"
    )


async def test_qwen_effort_switches_enable_thinking(server: Server) -> None:
    vllm = QwenClient(f"{server.url}/v1", "Qwen3-8B")
    await vllm.complete(MESSAGES, effort="low")
    await vllm.complete(MESSAGES, effort="high")
    dashscope = QwenClient(
        f"{server.url}/v1",
        "qwen-plus",
        policy=LLMPolicy.model_validate({"qwen": {"placement": "top_level"}}),
    )
    await dashscope.complete(MESSAGES, effort="medium")
    await dashscope.complete(MESSAGES, effort="low")
    bodies = [r.body for r in server.requests]
    assert bodies[0] == {
        "model": "Qwen3-8B",
        "messages": MESSAGES,
        "chat_template_kwargs": {"enable_thinking": False},
    }
    assert bodies[1]["chat_template_kwargs"] == {"enable_thinking": True}
    assert (bodies[2]["enable_thinking"], bodies[2]["thinking_budget"]) == (True, 2048)
    assert bodies[3]["enable_thinking"] is False and "thinking_budget" not in bodies[3]


async def test_http_error_is_an_llm_error_that_escalation_still_catches(server: Server) -> None:
    server.status = 500
    client = OpenAICompatibleClient(f"{server.url}/v1", "o-mini")
    with pytest.raises(LLMError, match="chat completion failed") as caught:
        await client.complete(MESSAGES)
    assert isinstance(caught.value, EscalationError)
    anthropic = AnthropicClient("claude-x", base_url=server.url)
    with pytest.raises(LLMError, match="messages call failed"):
        await anthropic.complete(MESSAGES)


async def test_a_retry_after_written_as_an_http_date_is_read() -> None:
    """RFC 9110 allows a date; it had been ignored, and the refusal retried at once. It is
    counted from the answer's own Date header: the server's clock, not ours."""
    headers = {
        "Retry-After": "Wed, 21 Oct 2026 07:28:30 GMT",
        "Date": "Wed, 21 Oct 2026 07:28:00 GMT",
    }
    for sent, expected in ((headers, 30.0), ({"Retry-After": "soon"}, None)):
        transport = httpx.MockTransport(
            lambda request, sent=sent: httpx.Response(429, headers=sent)
        )
        client = OpenAICompatibleClient("http://llm/v1", "m", transport=transport)
        with pytest.raises(LLMError) as refused:
            await client.complete(MESSAGES)
        assert refused.value.retry_after == expected


async def test_a_failed_call_keeps_the_status_the_providers_reason_and_retry_after() -> None:
    """Every failure had been one bare message ("Client error '400 Bad Request'", or nothing
    after "failed:" for a timeout), which the executor could only retry as a generic error."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["model"] == "busy":
            return httpx.Response(429, headers={"Retry-After": "2"}, json={"error": "slow down"})
        if body["model"] == "slow":
            raise httpx.ReadTimeout("timed out", request=request)
        if body["model"] == "away":
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(400, json={"error": {"message": "max_tokens is too large"}})

    def client(model: str) -> OpenAICompatibleClient:
        transport = httpx.MockTransport(answer)
        return OpenAICompatibleClient("http://llm/v1", model, transport=transport, timeout_s=1)

    with pytest.raises(LLMError) as busy:
        await client("busy").complete(MESSAGES)
    assert (busy.value.status, busy.value.retry_after) == (429, 2.0)
    assert "HTTP 429 Too Many Requests" in str(busy.value)
    with pytest.raises(LLMError, match=r"HTTP 400 Bad Request: .*max_tokens is too large") as bad:
        await client("big").complete(MESSAGES)
    assert bad.value.status == 400 and bad.value.retry_after is None
    with pytest.raises(LLMError, match=r"no answer within 1 s") as slow:
        await client("slow").complete(MESSAGES)
    assert slow.value.timed_out and slow.value.status is None
    with pytest.raises(LLMError, match="ConnectError") as away:
        await client("away").complete(MESSAGES)
    assert away.value.unreachable and not away.value.timed_out
    # Errors reach logs and spans: the URL's credentials and query stay out of them.
    secret = OpenAICompatibleClient(
        "http://alice:PASSWORD99@llm/v1?key=K3Y", "busy", transport=httpx.MockTransport(answer)
    )
    with pytest.raises(LLMError) as shown:
        await secret.complete(MESSAGES)
    assert "PASSWORD99" not in str(shown.value) and "K3Y" not in str(shown.value)
    assert str(shown.value).startswith("http://llm/v1")


async def test_an_effort_the_policy_does_not_map_is_a_configuration_error_never_sent(
    server: Server,
) -> None:
    """It was a plain LLMError (retried by a run as a generic error), and ``calls`` counted
    the call though nothing was sent."""
    only_openai = LLMPolicy(openai=OpenAIEffort(reasoning_effort={"minimal": "minimal"}))
    anthropic = AnthropicClient("claude-x", base_url=server.url, policy=only_openai)
    with pytest.raises(UnmappedEffortError) as info:
        await anthropic.complete(MESSAGES, effort="minimal")
    assert str(info.value) == (
        "policy field llm.anthropic.effort: no mapping for effort 'minimal'; expected one of "
        "['high', 'low', 'medium']"
    )
    assert isinstance(info.value, LLMError)  # an escalation still fails on it as on any call
    assert server.requests == [] and anthropic.calls == 0
    await anthropic.complete(MESSAGES, effort="low")
    assert len(server.requests) == 1 and anthropic.calls == 1


async def test_a_base_url_query_stays_after_the_path_the_client_appends() -> None:
    """Azure OpenAI's ``?api-version=`` had the path appended to it: the request went to
    ``/openai/deployments/gpt4o?api-version=2024-10-21/chat/completions``."""
    seen: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        if "/v1/messages" in str(request.url):
            return httpx.Response(200, json=MESSAGES_ANSWER)
        return httpx.Response(200, json=CHAT_ANSWER)

    transport = httpx.MockTransport(answer)
    azure = "https://res.openai.azure.com/openai/deployments/gpt4o?api-version=2024-10-21"
    await OpenAICompatibleClient(azure, "gpt-4o", transport=transport).complete(MESSAGES)
    await OpenAICompatibleClient("http://llm/v1/?tenant=a%2Fb", "m", transport=transport).complete(
        MESSAGES
    )
    gateway = "http://gw/anthropic?team=x"
    await AnthropicClient("claude-x", base_url=gateway, transport=transport).complete(MESSAGES)
    assert [str(url) for url in seen] == [
        "https://res.openai.azure.com/openai/deployments/gpt4o/chat/completions"
        "?api-version=2024-10-21",
        "http://llm/v1/chat/completions?tenant=a%2Fb",
        "http://gw/anthropic/v1/messages?team=x",
    ]
    # Errors name the endpoint called, still without the query (it may hold a key).
    refusing = httpx.MockTransport(lambda request: httpx.Response(404, json={"error": "no"}))
    with pytest.raises(LLMError) as info:
        await OpenAICompatibleClient(azure, "gpt-4o", transport=refusing).complete(MESSAGES)
    assert str(info.value).startswith(
        "https://res.openai.azure.com/openai/deployments/gpt4o/chat/completions: "
        "chat completion failed: HTTP 404 Not Found"
    )


async def test_a_refusal_is_reported_as_the_model_refusing_naming_the_endpoint() -> None:
    """OpenAI's refusal (content null, the reason in ``refusal``) had read "field
    choices.0.message.content is not text", naming only the base URL."""
    refused = {
        "choices": [
            {
                "message": {"role": "assistant", "content": None, "refusal": "I can't help."},
                "finish_reason": "stop",
            }
        ]
    }
    declined = {
        "content": [{"type": "text", "text": "I won't"}],
        "stop_reason": "refusal",
        "usage": {"input_tokens": 5, "output_tokens": 2},
    }

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=declined if "messages" in request.url.path else refused)

    transport = httpx.MockTransport(answer)
    openai = OpenAICompatibleClient("http://llm/v1?key=K", "m", transport=transport)
    with pytest.raises(LLMError) as info:
        await openai.complete(MESSAGES)
    assert str(info.value) == "http://llm/v1/chat/completions: the model refused: I can't help."
    anthropic = AnthropicClient("claude-x", base_url="http://llm", transport=transport)
    with pytest.raises(LLMError) as info:
        await anthropic.complete(MESSAGES)
    assert str(info.value) == (
        "http://llm/v1/messages: the model refused (stop_reason 'refusal'): I won't"
    )


async def test_a_refused_call_still_counts_the_tokens_it_was_billed() -> None:
    """The refusal was raised while the answer was read, before ``chat`` added its usage: the
    client under-reported what the provider billed, and ``last`` kept the call before."""
    refused = {
        "choices": [
            {
                "message": {"role": "assistant", "content": None, "refusal": "No."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3},
    }
    declined = {
        "content": [],
        "stop_reason": "refusal",
        "usage": {"input_tokens": 7, "output_tokens": 1},
    }

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=declined if "messages" in request.url.path else refused)

    transport = httpx.MockTransport(answer)
    openai = OpenAICompatibleClient("http://llm/v1", "m", transport=transport)
    anthropic = AnthropicClient("claude-x", base_url="http://llm", transport=transport)
    for client, billed, said in (
        (openai, Usage(11, 3), "the model refused: No."),
        (anthropic, Usage(7, 1), "the model refused (stop_reason 'refusal')"),
    ):
        with pytest.raises(LLMError) as info:
            await client.complete(MESSAGES)
        assert str(info.value).endswith(said)
        assert client.usage == billed and client.calls == 1
        assert client.last is not None and client.last.refusal is not None


@pytest.mark.parametrize(
    ("api", "said"),
    [("openai", "finish_reason 'length'"), ("anthropic", "stop_reason 'max_tokens'")],
)
async def test_an_answer_cut_at_the_token_limit_is_an_error_saying_so(api: str, said: str) -> None:
    """It was returned as a whole answer, and an escalation reading it reported "escalation
    answer is not JSON", with no word of the limit."""
    cut = '{"action": "demote", "fallb'
    chat = {
        "choices": [{"message": {"content": cut}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 512},
    }
    messages = {
        "content": [{"type": "text", "text": cut}],
        "stop_reason": "max_tokens",
        "usage": {"input_tokens": 9, "output_tokens": 512},
    }
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, json=chat if api == "openai" else messages)
    )
    client = (
        OpenAICompatibleClient("http://llm/v1", "m", transport=transport)
        if api == "openai"
        else AnthropicClient("claude-x", base_url="http://llm", transport=transport)
    )
    with pytest.raises(LLMError) as info:
        await LLMEscalation(client).escalate(EscalationRequest("g", "Done", (), (), (), "no path"))
    assert f"the answer was cut at the token limit ({said}, 512 output tokens)" in str(info.value)
    # The tokens were spent: counted, and the partial answer kept for whoever wants it.
    assert client.usage.output_tokens == 512 and client.calls == 1
    assert client.last is not None and client.last.truncated and client.last.text == cut


async def test_usage_a_provider_leaves_null_reads_as_zero_not_as_a_crash(server: Server) -> None:
    answer = {**MESSAGES_ANSWER, "usage": {"input_tokens": 20, "output_tokens": None}}
    server.answers["/v1/messages"] = answer
    client = AnthropicClient("claude-x", base_url=server.url)
    assert await client.complete(MESSAGES) == "forty-two"  # a TypeError had failed the call
    assert (client.usage.input_tokens, client.usage.output_tokens) == (20, 0)


async def test_answer_without_text_is_an_llm_error(server: Server) -> None:
    server.answers["/v1/messages"] = {"content": [{"type": "thinking", "thinking": "..."}]}
    with pytest.raises(LLMError, match="no text block"):
        await AnthropicClient("claude-x", base_url=server.url).complete(MESSAGES)


async def test_an_answer_without_text_still_counts_the_tokens_it_was_billed() -> None:
    """Only thinking, or only tool calls: the error was raised while the answer was read,
    before its usage was added, so the client and the span under-reported the bill."""
    thinking = {
        "content": [{"type": "thinking", "thinking": "..."}],
        "usage": {"input_tokens": 30, "output_tokens": 800},
    }
    tool_calls = {
        "choices": [{"message": {"content": None, "tool_calls": [{"id": "c1"}]}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 40},
    }

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=thinking if "messages" in request.url.path else tool_calls)

    transport = httpx.MockTransport(answer)
    anthropic = AnthropicClient("claude-x", base_url="http://llm", transport=transport)
    openai = OpenAICompatibleClient("http://llm/v1", "m", transport=transport)
    for client, billed in ((anthropic, Usage(30, 800)), (openai, Usage(12, 40))):
        with pytest.raises(LLMError) as info:
            await client.complete(MESSAGES)
        assert client.usage == billed
        assert info.value.answer is not None and info.value.answer.usage == billed


async def test_an_anthropic_turn_paused_mid_way_is_no_answer() -> None:
    """``pause_turn`` (a long turn with server tools, to be sent back to continue) had been
    read as the whole answer."""
    paused = {
        "content": [{"type": "text", "text": "Let me search"}],
        "stop_reason": "pause_turn",
        "usage": {"input_tokens": 5, "output_tokens": 9},
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=paused))
    client = AnthropicClient("claude-x", base_url="http://llm", transport=transport)
    with pytest.raises(LLMError, match="paused its turn"):
        await client.complete(MESSAGES)
    assert client.usage == Usage(5, 9)


async def test_usage_a_provider_misreports_and_a_model_it_does_not_name_are_not_guessed() -> None:
    """A negative count reached spans (and the token histogram refused it); an answer naming
    no model read as answered by the model asked, which a router may have replaced."""
    chat = {
        "choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": -5, "completion_tokens": -1},
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=chat))
    client = OpenAICompatibleClient("http://llm/v1", "gpt-x", transport=transport)
    answer = await client.chat(MESSAGES)
    assert answer.usage == Usage(0, 0) and answer.model is None
    assert token_count(json.loads("1e400")) == 0  # inf: an OverflowError had failed the call


def test_every_adapter_is_a_reasoning_client_naming_its_provider() -> None:
    clients = [
        OpenAICompatibleClient("http://127.0.0.1:1/v1", "a"),
        GptOssClient("http://127.0.0.1:1/v1", "b", provider="vllm"),
        QwenClient("http://127.0.0.1:1/v1", "c"),
        AnthropicClient("d"),
    ]
    assert all(isinstance(c, ReasoningClient) for c in clients)
    assert [c.provider for c in clients] == ["openai", "vllm", "openai", "anthropic"]
    assert [c.model for c in clients] == ["a", "b", "c", "d"]


def test_old_import_paths_still_reach_the_moved_client() -> None:
    assert orchestrator.execution.OpenAICompatibleClient is OpenAICompatibleClient
    assert orchestrator.OpenAICompatibleClient is OpenAICompatibleClient
    assert orchestrator.execution.LLMClient is LLMClient


def test_policy_has_llm_and_effort_sections_and_rejects_a_budget_over_max_tokens(
    tmp_path: Path,
) -> None:
    policy = load_policy()
    assert policy.llm.anthropic.mode == "adaptive"
    assert policy.effort.levels == ("low", "medium", "high")
    bad = tmp_path / "p.yaml"
    bad.write_text("llm:\n  anthropic:\n    mode: budget\n    max_tokens: 2000\n")
    with pytest.raises(PolicyError, match=r"llm\.anthropic.*budget_tokens\.medium"):
        load_policy(bad)
    # Adaptive mode (the default) sends no budget, so its budgets do not bound max_tokens.
    adaptive = tmp_path / "a.yaml"
    adaptive.write_text("llm:\n  anthropic:\n    max_tokens: 8192\n")
    assert load_policy(adaptive).llm.anthropic.max_tokens == 8192
