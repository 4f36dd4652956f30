"""The LangGraph integration: router retrieval as langgraph-bigtool's retrieval functions (with
the real package), our routed agent binding only the routed tools, and the self-healing tool node
retrying, rerouting to near-duplicates and escalating with a clear error message."""

from __future__ import annotations

import json
import runpy
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import anyio
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, InjectedToolCallId, StructuredTool, ToolException, tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph, add_messages
from langgraph.prebuilt import InjectedState, ToolNode
from langgraph.types import Command, interrupt
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel, Field

from orchestrator import ToolArgumentError, ToolCallError
from orchestrator.catalog import Skill, load_catalog
from orchestrator.execution import ArgumentRefusal, Provide, ScriptedEscalation
from orchestrator.integrations.langgraph import (
    LangChainToolInvoker,
    SelfHealingToolCalls,
    create_routed_agent,
    healing_tool_node,
    retrieval_functions,
)
from orchestrator.policy import Policy
from orchestrator.scenarios import DownFault, ErrorFault, FaultInjector
from orchestrator.telemetry import read_spans, tracing
from tests.conftest import SAMPLE_CATALOG

REPO = Path(__file__).resolve().parent.parent


class ScriptedChatModel(GenericFakeChatModel):
    """Answers from a script; records the tool names of every ``bind_tools``."""

    bound: list[list[str]] = Field(default_factory=list)

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        self.bound.append([getattr(t, "name", str(t)) for t in tools])
        return self


def _model(*replies: AIMessage) -> ScriptedChatModel:
    model = ScriptedChatModel(messages=iter(replies))
    return model


def _call(name: str, args: dict[str, Any], call_id: str) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])


def _catalog_tool(skill: Skill, calls: list[str]) -> BaseTool:
    async def run(**arguments: Any) -> str:
        calls.append(skill.id)
        return json.dumps({"tool": skill.id, "arguments": arguments})

    return StructuredTool.from_function(
        coroutine=run, name=skill.id, description=skill.description, args_schema=skill.parameters
    )


@pytest.fixture(scope="module")
def catalog_tools() -> tuple[list[BaseTool], list[str]]:
    calls: list[str] = []
    return [_catalog_tool(s, calls) for s in load_catalog(SAMPLE_CATALOG)], calls


REFUND = {"payment_id": "pi_1", "amount": 12.5, "currency": "EUR"}
TASK = "refund the customer's last card payment"


# -- retrieval: langgraph-bigtool ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.anyio
async def test_router_retrieval_drives_langgraph_bigtool_create_agent(
    sample_router: Any, catalog_tools: tuple[list[BaseTool], list[str]]
) -> None:
    from langgraph_bigtool import create_agent

    tools, calls = catalog_tools
    executed_before = len(calls)
    registry = {t.name: t for t in tools}
    function, coroutine = retrieval_functions(sample_router, k=3, registry=registry)
    # Only the retrieval step: langgraph-bigtool 0.0.3 executes other tools through
    # ToolNode.inject_tool_args, which langgraph-prebuilt 1.x removed (an upstream break).
    model = _model(
        _call("retrieve_tools", {"query": "refund a card payment made with Stripe"}, "r1"),
        AIMessage(content="I can refund it with stripe_create_refund."),
    )
    agent = create_agent(
        model, registry, retrieve_tools_function=function, retrieve_tools_coroutine=coroutine
    ).compile()
    state = await agent.ainvoke({"messages": [HumanMessage(TASK)]})
    assert "stripe_create_refund" in state["selected_tool_ids"]
    assert len(state["selected_tool_ids"]) == 3
    assert model.bound[0] == ["retrieve_tools"]  # bigtool starts with the retrieval tool only
    assert model.bound[1] == ["retrieve_tools", *state["selected_tool_ids"]]
    (listing,) = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert "stripe_create_refund" in str(listing.content)
    assert len(calls) == executed_before  # nothing executed: only retrieved


