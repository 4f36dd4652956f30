"""Plan a task over the sample catalog and run it with real Python functions; the geocoder the
plan chose is down, so the run heals onto another one and feeds its coordinates on.

    python examples/plan_and_run.py
"""

from __future__ import annotations

from typing import Any

import anyio

from orchestrator import Orchestrator
from orchestrator._resources import data_path

TASK = "get the weather forecast for 1 Infinite Loop, Cupertino"
# Values the caller already has, by parameter name (here, the one the task states).
INPUTS = {"address": "1 Infinite Loop, Cupertino"}


def geocoder_down(address: str, **_: Any) -> dict[str, Any]:
    raise ConnectionError("geocoding API unreachable")


def geocode(address: str, **_: Any) -> dict[str, Any]:
    return {"latitude": 37.3318, "longitude": -122.0312, "formatted_address": address}


def forecast(latitude: float, longitude: float, **_: Any) -> dict[str, Any]:
    return {"days": [{"date": "2026-12-07", "temp_max_c": 16, "at": [latitude, longitude]}]}


async def main() -> None:
    orchestrator = Orchestrator(data_path("skills", "sample.jsonl"))
    plan = await orchestrator.aplan(TASK, inputs=INPUTS)
    for step in plan.steps:
        print(f"{step.id:<24} needs {list(step.needs)}  alternatives {list(step.alternatives)}")
        print(f"{'':<24} {step.reason}")
    # Every skill the plan may use, as a real function (the forecast is the step that needs
    # another's output); the geocoder the plan chose is down.
    tools: dict[str, Any] = {}
    for step in plan.steps:
        for skill_id in (step.id, *step.alternatives):
            tools[skill_id] = forecast if step.needs else geocode
    tools[plan.steps[0].id] = geocoder_down
    result = await orchestrator.run(TASK, tools=tools, plan=plan, inputs=INPUTS)
    print(f"\n{result.outcome} via {' > '.join(result.path)}")
    for d in result.log:
        print(f"  {d.t_ms:8.1f} ms  {d.action:<8} {d.tool:<24} {d.reason}")
    print(f"outputs: {result.outputs}")


if __name__ == "__main__":
    anyio.run(main)
