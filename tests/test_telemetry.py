"""Tracing and metrics built from the decision log: spans per step, decisions as events, one trace
per task, the LLM wrapper, the OTLP exporters (against real loopback receivers) and the file
exporter read back by ``trace show``."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent import futures
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.errors import LLMError, TelemetryError
from orchestrator.execution import (
    CallableInvoker,
    DecisionLog,
    Executor,
    LLMEscalation,
    silent_failures,
)
from orchestrator.graph import ToolGraph
from orchestrator.llm import OpenAICompatibleClient
from orchestrator.scenarios import FaultInjector, SimulatedInvoker, load_scenario, run_scenario
from orchestrator.telemetry import (
    TracedLLMClient,
    current_tracer,
    read_spans,
    render_traces,
    span,
    traced_run,
    tracing,
)

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
REROUTE = SCENARIOS / "cs10_persistent_error_rerouted.yaml"
DEMOTE = SCENARIOS / "cs05_both_payments_down_demote.yaml"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_otlp_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_TRACES_EXPORTER",
        "OTEL_METRICS_EXPORTER",
        "OTEL_SDK_DISABLED",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
    ):
        monkeypatch.delenv(name, raising=False)


async def _run(*paths: Path) -> list[Any]:
    return [await run_scenario(load_scenario(p)) for p in paths]


def _named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def _values(metrics: Any) -> dict[str, Any]:
    """Metric name -> summed counter value, or histogram count."""
    found: dict[str, Any] = {}
    for resource in metrics.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points = metric.data.data_points
                if hasattr(points[0], "bucket_counts"):
                    found[metric.name] = sum(p.count for p in points)
                else:
                    found[metric.name] = sum(p.value for p in points)
    return found


# -- off --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_without_configuration_tracing_is_off_and_nothing_listens_to_the_log() -> None:
    assert current_tracer() is None
    log = DecisionLog()
    with tracing() as handle, traced_run(log, "task") as run, span("plan") as s:
        assert not handle.enabled
        assert run.recorder is None
        assert not s.is_recording()


def test_otel_sdk_disabled_turns_a_configured_block_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    with tracing(tmp_path / "t.jsonl") as handle:
        assert not handle.enabled
        assert current_tracer() is None
    assert not (tmp_path / "t.jsonl").exists()
    # The file asked for is not written, and that is said: an older trace there is not this run's.
    assert "OTEL_SDK_DISABLED is set: no trace is written to" in caplog.text


def test_an_unknown_otlp_protocol_is_an_error_naming_the_choices() -> None:
    with (
        pytest.raises(TelemetryError, match="grpc, http/protobuf"),
        tracing(otlp=True, protocol="thrift"),  # type: ignore[arg-type]
    ):
        pass


def test_a_trace_file_that_cannot_be_created_is_an_error_naming_it(tmp_path: Path) -> None:
    """A file where a folder should be read "cannot write the trace file (File exists)"."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    said = r"not-a-dir is a file, not a folder: .*trace\.jsonl cannot be written there"
    with pytest.raises(TelemetryError, match=said), tracing(blocker / "trace.jsonl"):
        pass


def test_a_folder_as_the_trace_file_is_refused_before_the_block_runs(tmp_path: Path) -> None:
    """It was found out only when the file was moved into place: after a run's tools had run,
    and the run's result was not printed."""
    ran = []
    with pytest.raises(TelemetryError, match="is a folder; give a file path"), tracing(tmp_path):
        ran.append(True)
    assert ran == []


def test_a_replaced_trace_file_keeps_its_mode(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    trace.write_text("")
    trace.chmod(0o644)
    with tracing(trace), span("route"):
        pass
    assert trace.stat().st_mode & 0o777 == 0o644 and trace.read_text()


# -- spans from the decision log --------------------------------------------------------------


@pytest.mark.anyio
async def test_each_step_attempt_is_an_execute_tool_span_with_genai_attributes() -> None:
    memory = InMemorySpanExporter()
    with tracing(exporters=[memory]):
        await _run(REROUTE)
    spans = memory.get_finished_spans()
    (root,) = _named(spans, "invoke_workflow CS-10")
    stripe = _named(spans, "execute_tool Stripe")
    assert [s.attributes["orchestrator.attempt"] for s in stripe] == [1, 2, 3]
    call_ids = set()
    for attempt in stripe:
        assert attempt.attributes["gen_ai.operation.name"] == "execute_tool"
        assert attempt.attributes["gen_ai.tool.name"] == "Stripe"
        call_ids.add(attempt.attributes["gen_ai.tool.call.id"])
        assert attempt.status.status_code is StatusCode.ERROR
        assert attempt.attributes["error.type"] == "error"
        (exception,) = [e for e in attempt.events if e.name == "exception"]
        assert exception.attributes["exception.type"] == "orchestrator.errors.ToolCallError"
        assert attempt.parent is not None and attempt.parent.span_id == root.context.span_id
    assert len(call_ids) == 3
    # Three errors stay below the breaker's threshold (fail_max 5 in the default policy).
    breaker = [s.attributes["orchestrator.breaker.state"] for s in stripe]
    assert breaker == ["closed", "closed", "closed"]
    (razorpay,) = _named(spans, "execute_tool Razorpay")
    assert razorpay.status.status_code is StatusCode.OK
    assert razorpay.start_time < razorpay.end_time
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}


@pytest.mark.anyio
async def test_retries_and_the_reroute_are_events_on_the_failed_attempts_with_the_new_path() -> (
    None
):
    memory = InMemorySpanExporter()
    with tracing(exporters=[memory]):
        await _run(REROUTE)
    stripe = _named(memory.get_finished_spans(), "execute_tool Stripe")
    answers = [[e.name for e in s.events if e.name != "exception"] for s in stripe]
    assert answers == [["orchestrator.retry"], ["orchestrator.retry"], ["orchestrator.reroute"]]
    (root,) = _named(memory.get_finished_spans(), "invoke_workflow CS-10")
    assert [e.name for e in root.events] == ["orchestrator.complete"]  # not repeated on the root
    reroute = next(e for e in stripe[-1].events if e.name == "orchestrator.reroute")
    assert list(reroute.attributes["orchestrator.path"]) == [
        "CRM",
        "Razorpay",
        "Email",
        "Complete",
    ]
    assert "internal error" in str(reroute.attributes["orchestrator.reason"])