@pytest.mark.slow
def test_sync_retrieval_function_returns_registry_ids_of_the_best_fits(sample_router: Any) -> None:
    allowed = ["get_current_weather", "openweather_current", "send_email", "stripe_create_refund"]
    function, _ = retrieval_functions(sample_router, k=2, registry=allowed)
    found = function("what's the weather in Lisbon right now?")
    assert found[0] in ("get_current_weather", "openweather_current")
    assert set(found) <= set(allowed)
    assert function.__name__ == "retrieve_tools" and function.__doc__


# -- our routed agent ---------------------------------------------------------------------------


def _messages_of(state: dict[str, Any]) -> list[BaseMessage]:
    messages: list[BaseMessage] = state["messages"]
    return messages


@pytest.mark.slow
@pytest.mark.anyio
async def test_routed_agent_binds_only_the_tools_routed_for_the_task(
    sample_router: Any, catalog_tools: tuple[list[BaseTool], list[str]]
) -> None:
    tools, _ = catalog_tools
    model = _model(_call("stripe_create_refund", REFUND, "c1"), AIMessage(content="done"))
    agent = create_routed_agent(model, tools, sample_router, k=3).compile()
    state = await agent.ainvoke({"messages": [HumanMessage(TASK)]})
    assert len(model.bound[0]) == 3 and "stripe_create_refund" in model.bound[0]
    assert all(bound == model.bound[0] for bound in model.bound)
    assert "refund_payment" in state["alternatives"]["stripe_create_refund"]
    (reply,) = [m for m in _messages_of(state) if isinstance(m, ToolMessage)]
    assert reply.status == "success" and reply.name == "stripe_create_refund"
    assert json.loads(str(reply.content))["tool"] == "stripe_create_refund"


@pytest.mark.slow
def test_routed_agent_runs_with_invoke_as_with_ainvoke(
    sample_router: Any, catalog_tools: tuple[list[BaseTool], list[str]]
) -> None:
    tools, _ = catalog_tools
    model = _model(AIMessage(content="which payment?"))
    agent = create_routed_agent(model, tools, sample_router, k=3).compile()
    state = agent.invoke({"messages": [HumanMessage(TASK)]})
    assert "stripe_create_refund" in state["selected_tools"]
    assert model.bound == [state["selected_tools"]]
    assert state["messages"][-1].content == "which payment?"


@pytest.mark.slow
@pytest.mark.anyio
async def test_routed_agent_reroutes_a_down_tool_to_its_near_duplicate(
    sample_router: Any, catalog_tools: tuple[list[BaseTool], list[str]]
) -> None:
    tools, _ = catalog_tools
    faulty = FaultInjector(
        LangChainToolInvoker(tools), [DownFault(tool="stripe_create_refund", kind="down")]
    )
    model = _model(_call("stripe_create_refund", REFUND, "c1"), AIMessage(content="done"))
    agent = create_routed_agent(model, tools, sample_router, k=3, invoker=faulty).compile()
    state = await agent.ainvoke({"messages": [HumanMessage(TASK)]})
    (reply,) = [m for m in _messages_of(state) if isinstance(m, ToolMessage)]
    first_alternative = state["alternatives"]["stripe_create_refund"][0]
    assert reply.status == "success"
    assert reply.response_metadata["answered_by"] == first_alternative
    assert "stripe_create_refund failed (down" in str(reply.content)
    assert faulty.calls["stripe_create_refund"] == 1  # down is not retried: rerouted at once
    assert faulty.calls[first_alternative] == 1


# -- the self-healing tool node on its own ------------------------------------------------------


@tool
async def send_email(to: str, body: str) -> str:
    """Send an email through the primary provider."""
    return f"primary sent to {to}"


@tool
async def send_email_backup(to: str, body: str) -> str:
    """Send an email through the backup provider."""
    return f"backup sent to {to}"


def _tool_graph(node: ToolNode) -> Any:
    builder = StateGraph(MessagesState)
    builder.add_node("tools", node)
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    return builder.compile()


