"""The planning CLI: `route --plan`, `run` (simulated tools, bound functions, injected faults)
and `demo`, the README's main job."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orchestrator.cli import _default_index_dir, app
from tests.conftest import SAMPLE_CATALOG

runner = CliRunner()

REFUND = "refund the customer's last card payment"


@pytest.fixture
def index_dir(sample_index_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(sample_index_dir, target)
    return target


def _invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_route_plan_adds_the_plan_to_each_json_line(index_dir: Path, tmp_path: Path) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"id": "r", "query": REFUND}) + "\n")
    result = _invoke("route", "--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir),
                     "--queries", str(queries), "--plan", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    [line] = [json.loads(x) for x in result.stdout.splitlines()]
    assert line["id"] == "r" and line["results"]
    plan = line["plan"]
    assert [set(step) for step in plan] == [{"id", "name", "needs"}] * len(plan)
    ids = [step["id"] for step in plan]
    for position, step in enumerate(plan):  # execution order: producers first
        assert all(ids.index(need) < position for need in step["needs"])
    assert any("refund" in step["id"] for step in plan)


def test_run_heals_an_injected_fault_and_reports_json(index_dir: Path) -> None:
    planned = _invoke("route", "--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir),
                      "--plan", "--json", REFUND)  # fmt: skip
    refund_step = next(s for s in json.loads(planned.stdout)["plan"] if "refund" in s["id"])
    result = _invoke("run", REFUND, "--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir),
                     "--fail", f"{refund_step['id']}:down", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["outcome"] == "completed"
    assert report["reroutes"] == 1
    assert refund_step["id"] not in report["path"]
    actions = [(d["action"], d["tool"]) for d in report["decisions"]]
    assert ("fail", refund_step["id"]) in actions and ("reroute", refund_step["id"]) in actions


def test_run_calls_a_bound_real_function(index_dir: Path, tmp_path: Path, monkeypatch: Any) -> None:
    module = tmp_path / "my_tools.py"
    module.write_text(
        "CALLS = []\n"
        "def refund(**arguments):\n"
        "    CALLS.append(arguments)\n"
        "    return {'refund_id': 're_1', 'status': 'succeeded', 'amount': 5, 'currency': 'eur'}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    task = "refund payment pi_3MtwBw"
    planned = json.loads(_invoke("route", "--catalog", str(SAMPLE_CATALOG), "--index",
                                 str(index_dir), "--plan", "--json", task).stdout)  # fmt: skip
    skill = planned["plan"][-1]["id"]
    result = _invoke("run", task, "--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir),
                     "--tool", f"{skill}=my_tools:refund", "--inputs",
                     '{"payment_id": "pi_3MtwBw"}', "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    import my_tools  # type: ignore[import-not-found]

    assert my_tools.CALLS == [{"payment_id": "pi_3MtwBw"}]
    assert json.loads(result.stdout)["outputs"][skill]["refund_id"] == "re_1"


def test_run_rejects_a_malformed_fault_or_binding() -> None:
    bad_fault = _invoke("run", "x", "--fail", "stripe:melted")
    assert bad_fault.exit_code == 2 and "TOOL:KIND" in bad_fault.output
    bad_tool = _invoke("run", "x", "--tool", "stripe")
    assert bad_tool.exit_code == 2 and "SKILL=module:function" in bad_tool.output


def test_run_exits_1_when_nothing_fits(index_dir: Path) -> None:
    result = _invoke("run", "order me a large pepperoni pizza", "--catalog",
                     str(SAMPLE_CATALOG), "--index", str(index_dir), "--json")  # fmt: skip
    assert result.exit_code == 1
    assert json.loads(result.stdout)["outcome"] == "escalated"


def test_demo_routes_plans_and_heals_a_run_offline(
    sample_index_dir: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_CACHE", str(tmp_path))
    shutil.copytree(sample_index_dir, _default_index_dir(SAMPLE_CATALOG))
    result = _invoke("demo", "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    routed, run = lines[:-1], lines[-1]["run"]
    assert all("plan" in line and "results" in line for line in routed)
    assert run["outcome"] == "completed"
    assert run["reroutes"] >= 1 and run["retries"] >= 1
    assert not [d for d in run["decisions"] if d["action"] == "escalate"]


def test_run_writes_one_trace_with_the_plan_retrieval_and_each_step(
    index_dir: Path, tmp_path: Path
) -> None:
    from orchestrator.telemetry import read_spans

    trace = tmp_path / "trace.jsonl"
    result = _invoke("run", REFUND, "--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir),
                     "--trace-file", str(trace), "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    spans = read_spans(trace)
    assert len({s.trace_id for s in spans}) == 1
    names = [s.name for s in spans]
    assert "invoke_workflow orchestrator" in names and "plan" in names
    assert any(n.startswith("retrieval") for n in names)  # routing nests under the plan
    steps = [s.name.removeprefix("execute_tool ") for s in spans if s.name.startswith("execute_")]
    assert sorted(steps) == sorted(report["path"])
