"""Route a task over the sample catalog, then run the customer-support graph with its payment
provider down and print how the executor healed, decision by decision.

    python examples/route_and_heal.py
"""

from __future__ import annotations

from pathlib import Path

import anyio

from orchestrator._resources import data_path
from orchestrator.routing import SkillRouter
from orchestrator.scenarios import load_scenario, run_scenario

SCENARIO = Path(__file__).resolve().parent.parent / "tests" / "scenarios" / "cs02_payment_down.yaml"


async def main() -> None:
    router = SkillRouter.from_catalog(data_path("skills", "sample.jsonl"))
    result = await router.aroute("refund the customer's last card payment", k=3)
    print(f"routing: fits={result.fits}")
    for match in result.matches:
        alternatives = ", ".join(d.id for d in match.duplicates) or "-"
        print(f"  {match.id:<28} score {match.score:.3f}  alternatives: {alternatives}")

    report = await run_scenario(load_scenario(SCENARIO))
    print(f"\nexecution: {report.last.outcome} via {' > '.join(report.last.path)}")
    for decision in report.log:
        print(
            f"  {decision.t_ms:8.1f} ms  {decision.action:<9} {decision.tool or '':<10} "
            f"{decision.reason}"
        )


if __name__ == "__main__":
    anyio.run(main)
