"""The examples run as a user runs them (a fresh process, the packaged sample catalog) and end
as their docstrings say."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(name: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_plan_and_run_heals_onto_another_geocoder_and_feeds_its_coordinates_on() -> None:
    out = _run("plan_and_run.py")
    completed = next(line for line in out.splitlines() if line.startswith("completed via "))
    geocoder, forecaster = completed.removeprefix("completed via ").split(" > ")
    assert "reroute" in out and "escalate" not in out
    # The forecast was called with the coordinates the geocoder that answered returned.
    assert f"'{forecaster}': {{'days': [{{" in out and "'at': [37.3318, -122.0312]" in out
    chosen, _, alternatives = out.splitlines()[0].partition("alternatives")
    assert geocoder != chosen.split()[0] and repr(geocoder) in alternatives  # healed across


@pytest.mark.slow
def test_route_and_heal_routes_then_completes_around_the_payment_provider() -> None:
    out = _run("route_and_heal.py")
    assert "routing: fits=True" in out
    assert "execution: completed via" in out and "reroute" in out


@pytest.mark.slow
def test_mcp_plan_and_run_waits_for_the_timezone_then_heals_onto_the_other_server() -> None:
    out = _run("mcp_plan_and_run.py")
    first = out.splitlines()[0].split()[0]  # the step's chosen tool, one of the two servers'
    assert "inputs the caller must give: ['timezone']" in out
    assert "without inputs: escalated: not started" in out and "['timezone']" in out
    other = "time_a" if first.startswith("time_b/") else "time_b"
    assert f"completed via {other}/get_current_time" in out and "reroute" in out
    assert "'timezone': 'Asia/Tokyo'" in out  # the structured content, as the step's output


@pytest.mark.slow
def test_functions_as_catalog_plans_the_lookup_and_runs_on_the_values_the_task_writes() -> None:
    out = _run("functions_as_catalog.py")
    assert "given {'customer_email': 'jane@example.com'}" in out
    assert "given {'reason': 'duplicate'}" in out
    assert "completed via find_order > refund_order; LLM calls: 0" in out
    assert "'refund_order': {'refund_id': 're_1', 'order_id': 'o-42'" in out  # fed by find_order


@pytest.mark.slow
def test_effort_learning_stops_trying_medium_on_summaries_once_fitted() -> None:
    out = _run("effort_learning.py")
    lines = out.splitlines()

    def efforts(label: str, tool: str) -> list[str]:
        return [
            line.split("efforts")[1].split("tokens")[0].rsplit(maxsplit=1)[0].strip()
            for line in lines
            if line.startswith(label) and tool in line
        ]

    assert efforts("run 1", "summarise_report") == ["low -> medium -> high"]
    assert efforts("after fit", "summarise_report") == ["low -> high"]
    assert efforts("after fit", "draft_reply") == ["low"]
    assert "fitted on 12 observed calls" in out
    assert "saved and loaded: 15 observations kept" in out
    assert efforts("loaded", "summarise_report") == ["low -> high"]