def _email_healer(*faults: Any) -> tuple[FaultInjector, SelfHealingToolCalls]:
    """The two e-mail tools, ``faults`` injected, each other's alternative."""
    invoker = FaultInjector(LangChainToolInvoker([send_email, send_email_backup]), list(faults))
    healer = SelfHealingToolCalls(
        [send_email, send_email_backup],
        alternatives={"send_email": ["send_email_backup"]},
        invoker=invoker,
    )
    return invoker, healer


async def _email(healer: SelfHealingToolCalls) -> ToolMessage:
    graph = _tool_graph(ToolNode([send_email, send_email_backup], awrap_tool_call=healer))
    call = _call("send_email", {"to": "ana@example.com", "body": "hi"}, "call_7")
    state = await graph.ainvoke({"messages": [call]})
    reply = state["messages"][-1]
    assert isinstance(reply, ToolMessage) and reply.tool_call_id == "call_7"
    return reply


@pytest.mark.anyio
async def test_a_transient_error_is_retried_on_the_requested_tool() -> None:
    _, healer = _email_healer(ErrorFault(tool="send_email", kind="error", times=1))
    reply = await _email(healer)
    assert reply.content == "primary sent to ana@example.com"
    assert [d.action for d in healer.logs[0]] == ["fail", "retry", "execute", "complete"]


@pytest.mark.anyio
async def test_arguments_a_tool_schema_refuses_are_bad_arguments_not_a_retried_error() -> None:
    invoker = LangChainToolInvoker([send_email])
    with pytest.raises(ToolArgumentError, match="body") as refused:
        await invoker.invoke("send_email", {"inputs": {"to": "ana@example.com"}, "upstream": {}})
    assert refused.value.missing == ("body",)  # what an escalation handler could provide
    # The same is known before any call, from the tool's call schema.
    assert invoker.refusal("send_email", ["to"]) == ArgumentRefusal(
        "missing required argument(s) ['body']", ("body",)
    )
    assert invoker.refusal("send_email", ["to", "body"]) is None
    assert invoker.refusal("fax", []) == ArgumentRefusal.not_served(
        "no LangChain tool of that name"
    )


@pytest.mark.anyio
async def test_a_validation_error_the_tools_own_body_raises_is_its_failure_not_bad_arguments() -> (
    None
):
    """It read as arguments refused before the call (not sent, not billed): the body had run."""

    class Quote(BaseModel):
        price: float

    ran: list[str] = []

    @tool
    def get_quote(symbol: str) -> float:
        """Get a stock quote."""
        ran.append(symbol)
        return Quote.model_validate({"price": "n/a"}).price  # the API answered oddly

    invoker = LangChainToolInvoker([get_quote])
    with pytest.raises(ToolCallError, match="price"):
        await invoker.invoke("get_quote", {"symbol": "ACME"})
    assert ran == ["ACME"]
    with pytest.raises(ToolArgumentError) as refused:  # the schema's refusal: nothing ran
        await invoker.invoke("get_quote", {"symbol": 5})
    assert refused.value.sent is False and ran == ["ACME"]


@pytest.mark.anyio
async def test_a_tool_that_answers_its_errors_as_text_fails_as_its_own_error() -> None:
    """With ``handle_tool_error``, its error text came back as the step's result: a run
    "completed" on "invalid sender id"."""
    from orchestrator import ToolAnswerError

    @tool
    def send_sms(phone: str, text: str) -> str:
        """Send an SMS."""
        raise ToolException("invalid sender id")

    send_sms.handle_tool_error = True
    invoker = LangChainToolInvoker([send_sms])
    with pytest.raises(ToolAnswerError, match="invalid sender id"):
        await invoker.invoke("send_sms", {"phone": "+14155550123", "text": "hi"})
    assert send_sms.handle_tool_error is True  # the caller's tool is left as it was


