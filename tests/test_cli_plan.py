"""The planning CLI: `route --plan`, `run` (simulated tools, bound functions, injected faults)
and `demo`, the README's main job."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orchestrator.cli import _default_index_dir, app
from tests.conftest import SAMPLE_CATALOG

runner = CliRunner()

REFUND = "refund the customer's last card payment"
SUPPORT_GRAPH = str(Path(__file__).resolve().parent.parent / "graphs" / "customer_support.yaml")


def _tool_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> None:
    """Write a module of tool functions that ``--tool SKILL=name:function`` can import."""
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.fixture
def index_dir(sample_index_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(sample_index_dir, target)
    return target


def _invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_route_plan_adds_the_plan_to_each_json_line(index_dir: Path, tmp_path: Path) -> None:
    queries = tmp_path / "q.jsonl"
    written = "refund payment pi_3MtwBw"
    queries.write_text(
        json.dumps({"id": "r", "query": REFUND}) + "\n" + json.dumps({"id": "w", "query": written})
    )
    result = _invoke("route", "--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir),
                     "--queries", str(queries), "--plan", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    line, with_value = [json.loads(x) for x in result.stdout.splitlines()]
    assert line["id"] == "r" and line["results"]
    # Beside the plan, the values the task writes for its steps' inputs.
    [step] = with_value["plan"]
    assert with_value["stated_inputs"][f"{step['id']}.payment_id"] == "pi_3MtwBw"
    plan = line["plan"]
    assert [set(step) for step in plan] == [{"id", "name", "needs"}] * len(plan)
    ids = [step["id"] for step in plan]
    for position, step in enumerate(plan):  # execution order: producers first
        assert all(ids.index(need) < position for need in step["needs"])
    assert any("refund" in step["id"] for step in plan)
    # What the plan leaves to the caller: sub-goals nothing fits, inputs nothing supplies.
    assert with_value["unplanned"] == [] and step["id"] not in with_value["open_inputs"]
    refund = next(s["id"] for s in plan if "refund" in s["id"])
    assert line["open_inputs"][refund]  # "the customer's last card payment": which one?


def test_route_plan_says_when_it_plans_a_step_though_the_first_match_does_not_fit(
    tmp_path: Path,
) -> None:
    string = {"type": "string"}
    convert = {"source_timezone": string, "time": string, "target_timezone": string}
    tools = [
        {"name": "convert_time", "description": "Convert a time between timezones.",
         "parameters": {"type": "object", "properties": convert, "required": list(convert)}},
        {"name": "get_current_time", "description": "Get the current time in a timezone.",
         "parameters": {"type": "object", "properties": {"timezone": string},
                        "required": ["timezone"]}},
    ]  # fmt: skip
    catalog = tmp_path / "time.jsonl"
    catalog.write_text("".join(json.dumps(t) + "\n" for t in tools))
    args = ["route", "--catalog", str(catalog), "--index", str(tmp_path / "i"), "--plan"]
    shown = _invoke(*args, "what time is it right now?")
    assert shown.exit_code == 0, shown.output
    # The first match (convert_time) does not fit; get_current_time, second, does on its own.
    assert "no skill fits" in shown.stdout and "get_current_time" in shown.stdout.split("plan:")[1]
    assert "note: the first match does not fit, but the plan's steps do" in shown.stdout
    agreed = _invoke(*args, "get the current time in a timezone")
    assert "note: the first match" not in agreed.stdout


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


def test_run_without_a_catalog_simulates_the_plans_tools(index_dir: Path) -> None:
    """With --catalog optional, no catalog had read as an empty MCP config: every step failed
    with "no MCP server is configured" and the run escalated."""
    result = _invoke("run", REFUND, "--index", str(index_dir), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["outcome"] == "completed" and report["path"]
    assert not any("MCP" in d["reason"] for d in report["decisions"])


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


def test_run_calls_a_bound_function_with_the_value_the_task_writes(
    index_dir: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    _write_refund_module(tmp_path / "written_tools.py", monkeypatch)
    args = ["run", "refund payment pi_3MtwBw", "--catalog", str(SAMPLE_CATALOG), "--index",
            str(index_dir), "--tool", "refund_payment=written_tools:refund"]  # fmt: skip
    result = runner.invoke(app, args, env={"COLUMNS": "200"})  # one line per plan step
    assert result.exit_code == 0, result.output
    import written_tools  # type: ignore[import-not-found]

    assert written_tools.CALLS == ["pi_3MtwBw"]
    assert "payment_id='pi_3MtwBw'" in result.stdout  # the plan says where it came from
    assert 'result of refund_payment: {"refund_id": "re_1"' in result.stdout  # and what it made


def test_a_value_written_after_another_input_is_named_is_only_that_inputs(
    index_dir: Path,
) -> None:
    from orchestrator import Orchestrator
    from orchestrator.routing import SkillRouter

    router = SkillRouter.from_catalog(SAMPLE_CATALOG, index_dir=index_dir)
    plan = Orchestrator(router).plan(
        "look up the customer by email jane@example.com and open a support ticket about the "
        "double charge"
    )
    # The ticket's customer_id is named first ("customer"), but the value follows "email"; the
    # one address written is also the ticket's requester e-mail.
    assert plan.stated_inputs["find_customer.email"] == "jane@example.com"
    assert plan.stated_for("create_support_ticket") == {"requester_email": "jane@example.com"}


def test_a_simulated_run_says_which_required_arguments_its_tools_lacked(
    index_dir: Path,
) -> None:
    args = ["--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir), "--json"]
    unwritten = _invoke("run", "refund the customer's last card payment", *args)
    assert unwritten.exit_code == 0, unwritten.output  # a dry run goes on
    note = " ".join(unwritten.stderr.split())
    assert "ran without payment_id, which a real tool needs" in note
    written = _invoke("run", "refund payment pi_3MtwBw", *args)
    assert written.exit_code == 0 and "ran without" not in written.stderr


def test_run_calls_a_bound_langchain_tool(
    index_dir: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    (tmp_path / "chain_tools.py").write_text(
        "from langchain_core.tools import tool\n"
        "@tool\n"
        "def refund(payment_id: str) -> dict:\n"
        '    """Refund a payment."""\n'
        "    return {'refund_id': 're_chain', 'status': 'succeeded', 'amount': 5,\n"
        "            'currency': 'eur'}\n"
        "NOT_A_TOOL = 3\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    common = ("run", "refund payment pi_3MtwBw", "--catalog", str(SAMPLE_CATALOG), "--index",
              str(index_dir), "--inputs", '{"payment_id": "pi_3MtwBw"}', "--json")  # fmt: skip
    result = _invoke(*common, "--tool", "refund_payment=chain_tools:refund")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outputs"]["refund_payment"]["refund_id"] == "re_chain"
    wrong = _invoke(*common, "--tool", "refund_payment=chain_tools:NOT_A_TOOL")
    assert wrong.exit_code == 2
    assert "neither a function nor a LangChain" in " ".join(wrong.output.replace("│", "").split())


def test_a_tool_module_that_fails_to_import_or_a_mistyped_skill_is_a_usage_error(
    index_dir: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    _tool_module(tmp_path, monkeypatch, "broken_tools", "def refund(payment_id) return 1\n")
    _tool_module(tmp_path, monkeypatch, "raising_tools", "raise RuntimeError('no API key')\n")
    _tool_module(tmp_path, monkeypatch, "ok_tools", "def refund(payment_id):\n    return {}\n")
    common = ("run", "refund payment pi_3MtwBw", "--catalog", str(SAMPLE_CATALOG), "--index",
              str(index_dir), "--json")  # fmt: skip
    for spec, says in [
        ("refund_payment=broken_tools:refund", "importing broken_tools failed: SyntaxError"),
        ("refund_payment=raising_tools:refund", "RuntimeError: no API key"),
        ("refund_paymnet=ok_tools:refund", "no skill has that id or name; did you mean"),
    ]:
        result = _invoke(*common, "--tool", spec)
        assert result.exit_code == 2, result.output
        assert says in " ".join(result.output.replace("│", "").split())


def test_run_json_is_strict_json_whatever_the_tool_returned(
    index_dir: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    _tool_module(
        tmp_path,
        monkeypatch,
        "odd_tools",
        "from langchain_core.tools import tool\n"
        "@tool\n"
        "def refund(payment_id: str) -> dict:\n"
        '    """Refund a payment."""\n'
        "    return {'refund_id': 're_1', 'status': 'succeeded', 'amount': float('nan'),\n"
        "            'currency': 'eur', 'pairs': {('a', 'b'): 2, 1: 'one'}}\n",
    )
    args = ["run", "refund payment pi_3MtwBw", "--catalog", str(SAMPLE_CATALOG), "--index",
            str(index_dir), "--tool", "refund_payment=odd_tools:refund"]  # fmt: skip
    table = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert table.exit_code == 0, table.output
    assert '"amount": null, "currency": "eur", "pairs": {"(\'a\', \'b\')": 2, "1": "one"}' in (
        table.stdout
    )
    result = _invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert output["outputs"]["refund_payment"]["amount"] is None


def test_a_tool_module_in_the_working_directory_imports_as_with_python_m(
    index_dir: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    (tmp_path / "cwd_tools.py").write_text(
        "def refund(payment_id):\n"
        "    return {'refund_id': 're_cwd', 'status': 'succeeded', 'amount': 5,\n"
        "            'currency': 'eur'}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    result = _invoke("run", "refund payment pi_3MtwBw", "--catalog", str(SAMPLE_CATALOG),
                     "--index", str(index_dir), "--tool", "refund_payment=cwd_tools:refund",
                     "--inputs", '{"payment_id": "pi_3MtwBw"}', "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outputs"]["refund_payment"]["refund_id"] == "re_cwd"


SHOP = """
from typing import TypedDict