@pytest.mark.anyio
async def test_escalation_and_demotion_land_on_the_run_span_with_the_outcome() -> None:
    memory = InMemorySpanExporter()
    with tracing(exporters=[memory]):
        await _run(DEMOTE)
    (root,) = _named(memory.get_finished_spans(), "invoke_workflow CS-5")
    events = [e.name for e in root.events]
    assert events.index("orchestrator.escalate") < events.index("orchestrator.demote")
    demote = next(e for e in root.events if e.name == "orchestrator.demote")
    assert demote.attributes["orchestrator.tool"] == "RefundTicketed"
    assert root.attributes["orchestrator.outcome"] == "demoted"
    assert root.attributes["orchestrator.escalations"] == 1
    assert root.attributes["orchestrator.silent_failures"] == 0


@pytest.mark.anyio
async def test_attempts_count_tries_of_one_step_and_restart_for_the_next_call() -> None:
    memory = InMemorySpanExporter()
    with tracing(exporters=[memory]):
        await _run(SCENARIOS / "cs20_mid_run_payment_outage.yaml")  # three runs on one log
    crm = _named(memory.get_finished_spans(), "execute_tool CRM")
    assert [s.attributes["orchestrator.attempt"] for s in crm] == [1, 1, 1]


@pytest.mark.anyio
async def test_every_scenario_is_its_own_trace() -> None:
    memory = InMemorySpanExporter()
    with tracing(exporters=[memory]):
        await _run(REROUTE, DEMOTE)
    spans = memory.get_finished_spans()
    roots = [s for s in spans if s.parent is None]
    assert sorted(s.name for s in roots) == ["invoke_workflow CS-10", "invoke_workflow CS-5"]
    assert len({s.context.trace_id for s in spans}) == 2