@pytest.mark.anyio
async def test_a_tool_argument_named_inputs_is_passed_as_it_is() -> None:
    @tool
    def score_features(inputs: dict[str, Any]) -> str:
        """Score a feature dictionary with the fraud model."""
        return f"scored {sorted(inputs)}"

    invoker = LangChainToolInvoker([score_features])
    bound = {"inputs": {"amount": 5, "country": "PT"}}  # bound arguments, not the run's envelope
    assert await invoker.invoke("score_features", bound) == "scored ['amount', 'country']"
    envelope = {"inputs": bound, "upstream": {}}
    assert await invoker.invoke("score_features", envelope) == "scored ['amount', 'country']"


@pytest.mark.anyio
async def test_a_call_no_tool_can_answer_becomes_an_error_message_naming_each_failure() -> None:
    _, healer = _email_healer(
        DownFault(tool="send_email", kind="down"), DownFault(tool="send_email_backup", kind="down")
    )
    reply = await _email(healer)
    assert reply.status == "error"
    text = str(reply.content)
    assert "could not be completed" in text
    assert "send_email: down" in text and "send_email_backup: down" in text
    assert healer.logs[0].count("escalate") == 1


@pytest.mark.anyio
async def test_calls_stop_reaching_a_tool_that_keeps_failing() -> None:
    invoker, healer = _email_healer(DownFault(tool="send_email", kind="down"))
    replies = [await _email(healer) for _ in range(5)]
    calls_before = invoker.calls["send_email"]
    memory = InMemorySpanExporter()
    with tracing(exporters=[memory]):
        replies.append(await _email(healer))
    # Health (failure statistics, breakers) is kept across calls: by now the down tool weighs
    # more than its alternative, so the sixth call goes straight to the backup.
    assert invoker.calls["send_email"] == calls_before < 6
    assert all(str(r.content).endswith("backup sent to ana@example.com") for r in replies)
    spans = {s.name: s for s in memory.get_finished_spans()}
    assert "execute_tool send_email" not in spans
    assert spans["execute_tool send_email_backup"].attributes["gen_ai.tool.call.id"] == "call_7"


@tool
def post_note(text: str) -> str:
    """Post a note to the primary board."""
    raise ConnectionError("board down")


@tool
def post_note_backup(text: str) -> str:
    """Post a note to the backup board."""
    return f"posted {text}"


def test_a_graph_run_with_invoke_heals_as_ainvoke_does() -> None:
    # LangGraph runs a sync graph's tool calls through wrap_tool_call, not the async wrapper:
    # the failure used to leave the graph as a raw exception.
    node = healing_tool_node(
        [post_note, post_note_backup], alternatives={"post_note": ["post_note_backup"]}
    )
    call = _call("post_note", {"text": "hi"}, "call_7")
    reply = _tool_graph(node).invoke({"messages": [call]})["messages"][-1]
    assert reply.status == "success" and reply.tool_call_id == "call_7"
    assert reply.content == (
        "[post_note failed (down: ConnectionError: board down); "
        "answered by post_note_backup instead]\nposted hi"
    )


def test_arguments_the_schema_refuses_ask_the_model_to_fix_them() -> None:
    reply = _tool_graph(healing_tool_node([send_email])).invoke(
        {"messages": [_call("send_email", {"to": "ana@example.com"}, "c1")]}
    )["messages"][-1]
    assert reply.status == "error"
    assert reply.content == (
        "Error: send_email refused the arguments: bad_arguments: body: Field required. "
        "Please fix the arguments and try again."
    )


@pytest.mark.anyio
async def test_arguments_an_escalation_handler_provides_complete_the_models_call() -> None:
    sent: list[tuple[str, str]] = []

    @tool
    def send_sms(to: str, body: str) -> str:
        """Send a text message."""
        sent.append((to, body))
        return "sent"

    handler = ScriptedEscalation([Provide({"body": "running late"}, "the task says so")])
    node = healing_tool_node([send_sms], escalation=handler)
    state = await _tool_graph(node).ainvoke(
        {"messages": [_call("send_sms", {"to": "+351 900"}, "c1")]}
    )
    assert state["messages"][-1].content == "sent"
    assert sent == [("+351 900", "running late")] and handler.calls == 1


