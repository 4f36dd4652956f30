"""Plain Python functions as the whole catalog: their signatures, docstrings and returned dicts
describe the skills, the task's own words give the arguments, and a run calls the functions.

"refund jane@example.com's last order, it was a duplicate" needs the order first: ``find_order``
returns the ``order_id`` that ``refund_order`` takes. The e-mail address and the refund reason
(one of its allowed values) are read from the task, so no inputs are given and no LLM is asked.

    python examples/functions_as_catalog.py
"""

from __future__ import annotations

from typing import Literal

from orchestrator import Orchestrator

TASK = "refund jane@example.com's last order, it was a duplicate"


def find_order(customer_email: str) -> dict[str, object]:
    """Find a customer's most recent order by their e-mail address."""
    return {"order_id": "o-42", "total_cents": 1999, "email": customer_email}


def refund_order(
    order_id: str, reason: Literal["duplicate", "fraudulent", "requested_by_customer"]
) -> dict[str, str]:
    """Refund an order's payment to the customer's card."""
    return {"refund_id": "re_1", "order_id": order_id, "reason": reason}


def track_parcel(tracking_number: str) -> dict[str, str]:
    """Track a parcel's delivery status by its tracking number."""
    return {"status": "in transit"}


def main() -> None:
    orchestrator = Orchestrator([find_order, refund_order, track_parcel])
    result = orchestrator.run_sync(TASK)
    for step in result.plan.steps:
        print(f"{step.id:<14} needs {list(step.needs)}  given {result.plan.stated_for(step.id)}")
    print(f"{result.outcome} via {' > '.join(result.path)}; LLM calls: {result.llm_calls}")
    print(f"outputs: {result.outputs}")


if __name__ == "__main__":
    main()
