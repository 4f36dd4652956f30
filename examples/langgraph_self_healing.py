"""A LangGraph agent over the 259-skill sample catalog that binds only the tools routed for its
task, and heals a failed tool call: Stripe is down (an injected fault), so the refund is rerouted
to a near-duplicate refund tool. Offline: a scripted chat model and simulated tools. The trace
is written as OTLP JSON lines; read it with ``orchestrator trace show``.

    python examples/langgraph_self_healing.py --trace-file langgraph_trace.jsonl
    orchestrator trace show langgraph_trace.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import Field

from orchestrator._resources import data_path
from orchestrator.catalog import Skill, load_catalog
from orchestrator.integrations.langgraph import LangChainToolInvoker, create_routed_agent
from orchestrator.routing import SkillRouter
from orchestrator.scenarios import DownFault, FaultInjector, sample_output
from orchestrator.telemetry import span, tracing

TASK = "refund the customer's last card payment (Stripe payment pi_3Nx), 12.50 EUR"
REFUND_CALL = {
    "name": "stripe_create_refund",
    "args": {"payment_id": "pi_3Nx", "amount": 12.5, "currency": "EUR"},
    "id": "call_refund_1",
}


class ScriptedChatModel(GenericFakeChatModel):
    """A chat model that answers from a script and records the tools it was bound to."""

    bound: list[list[str]] = Field(default_factory=list)

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        self.bound.append([getattr(t, "name", str(t)) for t in tools])
        return self


def simulated_tool(skill: Skill) -> BaseTool:
    """A stand-in for the real API behind ``skill``: same name, description and arguments,
    answering with a sample of its declared output."""

    async def call(**arguments: Any) -> str:
        return json.dumps({**sample_output(skill.id, skill.outputs), "arguments": arguments})

    return StructuredTool.from_function(
        coroutine=call,
        name=skill.id,
        description=skill.description,
        args_schema=dict(skill.parameters),
    )


async def run(trace_file: Path, index_dir: Path | None) -> dict[str, Any]:
    catalog = data_path("skills", "sample.jsonl")
    tools = [simulated_tool(skill) for skill in load_catalog(catalog)]
    router = SkillRouter.from_catalog(catalog, index_dir=index_dir)
    model = ScriptedChatModel(
        messages=iter(
            [
                AIMessage(content="", tool_calls=[REFUND_CALL]),
                AIMessage(content="The customer's payment was refunded."),
            ]
        )
    )
    # One injected failure: Stripe is down for every call.
    faulty = FaultInjector(
        LangChainToolInvoker(tools), [DownFault(tool="stripe_create_refund", kind="down")]
    )
    agent = create_routed_agent(model, tools, router, k=3, invoker=faulty).compile()
    with (
        tracing(trace_file),
        span("invoke_agent refund_agent", {"gen_ai.operation.name": "invoke_agent"}),
    ):
        state = await agent.ainvoke({"messages": [HumanMessage(TASK)]})
    reply = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    return {
        "bound_tools": model.bound[0],
        "alternatives": state["alternatives"].get("stripe_create_refund", []),
        "tool_message": str(reply.content),
        "tool_status": reply.status,
        "answered_by": reply.response_metadata.get("answered_by", reply.name),
        "final": str(state["messages"][-1].content),
        "trace_file": str(trace_file),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trace-file", type=Path, default=Path("langgraph_trace.jsonl"))
    parser.add_argument("--index", type=Path, default=None, help="Index directory to reuse.")
    args = parser.parse_args(argv)
    report: dict[str, Any] = anyio.run(run, args.trace_file, args.index)
    print(f"task: {TASK}")
    print(f"bound tools: {', '.join(report['bound_tools'])}")
    print(f"alternatives of stripe_create_refund: {', '.join(report['alternatives'])}")
    print(f"tool answer ({report['tool_status']}, by {report['answered_by']}):")
    print(f"  {report['tool_message']}")
    print(f"agent: {report['final']}")
    print(f"trace written to {report['trace_file']} (orchestrator trace show {args.trace_file})")
    return report


if __name__ == "__main__":
    main()