@pytest.mark.anyio
async def test_a_tool_avoided_for_earlier_failures_is_not_said_to_have_failed_again() -> None:
    invoker, healer = _email_healer(ErrorFault(tool="send_email", kind="error", times=3))
    first = await _email(healer)
    assert str(first.content).startswith("[send_email failed (error: ")
    second = await _email(healer)
    assert invoker.calls["send_email"] == 3  # not called: its failures still weigh it down
    assert str(second.content).startswith(
        "[send_email not called: avoided after recent failures; answered by send_email_backup"
    )


@pytest.mark.anyio
async def test_a_tool_exception_is_the_tools_answer_not_retried_nor_held_against_it() -> None:
    @tool
    async def cancel_order(order_id: str) -> str:
        """Cancel an order."""
        if order_id == "o-typo":
            raise ToolException(f"order {order_id} does not exist")
        return f"cancelled {order_id}"

    invoker = FaultInjector(LangChainToolInvoker([cancel_order]), [])
    node = healing_tool_node([cancel_order], invoker=invoker)
    graph = _tool_graph(node)
    reply = (
        await graph.ainvoke({"messages": [_call("cancel_order", {"order_id": "o-typo"}, "c1")]})
    )["messages"][-1]
    assert reply.status == "error" and "tool_error: order o-typo does not exist" in reply.content
    assert invoker.calls["cancel_order"] == 1
    for n in range(6):  # past a breaker's fail_max
        await graph.ainvoke({"messages": [_call("cancel_order", {"order_id": "o-typo"}, f"c{n}")]})
    ok = await graph.ainvoke({"messages": [_call("cancel_order", {"order_id": "o-1"}, "c9")]})
    assert ok["messages"][-1].content == "cancelled o-1"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("metadata", "called"),
    [
        (None, 3),  # says nothing: repeated, as any tool without risk hints
        ({"idempotent": False}, 1),
        # An MCP tool through langchain-mcp-adapters: its annotations, unset ones as null.
        ({"readOnlyHint": None, "idempotentHint": None, "destructiveHint": True}, 1),
        ({"readOnlyHint": True, "idempotentHint": None}, 3),
    ],
)
async def test_a_timed_out_call_is_repeated_only_when_the_tool_is_safe_to_repeat(
    metadata: dict[str, Any] | None, called: int
) -> None:
    calls: list[str] = []

    async def slow_refund(payment_id: str) -> str:
        calls.append(payment_id)
        await anyio.sleep(1)
        return "refunded"

    refund = StructuredTool.from_function(
        coroutine=slow_refund, name="refund", description="Refund a payment.", metadata=metadata
    )
    policy = Policy.model_validate(
        {"execution": {"step_timeout_s": 0.05, "retry": {"initial_s": 0.001, "max_s": 0.01}}}
    )
    node = healing_tool_node([refund], policy=policy)
    state = await _tool_graph(node).ainvoke(
        {"messages": [_call("refund", {"payment_id": "pi_1"}, "c1")]}
    )
    assert state["messages"][-1].status == "error"
    assert len(calls) == called


