"""Plan a task over the sample catalog and run it with real Python functions, one of which is
down; print the plan and how the run healed.

    python examples/plan_and_run.py
"""

from __future__ import annotations

from typing import Any

import anyio

from orchestrator import Orchestrator
from orchestrator._resources import data_path

TASK = "refund the customer's last card payment"


def fetch_payment(**arguments: Any) -> dict[str, Any]:
    return {"payment_id": "pay_42", "status": "captured", "amount": 1999, "currency": "eur"}


def stripe_refund(payment_id: str, **_: Any) -> dict[str, Any]:
    raise ConnectionError("api.stripe.com unreachable")


def refund(payment_id: str, **_: Any) -> dict[str, Any]:
    return {"refund_id": f"re_{payment_id}", "status": "succeeded", "amount": 1999,
            "currency": "eur"}  # fmt: skip


async def main() -> None:
    orchestrator = Orchestrator(data_path("skills", "sample.jsonl"))
    plan = await orchestrator.aplan(TASK)
    for step in plan.steps:
        print(f"{step.id:<24} needs {list(step.needs)}  alternatives {list(step.alternatives)}")
        print(f"{'':<24} {step.reason}")
    # Every refund provider and every payment lookup the plan may use, as real functions.
    tools: dict[str, Any] = {}
    for step in plan.steps:
        for skill_id in (step.id, *step.alternatives):
            if "refund" in skill_id:
                tools[skill_id] = stripe_refund if skill_id.startswith("stripe") else refund
            else:
                tools[skill_id] = fetch_payment
    result = await orchestrator.run(TASK, tools=tools, plan=plan)
    print(f"\n{result.outcome} via {' > '.join(result.path)}")
    for d in result.log:
        print(f"  {d.t_ms:8.1f} ms  {d.action:<8} {d.tool:<24} {d.reason}")
    print(f"outputs: {result.outputs}")


if __name__ == "__main__":
    anyio.run(main)