CALLS = []


class Order(TypedDict):
    order_id: str
    total_cents: int


def find_order(customer_email: str) -> Order:
    \"\"\"Find a customer's most recent order by their e-mail address.\"\"\"
    CALLS.append(("find_order", customer_email))
    return {"order_id": "o-42", "total_cents": 1999}


def refund_order(order_id: str) -> dict:
    \"\"\"Refund an order's payment to the customer's card.\"\"\"
    CALLS.append(("refund_order", order_id))
    return {"refund_id": "re_1", "order_id": order_id}
"""


def test_run_over_a_python_catalog_calls_its_functions(tmp_path: Path) -> None:
    catalog = tmp_path / "shop_cli_tools.py"
    catalog.write_text(SHOP)
    result = _invoke("run", "refund jane@example.com's last order", "--catalog", str(catalog),
                     "--index", str(tmp_path / "index"), "--inputs",
                     '{"customer_email": "jane@example.com"}', "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["path"] == ["find_order", "refund_order"]
    assert report["outputs"]["refund_order"] == {"refund_id": "re_1", "order_id": "o-42"}
    assert "note:" not in result.stderr  # its functions are not --tool bindings to explain
    shop = sys.modules["shop_cli_tools"]
    assert shop.CALLS == [("find_order", "jane@example.com"), ("refund_order", "o-42")]


def test_a_run_lacking_an_input_says_how_to_give_it(tmp_path: Path) -> None:
    catalog = tmp_path / "shop_hint_tools.py"
    catalog.write_text(SHOP)
    args = ["run", "refund the customer's last order", "--catalog", str(catalog), "--index",
            str(tmp_path / "index")]  # fmt: skip
    lacking = _invoke(*args)
    assert lacking.exit_code == 1
    hint = next(line for line in lacking.stderr.splitlines() if line.startswith("hint:"))
    assert "lacks customer_email" in hint and "--llm" in hint
    suggested = hint.split("--inputs '", 1)[1].split("'", 1)[0]
    given = json.dumps(json.loads(suggested) | {"customer_email": "jane@example.com"})
    assert _invoke(*args, "--inputs", given).exit_code == 0


def test_a_misspelled_input_is_a_usage_error_naming_the_nearest_one(tmp_path: Path) -> None:
    catalog = tmp_path / "shop_typo_tools.py"
    catalog.write_text(SHOP)
    result = _invoke("run", "refund the customer's last order", "--catalog", str(catalog),
                     "--index", str(tmp_path / "index"), "--inputs",
                     '{"customer_mail": "jane@example.com"}')  # fmt: skip
    assert result.exit_code == 2
    assert "inputs['customer_mail']" in result.stderr
    assert "did you mean customer_email?" in result.stderr
    assert "Traceback" not in result.output


# The server's base URL, the requests it received, the answers it gives in turn.
ChatServer = tuple[str, list[dict[str, Any]], list[str]]


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A real HTTP chat-completions endpoint on localhost: it answers each request with the
    next of ``answers`` (appended by the test) and keeps the request bodies."""
    received: list[dict[str, Any]] = []
    answers: list[str] = []

    class Chat(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append({"path": self.path, **json.loads(self.rfile.read(length))})
            body = json.dumps({"choices": [{"message": {"content": answers.pop(0)}}]})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Chat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", received, answers
    finally:
        server.shutdown()
        server.server_close()


# The payment is named, not written: the agent's LLM knows which one, the run does not.
REFUND_PAYMENT = "refund the payment I told you about"


def _refund_step(index_dir: Path) -> Any:
    """The step of the plan for REFUND_PAYMENT that refunds (its last)."""
    from orchestrator import Orchestrator
    from orchestrator.routing import SkillRouter

    router = SkillRouter.from_catalog(SAMPLE_CATALOG, index_dir=index_dir)
    return Orchestrator(router).plan(REFUND_PAYMENT).steps[-1]


def _write_refund_module(path: Path, monkeypatch: Any) -> None:
    """An importable module whose ``refund(payment_id)`` records each payment id in CALLS."""
    path.write_text(
        "CALLS = []\n"
        "def refund(payment_id):\n"
        "    CALLS.append(payment_id)\n"
        "    return {'refund_id': 're_1', 'status': 'succeeded', 'amount': 5, 'currency': 'eur'}\n"
    )
    monkeypatch.syspath_prepend(str(path.parent))


def test_run_asks_the_llm_for_an_input_the_task_does_not_write_and_calls_the_step_again(
    index_dir: Path,
    tmp_path: Path,
    monkeypatch: Any,
    chat_server: ChatServer,
) -> None:
    step = _refund_step(index_dir)
    _write_refund_module(tmp_path / "strict_tools.py", monkeypatch)
    task = REFUND_PAYMENT
    assert "payment_id" in step.open_inputs and step.alternatives
    url, received, answers = chat_server
    answers.append(json.dumps({"action": "provide", "inputs": {"payment_id": "pi_3MtwBw"}}))
    # The alternatives are simulated: take them down, so the bound function is the one path.
    down = [arg for alt in step.alternatives for arg in ("--fail", f"{alt}:down")]
    result = _invoke("run", task, "--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir),
                     "--tool", f"{step.id}=strict_tools:refund", *down,
                     "--llm", url, "--llm-model", "local-model", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    import strict_tools  # type: ignore[import-not-found]

    assert strict_tools.CALLS == ["pi_3MtwBw"]  # refused without it, then called with it
    assert report["outcome"] == "completed" and report["llm_calls"] == 1
    [request] = received
    assert request["path"] == "/v1/chat/completions" and request["model"] == "local-model"
    asked = json.loads(request["messages"][1]["content"])
    assert asked["task"] == task and asked["missing"] == ["payment_id"]


def test_run_does_not_start_when_no_bound_function_of_a_step_can_be_called(
    index_dir: Path,
    tmp_path: Path,
    monkeypatch: Any,
    chat_server: ChatServer,
) -> None:
    step = _refund_step(index_dir)
    _write_refund_module(tmp_path / "every_refund.py", monkeypatch)
    task = REFUND_PAYMENT
    # Every skill of the step is bound to the real function, which needs a payment_id.
    bound = [
        a for s in (step.id, *step.alternatives) for a in ("--tool", f"{s}=every_refund:refund")
    ]
    args = ["run", task, "--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir), *bound]
    unstarted = _invoke(*args, "--json")
    assert unstarted.exit_code == 1
    report = json.loads(unstarted.stdout)
    assert report["outcome"] == "escalated" and report["path"] == []
    assert "not started" in report["decisions"][-1]["reason"]
    import every_refund  # type: ignore[import-not-found]

    assert every_refund.CALLS == []
    url, received, answers = chat_server
    answers.append(json.dumps({"action": "provide", "inputs": {"payment_id": "pi_3MtwBw"}}))
    provided = _invoke(*args, "--llm", url, "--llm-model", "m", "--json")
    assert provided.exit_code == 0, provided.output
    assert json.loads(provided.stdout)["llm_calls"] == 1
    assert every_refund.CALLS == ["pi_3MtwBw"]
    assert json.loads(received[0]["messages"][1]["content"])["missing"] == ["payment_id"]


def test_run_demotes_the_goal_when_the_llm_says_so_and_escalates_without_one(
    index_dir: Path, chat_server: ChatServer
) -> None:
    url, received, answers = chat_server
    graph = SUPPORT_GRAPH
    bound = [arg for t in ("CRM", "ManualTicket") for arg in ("--tool", f"{t}=builtins:dict")]
    args = ["run", REFUND, "--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir),
            "--graph", graph, *bound, "--fail", "Stripe:down", "--fail", "Razorpay:down",
            "--json"]  # fmt: skip
    alone = _invoke(*args)
    assert alone.exit_code == 1
    last = json.loads(alone.stdout)["decisions"][-1]
    assert last["action"] == "escalate" and "no escalation handler" in last["reason"]
    answers.append(json.dumps({"action": "demote", "fallback": "RefundTicketed"}))
    asked = _invoke(*args, "--llm", url, "--llm-model", "m")
    assert asked.exit_code == 0, asked.output
    report = json.loads(asked.stdout)
    assert report["outcome"] == "demoted" and report["path"] == ["CRM", "ManualTicket"]
    assert report["llm_calls"] == 1
    [request] = received
    assert '"action": "demote"' in request["messages"][0]["content"]
    assert json.loads(request["messages"][1]["content"])["fallbacks"][0]["goal"] == (
        "RefundTicketed"
    )
    assert _invoke(*args, "--llm", url).exit_code == 2  # no --llm-model
    assert _invoke(*args, "--llm-model", "m").exit_code == 2  # no --llm
    unknown = _invoke(*args, "--llm", url, "--llm-model", "m", "--llm-api", "fax")
    assert unknown.exit_code == 2 and "--llm-api: expected one of openai" in unknown.output


def test_run_on_a_graph_simulates_its_unbound_tools_and_counts_their_prices(
    index_dir: Path,
) -> None:
    # The README's line: a graph of tools that are not catalog skills runs as a dry run.
    graph = SUPPORT_GRAPH
    args = ["run", REFUND, "--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir),
            "--graph", graph]  # fmt: skip
    ran = _invoke(*args, "--json")
    assert ran.exit_code == 0, ran.output
    report = json.loads(ran.stdout)
    assert report["outcome"] == "completed" and report["path"] == ["CRM", "Stripe", "Email"]
    assert report["cost"] == pytest.approx(0.001 + 0.02 + 0.001)  # the graph's prices
    assert report["graph"] == "customer_support" and report["plan"] is None  # not what ran
    table = _invoke(*args)
    assert "CRM" in table.stdout and "stripe_create_refund" not in table.stdout  # not the plan


def test_a_graph_run_gives_its_tools_the_values_the_task_writes_by_input_name(
    index_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tool_module(
        tmp_path,
        monkeypatch,
        "graph_tools",
        "import json\n\ndef crm(**kwargs):\n    print('CRM', json.dumps(kwargs))\n"
        "    return {'customer_id': 'c1'}\n",
    )
    graph = SUPPORT_GRAPH
    ran = _invoke("run", "Refund order 123", "--catalog", str(SAMPLE_CATALOG), "--index",
                  str(index_dir), "--graph", graph, "--tool", "CRM=graph_tools:crm")  # fmt: skip
    assert ran.exit_code == 0, ran.output
    # Not the plan's "cancel_order.order_id": that skill is not in the graph.
    assert 'CRM {"order_id": "123"}' in ran.stdout


def test_run_says_when_a_bound_function_is_not_a_step_of_the_plan(index_dir: Path) -> None:
    task = "refund payment pi_3MtwBw"
    planned = json.loads(_invoke("route", "--catalog", str(SAMPLE_CATALOG), "--index",
                                 str(index_dir), "--plan", "--json", task).stdout)  # fmt: skip
    step = planned["plan"][-1]["id"]
    args = ["run", task, "--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir), "--json"]
    alternative = _invoke(*args, "--tool", "stripe_create_refund=json:dumps")
    assert step != "stripe_create_refund"
    assert f"--tool stripe_create_refund is only an alternative of step {step}" in (
        alternative.stderr
    )
    elsewhere = _invoke(*args, "--tool", "get_weather_forecast=json:dumps")
    assert "--tool get_weather_forecast is not in the plan" in elsewhere.stderr
    chosen = _invoke(*args, "--tool", f"{step}=builtins:dict")
    assert "note:" not in chosen.stderr
    # With --graph the graph's tools run, whatever the plan says.
    graph = SUPPORT_GRAPH
    on_graph = _invoke(*args, "--graph", graph, "--tool", "CRM=builtins:dict")
    assert "CRM" in on_graph.stdout and "not in the plan" not in on_graph.stderr
    assert "note: Stripe, Email were simulated, not called" in on_graph.stderr


def test_run_rejects_a_malformed_fault_or_binding() -> None:
    bad_fault = _invoke("run", "x", "--fail", "stripe:melted")
    said = " ".join(bad_fault.output.replace("│", " ").split())
    assert bad_fault.exit_code == 2 and "TOOL:KIND" in said
    # One list of kinds, this option's: the scenario schema's own had come first, with kinds
    # (latency, flaky, missing_input) the option refuses.
    assert "no fault kind 'melted'" in said and "flaky" not in said
    stays_down = _invoke("run", "x", "--fail", "stripe:down:1")
    assert stays_down.exit_code == 2 and "a down tool stays down" in stays_down.output
    needs_more = _invoke("run", "x", "--fail", "stripe:latency")
    assert needs_more.exit_code == 2
    assert "latency fault takes more than TIMES; declare it in a scenario" in " ".join(
        needs_more.output.replace("│", " ").split()
    )
    bad_tool = _invoke("run", "x", "--tool", "stripe")
    assert bad_tool.exit_code == 2 and "SKILL=module:function" in bad_tool.output


def test_run_says_which_steps_were_simulated_and_keeps_tool_prints_off_json(
    index_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tool_module(
        tmp_path,
        monkeypatch,
        "chatty_tools",
        "def boom(**kwargs):\n    raise RuntimeError('card processor exploded')\n\n"
        "def loud(**kwargs):\n    print('hello from the tool')\n    return {'refund_id': 're_1'}\n",
    )
    task = "refund payment pi_3MtwBw"
    args = ["run", task, "--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir), "--json"]
    # The real tool fails; its simulated alternative completes the run: a dry-run success.
    failed = _invoke(*args, "--tool", "refund_payment=chatty_tools:boom")
    report = json.loads(failed.stdout)
    assert report["outcome"] == "completed" and "refund_payment" not in report["path"]
    assert f"note: {report['path'][-1]} was simulated, not called" in failed.stderr
    loud = _invoke(*args, "--tool", "refund_payment=chatty_tools:loud")
    assert json.loads(loud.stdout)["path"] == ["refund_payment"]  # stdout is the JSON alone
    assert "hello from the tool" in loud.stderr and "simulated" not in loud.stderr


def test_run_reads_its_graph_before_indexing_and_names_faults_on_unknown_tools(
    index_dir: Path, tmp_path: Path
) -> None:
    # A missing graph is reported before the catalog is indexed (no index folder is made).
    missing = _invoke("run", "x", "--index", str(tmp_path / "idx"), "--graph", "nope.yaml")
    assert missing.exit_code == 2 and "nope.yaml: cannot read graph" in missing.output
    assert not (tmp_path / "idx").exists()
    args = ["run", REFUND, "--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir)]
    ran = _invoke(*args, "--fail", "nosuch:down", "--json")
    assert "--fail nosuch: no such tool in the catalog; nothing is injected" in ran.stderr


def test_run_exits_1_when_nothing_fits(index_dir: Path) -> None:
    result = _invoke("run", "order me a large pepperoni pizza", "--catalog",
                     str(SAMPLE_CATALOG), "--index", str(index_dir), "--json")  # fmt: skip
    assert result.exit_code == 1
    assert json.loads(result.stdout)["outcome"] == "escalated"
    shown = _invoke("run", "order me a large pepperoni pizza", "--catalog",
                    str(SAMPLE_CATALOG), "--index", str(index_dir))  # fmt: skip
    assert "plan: order me a large pepperoni pizza: no step" in shown.stdout
    assert "┏" not in shown.stdout.split("no step")[0], "no empty plan table"


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


def _usage_file(path: Path, runs: list[tuple[str, tuple[str, ...]]]) -> Path:
    from orchestrator.planning import PastRun, UsageModel

    return UsageModel.fit(PastRun(task, tools) for task, tools in runs).save(path)


def test_run_learns_a_completed_run_into_a_new_usage_file(index_dir: Path, tmp_path: Path) -> None:
    usage = tmp_path / "usage.json"
    args = ["run", REFUND, "--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir),
            "--usage", str(usage), "--learn", "--json"]  # fmt: skip
    # Only real runs are counted: a dry run over simulated tools is refused.
    dry = _invoke(*args)
    assert dry.exit_code == 2 and "--learn" in dry.output and "simulated" in dry.output
    assert not usage.exists()
    # A run on a --graph is never counted: said first, as binding tools would not help.
    on_graph = _invoke(*args, "--graph", SUPPORT_GRAPH)
    said = " ".join(on_graph.output.replace("│", " ").split())
    assert on_graph.exit_code == 2 and "a run on your --graph is not one" in said
    real = ["--tool", "stripe_create_refund=builtins:dict"]
    result = _invoke(*args, *real)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["outcome"] == "completed" and report["learned"] is True
    saved = json.loads(usage.read_text())
    assert saved["runs"] == [{"task": REFUND, "tools": report["path"]}]
    again = _invoke(*args, *real)
    assert again.exit_code == 0, again.output
    assert len(json.loads(usage.read_text())["runs"]) == 2  # counted on top of the first
    # A run that completed through a simulated step is not counted; nor is a run on a graph.
    elsewhere = _invoke(*args, "--tool", "get_weather_forecast=builtins:dict")
    assert json.loads(elsewhere.stdout)["learned"] is False
    assert len(json.loads(usage.read_text())["runs"]) == 2
    graph = SUPPORT_GRAPH
    on_graph = _invoke(*args, *real, "--graph", graph)
    assert on_graph.exit_code == 2 and "--graph" in on_graph.output


def test_a_run_that_does_not_complete_is_not_learned(index_dir: Path, tmp_path: Path) -> None:
    usage = _usage_file(tmp_path / "usage.json", [(REFUND, ("stripe_create_refund",))])
    before = usage.read_bytes()
    result = _invoke("run", "order me a large pepperoni pizza", "--catalog", str(SAMPLE_CATALOG),
                     "--index", str(index_dir), "--usage", str(usage), "--learn",
                     "--tool", "stripe_create_refund=builtins:dict", "--json")  # fmt: skip
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["outcome"] == "escalated" and report["learned"] is False
    assert usage.read_bytes() == before


def test_plans_follow_the_usage_model_given_to_route_and_run(
    index_dir: Path, tmp_path: Path
) -> None:
    # Past refunds logged the interaction first and never fetched the payment.
    usage = _usage_file(
        tmp_path / "usage.json", [(REFUND, ("crm_log_interaction", "stripe_create_refund"))] * 3
    )
    before = usage.read_bytes()
    common = ["--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir), "--json"]
    alone = json.loads(_invoke("route", "--plan", REFUND, *common).stdout)["plan"]
    planned = _invoke("route", "--plan", REFUND, "--usage", str(usage), *common)
    assert planned.exit_code == 0, planned.output
    learned = [step["id"] for step in json.loads(planned.stdout)["plan"]]
    assert "crm_log_interaction" not in [step["id"] for step in alone]
    assert learned == ["crm_log_interaction", "stripe_create_refund"]
    ran = _invoke("run", REFUND, "--usage", str(usage), *common)
    assert ran.exit_code == 0, ran.output
    report = json.loads(ran.stdout)
    assert report["path"] == learned and "learned" not in report
    assert usage.read_bytes() == before  # read, not written, without --learn


def test_a_missing_or_malformed_usage_file_or_a_misplaced_flag_is_a_clear_error(
    tmp_path: Path,
) -> None:
    missing = _invoke("run", REFUND, "--usage", str(tmp_path / "absent.json"))
    assert missing.exit_code == 2
    assert "absent.json: no usage model there" in missing.output
    malformed = tmp_path / "usage.json"
    malformed.write_text(json.dumps({"format": "other", "runs": []}))
    bad = _invoke("route", "--plan", REFUND, "--usage", str(malformed))
    assert bad.exit_code == 2
    assert "field 'format' must be 'orchestrator.usage/1'" in bad.output
    learn_alone = _invoke("run", REFUND, "--learn")
    assert learn_alone.exit_code == 2 and "--usage" in learn_alone.output
    without_plan = _invoke("route", REFUND, "--usage", str(malformed))
    assert without_plan.exit_code == 2 and "--plan" in without_plan.output