def test_a_sync_graph_whose_timed_out_tool_never_returns_still_lets_the_script_exit(
    tmp_path: Path,
) -> None:
    """The sync path ran the tool in an anyio worker thread, which is not a daemon: the run
    answered with the timeout, then the interpreter waited at exit for the hung call for ever."""
    script = tmp_path / "hung_graph.py"
    script.write_text(
        "import threading\n"
        "from langchain_core.messages import AIMessage\n"
        "from langgraph.graph import END, START, MessagesState, StateGraph\n"
        "from orchestrator.integrations.langgraph import healing_tool_node\n"
        "from orchestrator.policy import Policy\n"
        "def lookup(query: str) -> str:\n"
        '    """Look a query up."""\n'
        "    threading.Event().wait()  # never returns\n"
        "    return 'never'\n"
        "policy = Policy.model_validate(\n"
        "    {'execution': {'step_timeout_s': 0.1, 'retry': {'max_attempts': 1}}})\n"
        "builder = StateGraph(MessagesState)\n"
        "builder.add_node('tools', healing_tool_node([lookup], policy=policy))\n"
        "builder.add_edge(START, 'tools')\n"
        "builder.add_edge('tools', END)\n"
        "call = {'name': 'lookup', 'args': {'query': 'x'}, 'id': 'c1'}\n"
        "state = builder.compile().invoke({'messages': [AIMessage('', tool_calls=[call])]})\n"
        "print(state['messages'][-1].status)\n",
        encoding="utf-8",
    )
    finished = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60
    )
    assert finished.stdout == "error\n" and finished.returncode == 0


def test_plain_functions_and_any_tool_name_work_as_in_a_tool_node() -> None:
    def tool_call(query: str) -> str:
        """Look a query up (named like the node's own start state once was)."""
        return f"found {query}"

    def answered(query: str) -> str:
        """Answer a query."""
        return f"answered {query}"

    graph = _tool_graph(healing_tool_node([tool_call, answered]))
    for name, expected in (("tool_call", "found x"), ("answered", "answered x")):
        reply = graph.invoke({"messages": [_call(name, {"query": "x"}, "c1")]})["messages"][-1]
        assert reply.status == "success" and reply.content == expected


class PydanticState(BaseModel):
    messages: Annotated[list[AnyMessage], add_messages]
    alternatives: dict[str, list[str]] = {}


def test_alternatives_in_a_pydantic_state_are_rerouted_to() -> None:
    builder = StateGraph(PydanticState)
    builder.add_node("tools", healing_tool_node([post_note, post_note_backup]))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    state = builder.compile().invoke(
        {
            "messages": [_call("post_note", {"text": "hi"}, "c1")],
            "alternatives": {"post_note": ["post_note_backup"]},
        }
    )
    assert state["messages"][-1].response_metadata["answered_by"] == "post_note_backup"


def test_an_async_only_tool_under_invoke_is_raised_as_a_tool_node_raises_it() -> None:
    """It had been retried as a transient error, held against the tool's health, and answered
    by its alternative: a tool that never ran under ``invoke``, and nothing said why."""

    async def lookup(q: str) -> str:
        return f"found {q}"

    async_only = StructuredTool.from_function(coroutine=lookup, name="lookup", description="x")
    twins = {"lookup": ["post_note_backup"]}
    node = healing_tool_node([async_only, post_note_backup], alternatives=twins)
    call = _call("lookup", {"q": "x"}, "c1")
    with pytest.raises(NotImplementedError, match="does not support sync invocation"):
        _tool_graph(node).invoke({"messages": [call]})
    with pytest.raises(NotImplementedError, match="does not support sync invocation"):
        _tool_graph(ToolNode([async_only])).invoke({"messages": [call]})


class PhrasingsState(MessagesState):
    alternatives: list[str]  # the graph's own field: other phrasings of the question


def test_a_states_own_alternatives_field_of_another_shape_is_not_read() -> None:
    """Its list had crashed every tool call (AttributeError); LangGraph's ToolNode ran it."""
    builder = StateGraph(PhrasingsState)
    twins = {"post_note": ["post_note_backup"]}
    builder.add_node("tools", healing_tool_node([post_note, post_note_backup], alternatives=twins))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    call = _call("post_note", {"text": "hi"}, "c1")
    state = builder.compile().invoke({"messages": [call], "alternatives": ["plan B"]})
    assert str(state["messages"][-1].content).endswith("\nposted hi")
    # One alternative given as a name alone is that name, not its letters.
    healer = SelfHealingToolCalls([post_note, post_note_backup])
    assert healer.candidates("post_note", {"alternatives": {"post_note": "post_note_backup"}}) == (
        "post_note",
        "post_note_backup",
    )