def test_tracing_blocks_running_at_once_in_two_threads_keep_their_own_spans() -> None:
    exporters = [InMemorySpanExporter(), InMemorySpanExporter()]
    both_open = threading.Barrier(2)

    def traced(n: int) -> None:
        with tracing(exporters=[exporters[n]]):
            both_open.wait(timeout=5)  # the other thread's block is open too
            with span(f"task {n}"):
                pass
            both_open.wait(timeout=5)

    threads = [threading.Thread(target=traced, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [[s.name for s in e.get_finished_spans()] for e in exporters] == [["task 0"], ["task 1"]]


def test_code_in_no_block_is_not_traced_while_another_thread_holds_one() -> None:
    opened, done = threading.Event(), threading.Event()

    def request_a() -> None:
        with tracing(exporters=[InMemorySpanExporter()]):
            opened.set()
            done.wait(timeout=5)

    thread = threading.Thread(target=request_a)
    thread.start()
    opened.wait(timeout=5)
    try:
        assert current_tracer() is None  # this thread is in no block: tracing is off here
    finally:
        done.set()
        thread.join()


def test_a_pool_thread_started_inside_a_tracing_block_is_traced_by_it() -> None:
    def work(n: int) -> None:
        with span(f"work {n}"):
            pass

    memory = InMemorySpanExporter()
    with tracing(exporters=[memory]), futures.ThreadPoolExecutor(2) as pool:
        list(pool.map(work, range(2)))  # a pool's threads do not inherit the block's context
    assert sorted(s.name for s in memory.get_finished_spans()) == ["work 0", "work 1"]


@pytest.mark.anyio
async def test_spans_opened_inside_a_traced_run_nest_under_it() -> None:
    memory = InMemorySpanExporter()
    log = DecisionLog()
    with tracing(exporters=[memory]), traced_run(log, "refund") as run:
        with span("plan", {"gen_ai.operation.name": "plan"}, steps=3):
            pass
        log.record("execute", "CRM", "ok", duration_ms=1.0, call_id="toolu_1")
    spans = {s.name: s for s in memory.get_finished_spans()}
    root = spans["invoke_workflow orchestrator"]
    assert spans["plan"].parent is not None
    assert spans["plan"].parent.span_id == run.span.get_span_context().span_id
    assert spans["plan"].attributes["orchestrator.steps"] == 3
    assert spans["execute_tool CRM"].attributes["gen_ai.tool.call.id"] == "toolu_1"
    assert root.attributes["orchestrator.task"] == "refund"


# -- metrics ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_metrics_count_reroutes_retries_and_report_zero_silent_failures() -> None:
    reader = InMemoryMetricReader()
    with tracing(metric_readers=[reader]):
        await _run(REROUTE, DEMOTE)
        values = _values(reader.get_metrics_data())
    assert values["orchestrator.reroutes"] == 2  # one in each scenario
    assert values["orchestrator.retries"] == 2
    assert values["orchestrator.escalations"] == 1
    assert values["orchestrator.silent_failures"] == 0
    assert values["gen_ai.execute_tool.duration"] == 6 + 4  # every attempt of both runs


# -- LLM calls --------------------------------------------------------------------------------


class _ScriptedClient:
    """A client with the attributes the real ones expose, answering from a list."""

    def __init__(self, replies: list[str | Exception]) -> None:
        self.model = "gpt-test"
        self.provider = "openai"
        self.reasoning_effort = "low"
        self.last_usage: Mapping[str, int] | None = None
        self.replies = replies

    async def complete(self, messages: Sequence[Mapping[str, str]]) -> str:
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        self.last_usage = {"prompt_tokens": 12, "completion_tokens": 5}
        return reply


@pytest.mark.anyio
async def test_llm_calls_are_chat_spans_with_model_provider_usage_and_effort() -> None:
    memory = InMemorySpanExporter()
    reader = InMemoryMetricReader()
    client = TracedLLMClient(_ScriptedClient(["ok", RuntimeError("quota")]))
    with tracing(exporters=[memory], metric_readers=[reader]):
        assert await client.complete([{"role": "user", "content": "hi"}]) == "ok"
        with pytest.raises(RuntimeError):
            await client.complete([{"role": "user", "content": "again"}])
        values = _values(reader.get_metrics_data())
    first, second = memory.get_finished_spans()
    assert first.name == "chat gpt-test"
    assert first.kind is SpanKind.CLIENT  # a call to a model served elsewhere
    assert first.attributes["gen_ai.operation.name"] == "chat"
    assert first.attributes["gen_ai.provider.name"] == "openai"
    assert first.attributes["gen_ai.request.model"] == "gpt-test"
    assert first.attributes["gen_ai.usage.input_tokens"] == 12
    assert first.attributes["gen_ai.usage.output_tokens"] == 5
    assert first.attributes["orchestrator.reasoning_effort"] == "low"
    assert second.status.status_code is StatusCode.ERROR
    assert second.attributes["error.type"] == "RuntimeError"
    assert values["orchestrator.llm.calls"] == 2
    assert values["gen_ai.client.token.usage"] == 2  # input and output of the one success
    assert client.reasoning_effort == "low"  # other attributes pass through


@pytest.mark.anyio
async def test_an_llm_call_made_by_a_tool_names_that_tool_on_its_span() -> None:
    """A chat span made inside a step was a sibling of the step's span, under the root (the
    step's span is written once the call is over): which step asked could only be guessed."""
    client = TracedLLMClient(_ScriptedClient(["ok", "Q3 went well."]))

    async def summarise(_: Any) -> str:
        return await client.complete([{"role": "user", "content": "summarise Q3"}])

    graph = ToolGraph(start="Start", goal="Done")
    graph.add_tool("summarise")
    graph.add_edge("Start", "summarise")
    graph.add_edge("summarise", "Done")
    memory = InMemorySpanExporter()
    with tracing(exporters=[memory]):
        await client.complete([{"role": "user", "content": "before the run"}])
        result = await Executor(graph, CallableInvoker({"summarise": summarise})).run()
    assert result.outcome == "completed"
    outside, inside = _named(memory.get_finished_spans(), "chat gpt-test")
    assert inside.attributes["orchestrator.tool"] == "summarise"
    assert "orchestrator.tool" not in outside.attributes


@pytest.mark.anyio
async def test_each_chat_span_counts_its_own_call_and_effort_of_a_reasoning_client() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {
            "choices": [{"message": {"role": "assistant", "content": "ok"}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5},
        }
        return httpx.Response(200, json=body)

    inner = OpenAICompatibleClient("http://llm.test/v1", "m", transport=httpx.MockTransport(answer))
    client = TracedLLMClient(inner)
    memory = InMemorySpanExporter()
    asked = [{"role": "user", "content": "hi"}]
    with tracing(exporters=[memory]):
        assert await client.complete(asked) == "ok"
        assert await client.complete(asked, effort="high") == "ok"
        assert (await client.chat(asked, effort="low")).text == "ok"
    spans = memory.get_finished_spans()
    # Each call's tokens, not the client's running total (10, 20, 30 before).
    assert [s.attributes["gen_ai.usage.input_tokens"] for s in spans] == [10, 10, 10]
    assert [s.attributes.get("orchestrator.reasoning_effort") for s in spans] == [
        None,
        "high",
        "low",
    ]
    assert inner.usage.input_tokens == 30


def _points(metrics: Any, name: str) -> list[Any]:
    return [
        point
        for resource in metrics.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


@pytest.mark.anyio
async def test_a_chat_call_records_request_and_response_model_server_and_reasoning_tokens() -> None:
    """The histograms lacked the model, and the span the answering model, the server and the
    reasoning tokens the client reads."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = {
            "model": "reasoner-2025-01-01",  # what the alias asked for resolved to
            "choices": [
                {"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 7,
                "completion_tokens_details": {"reasoning_tokens": 4},
            },
        }
        return httpx.Response(200, json=body)

    inner = OpenAICompatibleClient(
        "https://llm.test:8443/v1", "reasoner", transport=httpx.MockTransport(answer)
    )
    memory, reader = InMemorySpanExporter(), InMemoryMetricReader()
    with tracing(exporters=[memory], metric_readers=[reader]):
        await TracedLLMClient(inner).complete([{"role": "user", "content": "hi"}], effort="high")
        metrics = reader.get_metrics_data()
    [chat] = memory.get_finished_spans()
    assert chat.attributes["gen_ai.request.model"] == "reasoner"
    assert chat.attributes["gen_ai.response.model"] == "reasoner-2025-01-01"
    assert chat.attributes["server.address"] == "llm.test"
    assert chat.attributes["server.port"] == 8443
    assert chat.attributes["gen_ai.usage.output_tokens"] == 7
    assert chat.attributes["gen_ai.usage.reasoning.output_tokens"] == 4
    assert chat.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    expected = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "reasoner",
        "gen_ai.response.model": "reasoner-2025-01-01",
        "server.address": "llm.test",
        "server.port": 8443,
    }
    [duration] = _points(metrics, "gen_ai.client.operation.duration")
    assert dict(duration.attributes) == expected
    tokens = _points(metrics, "gen_ai.client.token.usage")
    assert sorted((p.attributes["gen_ai.token.type"], p.sum) for p in tokens) == [
        ("input", 10),
        ("output", 7),
    ]
    assert all(dict(p.attributes).items() >= expected.items() for p in tokens)


def _times_out(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("no answer in time", request=request)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("answer", "error_type"),
    [
        (lambda request: httpx.Response(429, headers={"retry-after": "3"}), "429"),
        (lambda request: httpx.Response(503), "503"),
        (_times_out, "timeout"),
        (lambda request: httpx.Response(200, json={"choices": []}), "LLMError"),
    ],
)
async def test_a_failed_chat_call_has_the_providers_status_as_its_error_type(
    answer: Any, error_type: str
) -> None:
    """It was the exception class, LLMError, for every status; the conventions ask for the
    provider's error code (the class remains for a failure without one)."""
    inner = OpenAICompatibleClient("http://llm.test/v1", "m", transport=httpx.MockTransport(answer))
    memory, reader = InMemorySpanExporter(), InMemoryMetricReader()
    with tracing(exporters=[memory], metric_readers=[reader]):
        with pytest.raises(LLMError):
            await TracedLLMClient(inner).complete([{"role": "user", "content": "hi"}])
        metrics = reader.get_metrics_data()
    [chat] = memory.get_finished_spans()
    assert chat.attributes["error.type"] == error_type
    assert chat.status.status_code is StatusCode.ERROR
    [duration] = _points(metrics, "gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == error_type
    assert duration.attributes["gen_ai.request.model"] == "m"
    assert "gen_ai.response.model" not in duration.attributes


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("choice", "finish_reason"),
    [
        ({"message": {"content": '{"action": "de'}, "finish_reason": "length"}, "length"),
        ({"message": {"content": None, "refusal": "No."}, "finish_reason": "stop"}, "stop"),
    ],
)
async def test_an_answer_cut_short_or_refused_still_records_its_tokens_and_finish_reason(
    choice: dict[str, Any], finish_reason: str
) -> None:
    """The span of a call that failed recorded no tokens: an answer cut at the limit (or a
    refusal) is billed, and a trace summing tokens under-counted exactly the costly calls."""
    body = {
        "model": "m-1",
        "choices": [choice],
        "usage": {"prompt_tokens": 9, "completion_tokens": 512},
    }
    inner = OpenAICompatibleClient(
        "http://llm.test/v1",
        "m",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=body)),
    )
    memory, reader = InMemorySpanExporter(), InMemoryMetricReader()
    with tracing(exporters=[memory], metric_readers=[reader]):
        with pytest.raises(LLMError):
            await TracedLLMClient(inner).complete([{"role": "user", "content": "hi"}])
        metrics = reader.get_metrics_data()
    [chat] = memory.get_finished_spans()
    assert chat.status.status_code is StatusCode.ERROR
    assert chat.attributes["gen_ai.usage.input_tokens"] == 9
    assert chat.attributes["gen_ai.usage.output_tokens"] == 512
    assert chat.attributes["gen_ai.response.model"] == "m-1"
    assert chat.attributes["gen_ai.response.finish_reasons"] == (finish_reason,)
    tokens = _points(metrics, "gen_ai.client.token.usage")
    assert sorted((p.attributes["gen_ai.token.type"], p.sum) for p in tokens) == [
        ("input", 9),
        ("output", 512),
    ]
    assert all("error.type" not in p.attributes for p in tokens)


@pytest.mark.anyio
async def test_an_escalation_llm_call_is_a_chat_span_inside_the_run_trace() -> None:
    scenario = load_scenario(DEMOTE)
    reply = json.dumps({"action": "demote", "fallback": "RefundTicketed", "reason": "no provider"})
    client = TracedLLMClient(_ScriptedClient([reply]))
    invoker = FaultInjector(SimulatedInvoker(scenario.graph), scenario.spec.faults)
    executor = Executor(
        scenario.graph, invoker, policy=scenario.policy, escalation=LLMEscalation(client)
    )
    memory = InMemorySpanExporter()
    log = DecisionLog()
    with tracing(exporters=[memory]), traced_run(log, "refund", executor=executor) as run:
        result = await executor.run(scenario.spec.inputs, log=log)
        run.set_result(result)
    assert result.outcome == "demoted"
    spans = {s.name: s for s in memory.get_finished_spans()}
    chat, root = spans["chat gpt-test"], spans["invoke_workflow orchestrator"]
    assert chat.parent is not None and chat.parent.span_id == root.context.span_id
    assert root.attributes["orchestrator.llm_calls"] == 1


@pytest.mark.anyio
async def test_llm_wrapper_is_transparent_with_tracing_off() -> None:
    client = TracedLLMClient(_ScriptedClient(["ok"]))
    assert await client.complete([]) == "ok"


# -- exporters --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_trace_file_holds_collector_format_lines_and_appears_only_when_complete(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out" / "trace.jsonl"
    with tracing(path):
        await _run(REROUTE)
        assert not path.exists()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    kinds = [next(iter(line)) for line in lines]
    assert "resourceSpans" in kinds and kinds[-1] == "resourceMetrics"
    first = lines[0]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(first["traceId"]) == 32 and int(first["traceId"], 16)
    assert len(first["spanId"]) == 16 and int(first["spanId"], 16)
    assert first["kind"] == 1  # SPAN_KIND_INTERNAL: OTLP/JSON writes enums as integers
    assert [p.name for p in path.parent.iterdir()] == ["trace.jsonl"]  # no temp file left
    spans = read_spans(path)
    assert {s.name for s in spans} >= {"invoke_workflow CS-10", "execute_tool Stripe"}
    assert {s.service for s in spans} == {"orchestrator"}


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, body))
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_collector() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    received: list[tuple[str, bytes]] = []
    handler = type("Handler", (_Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _span_names(bodies: list[bytes]) -> set[str]:
    names = set()
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                names.update(s.name for s in scope_spans.spans)
    return names


@pytest.mark.anyio
async def test_otlp_http_export_follows_the_standard_environment_variables(
    http_collector: tuple[str, list[tuple[str, bytes]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, received = http_collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    with tracing() as handle:
        assert handle.otlp == "http/protobuf"
        await _run(REROUTE)
    assert {path for path, _ in received} == {"/v1/traces"}
    assert {"invoke_workflow CS-10", "execute_tool Stripe"} <= _span_names(
        [body for _, body in received]
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("variables", "paths"),
    [
        # Traces off by their own variable: metrics still go to the endpoint (their default
        # exporter is otlp), and the other way round.
        ({"OTEL_TRACES_EXPORTER": "none"}, {"/v1/metrics"}),
        ({"OTEL_METRICS_EXPORTER": "none"}, {"/v1/traces"}),
        # A per-signal endpoint alone sends that signal only, to that URL as it is.
        ({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "{base}/custom/metrics"}, {"/custom/metrics"}),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "{base}/custom/traces"}, {"/custom/traces"}),
    ],
)
async def test_traces_and_metrics_are_configured_apart_by_their_own_variables(
    http_collector: tuple[str, list[tuple[str, bytes]]],
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    paths: set[str],
) -> None:
    """Traces off had turned metrics off too, and a metrics endpoint alone exported nothing (a
    traces endpoint alone sent metrics to localhost)."""
    base, received = http_collector
    if not any(name.endswith("_ENDPOINT") for name in variables):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", base)
    for name, value in variables.items():
        monkeypatch.setenv(name, value.format(base=base))
    with tracing() as handle:
        await _run(REROUTE)
    assert {path for path, _ in received} == paths
    assert (handle.otlp is not None) == any("traces" in p for p in paths)
    assert (handle.otlp_metrics is not None) == any("metrics" in p for p in paths)


def test_an_exporter_other_than_otlp_or_none_is_named_in_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    with tracing() as handle:
        assert not handle.enabled  # console is not ours to start, and OTLP was not asked for
    # It had said "ignored", which read as if OTLP went on: the traces went nowhere.
    said = "OTEL_TRACES_EXPORTER names console: only otlp and none are supported here; traces"
    assert f"{said} are not exported" in caplog.text
    caplog.clear()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console,otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "0.2")
    with tracing() as handle:
        assert handle.otlp is not None
    assert "names console: only otlp and none are supported here; ignored" in caplog.text


@pytest.mark.anyio
async def test_otlp_grpc_export_reaches_a_loopback_collector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    received: list[bytes] = []

    class Service(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
        def Export(self, request: Any, context: Any) -> ExportTraceServiceResponse:
            received.append(request.SerializeToString())
            return ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    try:
        with tracing(otlp=True, protocol="grpc", endpoint=f"http://127.0.0.1:{port}") as handle:
            assert handle.otlp == "grpc"
            await _run(DEMOTE)
    finally:
        server.stop(grace=None)
    assert {"invoke_workflow CS-5", "execute_tool ManualTicket"} <= _span_names(received)


class _RefusingCollector(BaseHTTPRequestHandler):
    """Answers every export with 400: a collector that does not take what is sent."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(400)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_failing_otlp_exporter_warns_once_not_at_every_export(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from opentelemetry.sdk.metrics.export import MetricExportResult
    from opentelemetry.sdk.trace.export import SpanExportResult

    from orchestrator.telemetry._otlp import ReportedMetricExporter, ReportedSpanExporter

    class Failing:
        def __init__(self, failure: Any) -> None:
            self.failure = failure
            self._preferred_temporality: dict[Any, Any] = {}
            self._preferred_aggregation: dict[Any, Any] = {}

        def export(self, *_: Any, **__: Any) -> Any:
            return self.failure

    spans = ReportedSpanExporter(Failing(SpanExportResult.FAILURE), "http://c/v1/traces")
    metrics = ReportedMetricExporter(Failing(MetricExportResult.FAILURE), "http://c/v1/metrics")
    for _ in range(3):
        assert spans.export([]) is SpanExportResult.FAILURE
        assert metrics.export(None) is MetricExportResult.FAILURE  # type: ignore[arg-type]
    warnings = [r.getMessage() for r in caplog.records if r.name == "orchestrator.telemetry"]
    assert [w.split(" failed")[0] for w in warnings] == [
        "OTLP export of spans to http://c/v1/traces",
        "OTLP export of metrics to http://c/v1/metrics",
    ]


@pytest.mark.anyio
async def test_a_failed_otlp_export_is_a_warning_naming_the_endpoint(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The SDK's own line says only that a batch failed, not where it was sent."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RefusingCollector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with tracing(otlp=True, endpoint=endpoint):
            await _run(DEMOTE)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    warnings = [r.getMessage() for r in caplog.records if r.name == "orchestrator.telemetry"]
    assert [w.split(" failed")[0] for w in warnings] == [
        f"OTLP export of spans to {endpoint}/v1/traces",
        f"OTLP export of metrics to {endpoint}/v1/metrics",
    ]
    assert "OTEL_EXPORTER_OTLP_TIMEOUT" in warnings[0]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "not-a-url"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "localhost:4318/v1/traces"),
    ],
)
def test_an_otlp_http_endpoint_that_is_no_url_is_refused_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """It was posted to, every export failed, and the warning asked whether a collector was
    listening there."""
    monkeypatch.setenv(variable, value)
    refused = rf"{variable}: expected an http:// or https:// URL"
    with pytest.raises(TelemetryError, match=refused), tracing(otlp=True):
        pass
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")  # a gRPC target needs no scheme
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "0.2")
    with tracing(otlp=True):
        pass


@pytest.mark.anyio
async def test_a_deferred_otlp_export_runs_after_the_block_has_put_the_trace_file_in_place(
    tmp_path: Path, http_collector: tuple[str, list[tuple[str, bytes]]]
) -> None:
    endpoint, received = http_collector
    path = tmp_path / "trace.jsonl"
    with ExitStack() as after_output:
        with tracing(path, otlp=True, endpoint=endpoint, defer_otlp=after_output.callback):
            await _run(REROUTE)
        # The block is over: the file is complete (spans, then the metrics), OTLP not yet sent.
        kinds = [next(iter(json.loads(line))) for line in path.read_text().splitlines()]
        assert "resourceSpans" in kinds and kinds[-1] == "resourceMetrics"
        assert received == []
    assert {path for path, _ in received} == {"/v1/traces", "/v1/metrics"}
    assert "execute_tool Stripe" in _span_names([b for p, b in received if p == "/v1/traces"])


def test_a_command_prints_its_result_before_waiting_on_a_collector_that_does_not_answer() -> None:
    """A dead collector held the result table back 14-21 s, until the exporters gave up."""
    release, arrived = threading.Event(), threading.Event()
    received: list[str] = []

    class Holding(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append(self.path)
            arrived.set()
            release.wait(60)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Holding)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "60",  # seconds: longer than the test waits for output
    }
    command = "import sys; from orchestrator.cli import main; sys.argv[0] = 'orchestrator'; main()"
    lines: queue.Queue[str] = queue.Queue()
    try:
        with subprocess.Popen(
            [sys.executable, "-c", command, "scenario", "run", str(DEMOTE)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=root,
        ) as process:
            reader = threading.Thread(target=lambda: [lines.put(x) for x in process.stdout or ()])
            reader.start()
            try:
                seen = ""
                while "CS-5" not in seen:
                    seen += lines.get(timeout=30)  # queue.Empty: no result while export waits
                # The result is out while the command still waits on the collector.
                assert arrived.wait(30) and process.poll() is None
            finally:
                release.set()
                try:
                    process.wait(timeout=60)
                finally:
                    process.kill()
                    reader.join()
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join()
    assert process.returncode == 0
    assert "/v1/traces" in received


# -- trace show -------------------------------------------------------------------------------


def test_trace_show_prints_each_run_as_an_indented_tree_with_its_decisions(tmp_path: Path) -> None:
    trace_file = tmp_path / "trace.jsonl"
    ran = runner.invoke(
        app, ["scenario", "run", str(REROUTE), str(DEMOTE), "--trace-file", str(trace_file)]
    )
    assert ran.exit_code == 0, ran.output
    shown = runner.invoke(app, ["trace", "show", str(trace_file)])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert sum(line.startswith("trace ") for line in lines) == 2
    root = next(line for line in lines if "invoke_workflow CS-10" in line)
    step = next(line for line in lines if "execute_tool Razorpay" in line)
    indent = len(root) - len(root.lstrip())
    assert len(step) - len(step.lstrip()) > indent
    assert " ms" in step
    assert any("reroute Stripe" in line and "path CRM > Razorpay" in line for line in lines)
    assert any("demote RefundTicketed" in line for line in lines)
    assert any("[error]" in line and "execute_tool Stripe" in line for line in lines)


def test_trace_show_names_the_file_and_line_of_a_non_otlp_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"resourceSpans": []}\nnot json\n')
    shown = runner.invoke(app, ["trace", "show", str(bad)])
    assert shown.exit_code == 2
    assert "bad.jsonl" in shown.output and "line 2" in shown.output
    # Another program's JSON lines had read as "no spans", naming no line.
    other = tmp_path / "events.jsonl"
    other.write_text('{"resourceSpans": []}\n{"event": "login", "user": 7}\n')
    with pytest.raises(TelemetryError, match=r"events\.jsonl: line 2: not an OTLP export"):
        read_spans(other)


_SPAN = {
    "traceId": "ab",
    "spanId": "cd",
    "name": "step",
    "startTimeUnixNano": "1000000",
    "endTimeUnixNano": "3000000",
}


def _request(span: object) -> dict[str, Any]:
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            {"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x"}]}]}]},
            "line 1: /resourceSpans/0/scopeSpans/0/spans/0: missing traceId (expected OTLP JSON "
            "as the Collector file exporter writes)",
        ),
        (
            {"resourceSpans": {"scopeSpans": []}},
            "line 1: /resourceSpans: expected an array, got an object",
        ),
        (
            _request(7),
            "line 1: /resourceSpans/0/scopeSpans/0/spans/0: expected an object, got the number 7",
        ),
        (
            _request({**_SPAN, "startTimeUnixNano": "soon"}),
            "line 1: /resourceSpans/0/scopeSpans/0/spans/0/startTimeUnixNano: expected an "
            "integer, got the string 'soon'",
        ),
        (
            _request({**_SPAN, "status": {"code": [2]}}),
            "line 1: /resourceSpans/0/scopeSpans/0/spans/0/status/code: expected an integer or "
            "a status name, got an array",
        ),
        (
            _request({**_SPAN, "events": [{"attributes": []}]}),
            "line 1: /resourceSpans/0/scopeSpans/0/spans/0/events/0: missing name",
        ),
        (
            _request({**_SPAN, "attributes": [{"key": "n", "value": {"intValue": "many"}}]}),
            "line 1: /resourceSpans/0/scopeSpans/0/spans/0/attributes/0/value/intValue: "
            "expected an integer, got the string 'many'",
        ),
        (
            {"resourceSpans": [{"resource": {"attributes": [{"value": {}}]}}]},
            "line 1: /resourceSpans/0/resource/attributes/0: missing key",
        ),
        (
            _request({**_SPAN, "traceId": None}),
            "line 1: /resourceSpans/0/scopeSpans/0/spans/0: missing traceId",
        ),
        (
            _request({**_SPAN, "endTimeUnixNano": "1"}),
            "line 1: /resourceSpans/0/scopeSpans/0/spans/0: endTimeUnixNano is before "
            "startTimeUnixNano",
        ),
    ],
)
def test_trace_show_names_the_line_and_json_pointer_of_a_missing_or_malformed_field(
    tmp_path: Path, line: object, message: str
) -> None:
    bad = tmp_path / "t.jsonl"
    bad.write_text(json.dumps(line) + "\n")
    with pytest.raises(TelemetryError) as info:
        read_spans(bad)
    assert str(info.value).startswith(f"{bad}: {message}")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("line", "got"), [("[1, 2]", "an array"), ('"spans"', "the string 'spans'"), ("null", "null")]
)
def test_trace_show_rejects_a_line_that_is_not_a_json_object(
    tmp_path: Path, line: str, got: str
) -> None:
    bad = tmp_path / "t.jsonl"
    bad.write_text(json.dumps(_request(_SPAN)) + "\n" + line + "\n")
    shown = runner.invoke(app, ["trace", "show", str(bad)])
    assert shown.exit_code == 2
    assert shown.output.strip() == (
        f"error: {bad}: line 2: expected a JSON object with resourceSpans, got {got}"
    )


def test_trace_show_reads_hand_written_otlp_json_and_skips_metric_lines(tmp_path: Path) -> None:
    span = {
        **_SPAN,
        "startTimeUnixNano": 1_000_000,  # integers may be numbers or decimal strings
        "status": {"code": "STATUS_CODE_ERROR"},
        "attributes": [{"key": "orchestrator.attempt", "value": {"intValue": "2"}}],
        "events": [{"name": "orchestrator.retry", "timeUnixNano": "2000000"}],
    }
    trace = tmp_path / "t.jsonl"
    unset = {**_SPAN, "status": {"code": "STATUS_CODE_UNSET"}, "events": None}  # null: unset
    trace.write_text(
        json.dumps({"resourceMetrics": []})
        + "\n"
        + json.dumps(_request(span))
        + "\n"
        + json.dumps({"resourceSpans": None})
        + "\n"
        + json.dumps(_request(unset))
    )
    record, unset_record = read_spans(trace)
    assert (unset_record.status, unset_record.events) == ("unset", [])
    assert (record.trace_id, record.name, record.status) == ("ab", "step", "error")
    assert record.attributes == {"orchestrator.attempt": 2}
    assert record.events == [(2_000_000, "orchestrator.retry", {})]
    assert record.duration_ms == pytest.approx(2.0)


def test_trace_show_shows_spans_whose_parents_form_a_loop(tmp_path: Path) -> None:
    """Two spans naming each other as parent reached no root: the header said 3 spans and the
    tree showed one."""
    spans = [
        {**_SPAN, "spanId": "a1", "parentSpanId": "b2", "name": "A"},
        {**_SPAN, "spanId": "b2", "parentSpanId": "a1", "name": "B"},
        {
            **_SPAN,
            "spanId": "c3",
            "name": "C",
            "attributes": [{"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}}],
        },
    ]
    # D hangs below the loop and started first: the loop is cut at A, its earliest span, not
    # at D (a reviewer's).
    spans.append(
        {**_SPAN, "spanId": "d4", "parentSpanId": "a1", "name": "D", "startTimeUnixNano": "500000"}
    )
    trace = tmp_path / "loop.jsonl"
    trace.write_text("\n".join(json.dumps(_request(span)) for span in spans))
    lines = render_traces(read_spans(trace))
    assert lines[0].startswith("trace ab  4 spans")
    assert [line.split()[0] for line in lines[1:]] == ["C", "A", "D", "B"]
    assert lines[2].startswith("  A") and lines[4].startswith("    B")  # under A: cut there
    assert lines[1].endswith("provider=openai")  # it had read "name=openai"


# -- routing ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_routing_is_a_retrieval_span_with_retrieve_and_rerank_children(sample_router: Any) -> None:
    memory = InMemorySpanExporter()
    reader = InMemoryMetricReader()
    with tracing(exporters=[memory], metric_readers=[reader]):
        result = sample_router.route("refund the customer's last card payment", k=3)
        values = _values(reader.get_metrics_data())
    spans = {s.name: s for s in memory.get_finished_spans()}
    retrieval = spans["retrieval skills"]
    assert retrieval.attributes["gen_ai.operation.name"] == "retrieval"
    assert retrieval.attributes["gen_ai.retrieval.top_k"] == 3
    assert list(retrieval.attributes["orchestrator.matches"]) == [m.id for m in result.matches]
    for child in ("retrieve", "rerank"):
        parent = spans[child].parent
        assert parent is not None and parent.span_id == retrieval.context.span_id
    assert values["orchestrator.routing.duration"] == 1


@pytest.mark.anyio
async def test_a_reasoning_steps_span_carries_its_effort_and_the_tokens_it_spent(
    tmp_path: Path,
) -> None:
    from orchestrator.effort import EffortPolicy, EffortRouter
    from orchestrator.errors import ToolCallError
    from orchestrator.execution import Reasoned
    from orchestrator.graph import ToolGraph

    graph = ToolGraph(start="Start", goal="Done", name="brief")
    graph.add_tool("summarise", description="Summarise the report for the board.")
    graph.add_edge("Start", "summarise")
    graph.add_edge("summarise", "Done")

    class Thinking:
        async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any:
            raise AssertionError("called with an effort")

        async def invoke_with_effort(
            self, tool: str, arguments: Mapping[str, Any], effort: str
        ) -> Any:
            if effort == "low":
                raise ToolCallError("shallow", tool=tool, tokens=180)
            return Reasoned({"summary": "..."}, tokens=640)

    memory = InMemorySpanExporter()
    trace_file = tmp_path / "trace.jsonl"
    router = EffortRouter(EffortPolicy(features="signals"))
    log = DecisionLog()
    with tracing(trace_file, exporters=[memory]), traced_run(log, "brief the board") as run:
        run.set_result(await Executor(graph, Thinking(), effort=router).run(log=log))
    attempts = _named(memory.get_finished_spans(), "execute_tool summarise")
    assert [(s.attributes["orchestrator.effort"], s.attributes["orchestrator.tokens"])
            for s in attempts] == [("low", 180.0), ("medium", 640.0)]  # fmt: skip
    shown = runner.invoke(app, ["trace", "show", str(trace_file)])
    step = [line for line in shown.output.splitlines() if "execute_tool summarise" in line]
    assert "effort=low" in step[0] and "tokens=180" in step[0]


@pytest.mark.anyio
async def test_a_run_that_ends_before_any_step_is_marked_as_it_ended(sample_router: Any) -> None:
    """Nothing fits: its root had no outcome and an unset status, like a healthy run, and the
    escalation counter was labelled with the task's own text."""
    from orchestrator import Orchestrator

    memory, reader = InMemorySpanExporter(), InMemoryMetricReader()
    with tracing(exporters=[memory], metric_readers=[reader]) as traced:
        task = "order me a large pepperoni pizza"
        result = await Orchestrator(sample_router).run(task, tools={"geocode_address": dict})
        traced.force_flush()
        metrics = reader.get_metrics_data()
    assert result.outcome == "escalated" and not result.log.count("execute")
    [root] = [s for s in memory.get_finished_spans() if s.name.startswith("invoke_workflow")]
    assert root.attributes["orchestrator.outcome"] == "escalated"
    assert root.status.status_code == StatusCode.ERROR
    points = [
        p
        for r in metrics.resource_metrics
        for sc in r.scope_metrics
        for m in sc.metrics
        if m.name == "orchestrator.escalations"
        for p in m.data.data_points
    ]
    assert [dict(p.attributes) for p in points] == [{}]


@pytest.mark.anyio
async def test_duration_histograms_have_the_genai_buckets_in_seconds() -> None:
    """The SDK's default buckets are meant for milliseconds: every step under 5 s fell in one."""
    reader = InMemoryMetricReader()
    with tracing(metric_readers=[reader]):
        await _run(REROUTE)
        metrics = reader.get_metrics_data()
    [step] = [
        m
        for r in metrics.resource_metrics
        for sc in r.scope_metrics
        for m in sc.metrics
        if m.name == "gen_ai.execute_tool.duration"
    ]
    bounds = list(step.data.data_points[0].explicit_bounds)
    assert bounds[:3] == [0.01, 0.02, 0.04] and bounds[-1] == 81.92


def test_a_failed_attempts_span_ends_with_the_attempt_not_with_its_answer() -> None:
    """It stayed open until the failure was answered: an LLM asked for 35 ms made a tool that
    failed in 1 ms look 35 ms long."""
    import time

    memory = InMemorySpanExporter()
    log = DecisionLog()
    with tracing(exporters=[memory]), traced_run(log, "refund"):
        log.record("fail", "Stripe", "error: 503", kind="error", duration_ms=1.0)
        time.sleep(0.05)  # the answer takes a while
        log.record("reroute", "Stripe", "error: 503; new route Razorpay")
    [failed] = _named(memory.get_finished_spans(), "execute_tool Stripe")
    assert failed.end_time is not None and failed.start_time is not None
    assert (failed.end_time - failed.start_time) / 1e6 < 10.0
    assert [e.name for e in failed.events] == ["exception", "orchestrator.reroute"]


@pytest.mark.parametrize(
    ("variable", "value", "service"),
    [
        ("OTEL_SERVICE_NAME", "", "orchestrator"),
        ("OTEL_RESOURCE_ATTRIBUTES", "app.service.name=billing", "orchestrator"),
        ("OTEL_RESOURCE_ATTRIBUTES", "team=a, service.name=billing", "billing"),
        ("OTEL_SERVICE_NAME", "pay", "pay"),
    ],
)
def test_the_service_is_named_orchestrator_unless_the_environment_names_one(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, service: str
) -> None:
    """A key merely ending in service.name, or an empty variable, had left the service
    unnamed (unknown_service:python)."""
    monkeypatch.setenv(variable, value)
    memory = InMemorySpanExporter()
    with tracing(exporters=[memory]), span("route"):
        pass
    [routed] = memory.get_finished_spans()
    assert routed.resource.attributes["service.name"] == service


def _stopped_run(*decisions: tuple[str, str, str]) -> tuple[Any, DecisionLog]:
    """A traced run that logs ``decisions`` and is stopped by Ctrl-C: its root span, its log."""
    memory = InMemorySpanExporter()
    log = DecisionLog()
    with (
        pytest.raises(KeyboardInterrupt),
        tracing(exporters=[memory]),
        traced_run(log, "refund"),
    ):
        for action, tool, reason in decisions:
            log.record(action, tool, reason, duration_ms=1.0)  # type: ignore[arg-type]
        raise KeyboardInterrupt
    [root] = _named(memory.get_finished_spans(), "invoke_workflow orchestrator")
    return root, log


def test_a_run_stopped_mid_way_is_marked_interrupted() -> None:
    root, _ = _stopped_run(("execute", "CRM", "ok"))
    assert root.attributes["orchestrator.outcome"] == "interrupted"
    assert root.status.status_code == StatusCode.ERROR


def test_a_failure_awaiting_its_answer_when_the_run_is_stopped_is_not_silent() -> None:
    """Ctrl-C while the escalation of a failure was asked had counted that failure as silent,
    on the root span and in the "must stay 0" metric; a failure skipped before is still one."""
    root, log = _stopped_run(
        ("fail", "CRM", "error: boom"),
        ("execute", "CRM", "ok"),  # called again, no retry said
        ("fail", "Stripe", "down: refused"),
        ("execute", "Email", "ok"),  # carried on past Stripe's failure
        ("fail", "Razorpay", "down: refused"),
    )
    assert root.attributes["orchestrator.silent_failures"] == 2  # CRM's and Stripe's
    assert [d.tool for d in silent_failures(log, ended=False)] == ["CRM", "Stripe"]
    assert [d.tool for d in silent_failures(log)] == ["CRM", "Stripe", "Razorpay"]


@pytest.mark.anyio
async def test_a_reply_without_usage_records_no_token_counts() -> None:
    """The client reads missing usage as 0 tokens; spans and the histogram recorded zeros."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"choices": [{"message": {"content": "ok"}}]})

    inner = OpenAICompatibleClient("http://llm.test/v1", "m", transport=httpx.MockTransport(answer))
    memory, reader = InMemorySpanExporter(), InMemoryMetricReader()
    with tracing(exporters=[memory], metric_readers=[reader]):
        assert await TracedLLMClient(inner).complete([{"role": "user", "content": "hi"}]) == "ok"
        values = _values(reader.get_metrics_data())
    [chat] = memory.get_finished_spans()
    assert "gen_ai.usage.input_tokens" not in chat.attributes
    assert "gen_ai.client.token.usage" not in values


@pytest.mark.anyio
async def test_an_llm_call_cancelled_mid_way_says_so_on_its_span() -> None:
    """A chat span cut by a timeout (or Ctrl-C) had ended looking like a call that worked: no
    event, no status, nothing to tell it from a success without usage."""

    async def answer(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(5)
        return httpx.Response(200, json={"choices": [{"message": {"content": "ok"}}]})

    inner = OpenAICompatibleClient("http://llm.test/v1", "m", transport=httpx.MockTransport(answer))
    memory, reader = InMemorySpanExporter(), InMemoryMetricReader()
    with tracing(exporters=[memory], metric_readers=[reader]):
        with anyio.move_on_after(0.05):
            await TracedLLMClient(inner).complete([{"role": "user", "content": "hi"}])
        recorded = reader.get_metrics_data()  # None: no metric at all
    [chat] = memory.get_finished_spans()
    assert [e.name for e in chat.events] == ["orchestrator.cancel"]
    assert "CancelledError" in chat.events[0].attributes["orchestrator.reason"]
    assert chat.status.status_code is StatusCode.UNSET  # stopped, not the model's error
    assert recorded is None or "gen_ai.client.operation.duration" not in _values(recorded)


@pytest.mark.anyio
async def test_a_straggler_stopped_once_the_goal_is_reached_has_its_own_span() -> None:
    """The slow branch a quorum no longer waits for was called but had no span (six calls, five
    spans): only the end of a call made one, and a cancelled call has none."""
    memory = InMemorySpanExporter()
    with tracing(exporters=[memory]):
        [result] = await _run(SCENARIOS / "rf10_slow_branch.yaml")
    [cancel] = [d for d in result.log if d.action == "cancel"]
    assert cancel.tool == "Exa" and cancel.data["duration_ms"] > 0
    [exa] = _named(memory.get_finished_spans(), "execute_tool Exa")
    assert [e.name for e in exa.events] == ["orchestrator.cancel"]
    assert exa.status.status_code is StatusCode.UNSET  # stopped by the run, not its error


@pytest.mark.anyio
async def test_a_call_running_when_the_run_is_stopped_is_logged_and_traced() -> None:
    """Ctrl-C or SIGTERM mid-call left the hung tool out of the trace: only CRM's span, not the
    call of Stripe that had run for seconds."""
    from orchestrator.execution import CallableInvoker
    from orchestrator.graph import load_graph

    graph = load_graph(SCENARIOS.parent.parent / "graphs" / "customer_support.yaml")

    async def tool(arguments: Mapping[str, Any]) -> Any:
        return {"refund_id": "r-1"}

    async def hangs(arguments: Mapping[str, Any]) -> Any:
        await anyio.sleep(60)

    tools = {t: tool for t in graph.tools()} | {"Stripe": hangs}
    memory = InMemorySpanExporter()
    log = DecisionLog()
    with tracing(exporters=[memory]), traced_run(log, "refund"):
        with anyio.move_on_after(0.3):
            await Executor(graph, CallableInvoker(tools)).run(log=log)
    [stopped] = [d for d in log if d.action == "cancel"]
    assert stopped.tool == "Stripe" and stopped.reason == "stopped mid-call: the run was stopped"
    assert stopped.data["duration_ms"] >= 200
    assert _named(memory.get_finished_spans(), "execute_tool Stripe")
