"""Traces in a real backend: start Arize Phoenix on loopback, export scenario runs to it over
OTLP (HTTP and gRPC), and read the spans back through Phoenix's REST API.

Phoenix lives in its own venv (``.venv-phoenix``, made by scripts/test.sh) because its pins
would fight ours; the test finds it there or via ``ORCHESTRATOR_PHOENIX``. Locally it is skipped
with the reason when absent; under ``CI=true`` a missing Phoenix fails the run instead.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from orchestrator.scenarios import load_scenario, run_scenario
from orchestrator.telemetry import tracing

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "tests" / "scenarios"
pytestmark = pytest.mark.phoenix


def _phoenix_executable() -> Path | None:
    configured = os.environ.get("ORCHESTRATOR_PHOENIX")
    candidate = Path(configured) if configured else REPO / ".venv-phoenix" / "bin" / "phoenix"
    return candidate if candidate.is_file() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    executable = _phoenix_executable()
    if executable is None:
        reason = (
            "Arize Phoenix not installed: run scripts/test.sh (it creates .venv-phoenix) or set "
            "ORCHESTRATOR_PHOENIX to a phoenix executable"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the Phoenix test: {reason}")
        pytest.skip(reason)
    http_port, grpc_port = _free_port(), _free_port()
    workdir = tmp_path_factory.mktemp("phoenix")
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(workdir),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(http_port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        # Offline and quiet: no analytics, no downloads, no sandboxes or assistant.
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
        "PHOENIX_ALLOWED_SANDBOX_PROVIDERS": "NONE",
        "PHOENIX_DISABLE_AGENT_ASSISTANT": "true",
    }
    log = (workdir / "phoenix.log").open("w")
    process = subprocess.Popen(
        [str(executable), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"Phoenix exited with {process.returncode}; see {workdir}/phoenix.log")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Phoenix did not start within 180 s; see {workdir}/phoenix.log")
            time.sleep(0.5)
        yield {"http": base, "grpc": f"http://127.0.0.1:{grpc_port}"}
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def _spans(base: str, project: str, expected: int) -> list[dict[str, Any]]:
    """Poll Phoenix's span search until ``expected`` spans are in (ingestion is asynchronous)."""
    url = f"{base}/v1/projects/{project}/spans/otlpv1"
    found: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(120):
            response = await client.get(url, params={"limit": 1000})
            if response.status_code == 200:
                found = response.json()["data"]
                if len(found) >= expected:
                    return found
            await anyio.sleep(0.25)
    raise AssertionError(f"Phoenix holds {len(found)} spans in {project}, expected {expected}")


def _attributes(item: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for entry in item.get("attributes") or []:
        value = {k: v for k, v in entry["value"].items() if v is not None}
        out[entry["key"]] = next(iter(value.values()), None)
    return out


async def _export_scenarios(
    monkeypatch: pytest.MonkeyPatch, project: str, protocol: str, endpoint: str
) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"openinference.project.name={project}")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")  # Phoenix takes traces only
    with tracing(otlp=True, protocol=protocol, endpoint=endpoint):  # type: ignore[arg-type]
        for name in ("cs10_persistent_error_rerouted.yaml", "cs05_both_payments_down_demote.yaml"):
            result = await run_scenario(load_scenario(SCENARIOS / name))
            assert result.passed, result.mismatches


def _check_reroute_trace(spans: list[dict[str, Any]]) -> None:
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for item in spans:
        by_trace.setdefault(item["trace_id"], []).append(item)
    assert len(by_trace) == 2, "one trace per scenario run"
    roots = {item["name"]: item for item in spans if not item.get("parent_span_id")}
    assert set(roots) == {"invoke_workflow CS-10", "invoke_workflow CS-5"}
    cs10 = by_trace[roots["invoke_workflow CS-10"]["trace_id"]]
    stripe = [s for s in cs10 if s["name"] == "execute_tool Stripe"]
    assert len(stripe) == 3, "three attempts: the first try and two retries"
    for attempt in stripe:
        attributes = _attributes(attempt)
        assert attributes["gen_ai.operation.name"] == "execute_tool"
        assert attributes["gen_ai.tool.name"] == "Stripe"
        assert attributes["gen_ai.tool.call.id"]
        assert attributes["error.type"] == "error"
        assert attempt["status"]["code"] == 2  # STATUS_CODE_ERROR
        assert attempt["parent_span_id"] == roots["invoke_workflow CS-10"]["span_id"]
        assert "exception" in [e["name"] for e in attempt["events"]]
    reroutes = [e for s in stripe for e in s["events"] if e["name"] == "orchestrator.reroute"]
    assert len(reroutes) == 1
    path = _attributes(reroutes[0])["orchestrator.path"]
    assert "Razorpay" in str(path)
    names = {s["name"] for s in cs10}
    assert {"execute_tool CRM", "execute_tool Razorpay", "execute_tool Email"} <= names
    cs5_events = [e["name"] for e in roots["invoke_workflow CS-5"]["events"]]
    assert "orchestrator.escalate" in cs5_events
    assert "orchestrator.demote" in cs5_events


@pytest.mark.anyio
async def test_scenario_traces_exported_over_otlp_http_are_read_back_from_phoenix(
    phoenix: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await _export_scenarios(monkeypatch, "orchestrator-http", "http/protobuf", phoenix["http"])
    # CS-10: root + CRM + 3 Stripe + Razorpay + Email; CS-5: root + CRM + Stripe + Razorpay +
    # ManualTicket.
    _check_reroute_trace(await _spans(phoenix["http"], "orchestrator-http", 12))


@pytest.mark.anyio
async def test_scenario_traces_exported_over_otlp_grpc_are_read_back_from_phoenix(
    phoenix: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await _export_scenarios(monkeypatch, "orchestrator-grpc", "grpc", phoenix["grpc"])
    _check_reroute_trace(await _spans(phoenix["http"], "orchestrator-grpc", 12))