@pytest.mark.anyio
async def test_a_tools_own_message_keeps_its_id_and_metadata() -> None:
    """Rebuilt from its content, it had lost its id, additional_kwargs and response_metadata,
    which LangGraph's ToolNode passes on."""

    @tool
    def lookup(q: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> ToolMessage:
        """Look a question up in the knowledge base."""
        return ToolMessage(
            content=f"result {q}",
            tool_call_id=tool_call_id,
            id="msg-1",
            additional_kwargs={"citations": ["doc-7"]},
            response_metadata={"source": "kb"},
        )

    graph = _tool_graph(healing_tool_node([lookup]))
    state = await graph.ainvoke({"messages": [_call("lookup", {"q": "x"}, "c1")]})
    reply = state["messages"][-1]
    assert (reply.id, reply.content, reply.tool_call_id) == ("msg-1", "result x", "c1")
    assert reply.additional_kwargs == {"citations": ["doc-7"]}
    assert reply.response_metadata == {"source": "kb"}


@pytest.mark.anyio
async def test_a_call_kept_off_by_an_open_breaker_is_not_said_to_have_been_tried() -> None:
    """The model was told "no alternative worked (tried fetch). Failures: ." of a tool
    nothing had called."""
    down = {"yes": True}
    calls: list[str] = []

    @tool
    async def fetch_page(url: str) -> str:
        """Fetch a web page."""
        calls.append(url)
        if down["yes"]:
            raise ConnectionError("refused")
        return "page"

    graph = _tool_graph(healing_tool_node([fetch_page]))
    for n in range(5):  # the breaker opens
        await graph.ainvoke({"messages": [_call("fetch_page", {"url": "u"}, f"c{n}")]})
    down["yes"] = False
    before = len(calls)
    state = await graph.ainvoke({"messages": [_call("fetch_page", {"url": "u"}, "c9")]})
    reply = str(state["messages"][-1].content)
    assert len(calls) == before
    assert "not called, as fetch_page and any alternative are avoided" in reply
    assert "tried" not in reply and "Failures: ." not in reply


@tool
def add_to_cart(item: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> list[Any]:
    """Add an item to the cart."""
    return [
        Command(update={"cart": [item]}),
        ToolMessage(f"added {item}", tool_call_id=tool_call_id),
    ]


class CartState(MessagesState):
    cart: list[str]


@pytest.mark.anyio
async def test_a_list_of_commands_and_messages_a_tool_answers_updates_the_state() -> None:
    builder = StateGraph(CartState)
    builder.add_node("tools", healing_tool_node([add_to_cart]))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    state = await builder.compile().ainvoke(
        {"messages": [_call("add_to_cart", {"item": "socks"}, "c1")], "cart": []}
    )
    assert state["cart"] == ["socks"]
    assert state["messages"][-1].content == "added socks"


APPROVALS_ASKED: list[float] = []
APPROVALS_ASKED: list[float] = []


@tool
def approve_payment(amount: float) -> str:
    """Ask a human to approve a payment of the given amount."""
    APPROVALS_ASKED.append(amount)
    return f"human said {interrupt({'approve': amount})}"


@tool
def conversation_length(note: str, state: Annotated[dict[str, Any], InjectedState]) -> str:
    """Count the messages of the conversation so far."""
    return f"{len(state['messages'])} messages ({note})"


@tool
def set_flag(value: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> Command[Any]:
    """Set a flag in the graph state."""
    return Command(update={"messages": [ToolMessage(f"flag={value}", tool_call_id=tool_call_id)]})


@pytest.mark.anyio
async def test_the_healing_node_runs_tools_as_langgraph_does() -> None:
    # What LangGraph gives a tool (state, the call's id), a Command answer and interrupt() work
    # as in a plain ToolNode; before, interrupt() came back as a failed call, retried 3 times.
    builder = StateGraph(MessagesState)
    builder.add_node("tools", healing_tool_node([approve_payment, conversation_length, set_flag]))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "t1"}}
    asked = await graph.ainvoke(
        {"messages": [_call("approve_payment", {"amount": 5}, "c1")]}, config
    )
    [paused] = asked["__interrupt__"]
    assert paused.value == {"approve": 5.0}
    assert APPROVALS_ASKED == [5.0]  # the interrupt is not a failure to retry
    resumed = await graph.ainvoke(Command(resume="yes"), config)
    assert resumed["messages"][-1].content == "human said yes"
    config = {"configurable": {"thread_id": "t2"}}
    counted = await graph.ainvoke(
        {"messages": [_call("conversation_length", {"note": "hi"}, "c2")]}, config
    )
    assert counted["messages"][-1].content == "1 messages (hi)"
    flagged = await graph.ainvoke({"messages": [_call("set_flag", {"value": "on"}, "c3")]}, config)
    assert flagged["messages"][-1].content == "flag=on"
    assert flagged["messages"][-1].tool_call_id == "c3"


@pytest.mark.anyio
async def test_a_call_paused_by_interrupt_is_logged_and_traced_as_paused_not_failed() -> None:
    """Its log had been empty and its trace an error ("interrupted"), with no span of the
    call: a human-in-the-loop pause looked like a crash."""
    healer = SelfHealingToolCalls([approve_payment])
    builder = StateGraph(MessagesState)
    builder.add_node("tools", ToolNode([approve_payment], awrap_tool_call=healer))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    memory = InMemorySpanExporter()
    with tracing(exporters=[memory]):
        asked = await graph.ainvoke(
            {"messages": [_call("approve_payment", {"amount": 7}, "c1")]},
            {"configurable": {"thread_id": "paused"}},
        )
    assert asked["__interrupt__"][0].value == {"approve": 7.0}
    [paused] = healer.logs[-1]
    assert (paused.action, paused.tool) == ("cancel", "approve_payment")
    assert "paused by interrupt()" in paused.reason and paused.data["duration_ms"] >= 0.0
    spans = {s.name: s for s in memory.get_finished_spans()}
    root = spans["invoke_workflow tool_call approve_payment"]
    assert root.attributes["orchestrator.outcome"] == "paused"
    assert root.status.status_code.name == "UNSET"
    assert "execute_tool approve_payment" in spans


@pytest.mark.anyio
async def test_a_call_of_an_unknown_tool_gets_langgraphs_answer_naming_the_tools() -> None:
    healer = SelfHealingToolCalls([send_email, send_email_backup])
    graph = _tool_graph(ToolNode([send_email, send_email_backup], awrap_tool_call=healer))
    state = await graph.ainvoke({"messages": [_call("fax", {"to": "x"}, "c9")]})
    reply = state["messages"][-1]
    assert reply.status == "error" and "send_email" in str(reply.content)
    assert not healer.logs and "fax" not in healer.breakers  # nothing to heal


# -- the example ------------------------------------------------------------------------------


@pytest.mark.slow
def test_langgraph_example_heals_the_injected_failure_and_writes_the_trace(
    sample_index_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    shutil.copytree(sample_index_dir, index)
    trace_file = tmp_path / "trace.jsonl"
    argv = ["langgraph_self_healing.py", "--trace-file", str(trace_file), "--index", str(index)]
    monkeypatch.setattr(sys, "argv", argv)
    namespace = runpy.run_path(str(REPO / "examples" / "langgraph_self_healing.py"))
    report = namespace["main"](argv[1:])
    assert report["tool_status"] == "success"
    assert report["answered_by"] != "stripe_create_refund"
    spans = read_spans(trace_file)
    names = [s.name for s in spans]
    assert "invoke_agent refund_agent" in names and "retrieval skills" in names
    stripe = next(s for s in spans if s.name == "execute_tool stripe_create_refund")
    assert stripe.status == "error"
    assert stripe.attributes["gen_ai.tool.call.id"] == "call_refund_1"
    assert any(name == "orchestrator.reroute" for _, name, _ in stripe.events)
    assert len({s.trace_id for s in spans}) == 1
