"""Scenario files, fault injection, baselines and the ``scenario run`` command."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import anyio
import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from orchestrator.catalog import load_catalog
from orchestrator.cli import app
from orchestrator.errors import (
    ScenarioError,
    ToolArgumentError,
    ToolCallError,
    ToolUnavailableError,
)
from orchestrator.graph import load_graph
from orchestrator.scenarios import (
    FaultInjector,
    ScenarioSpec,
    SimulatedInvoker,
    load_scenario,
    run_scenario,
    sample_output,
)
from tests.conftest import SAMPLE_CATALOG

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "tests" / "scenarios").glob("*.yaml"))


def test_at_least_forty_scenarios_cover_all_three_topologies() -> None:
    topologies = Counter(load_scenario(p).topology for p in SCENARIOS)
    assert len(SCENARIOS) >= 40
    assert set(topologies) == {"linear", "dag", "fanout"}
    assert min(topologies.values()) >= 10


@pytest.mark.anyio
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
async def test_router_meets_every_scenario_expectation(path: Path) -> None:
    result = await run_scenario(load_scenario(path))
    assert result.mismatches == []
    assert result.silent_failures == []
    # The LLM is asked only when no path is left (each ask is logged as an escalation) ...
    escalations = [d for d in result.log if d.action == "escalate"]
    assert result.llm_calls <= len(escalations)
    if result.last.outcome == "completed":  # ... and a completed run only for missing inputs
        assert all("provided" in d.reason for d in escalations)
    executed = [d.tool for d in result.log if d.action == "execute"]
    if result.scenario.spec.runs == 1:
        assert len(executed) == len(set(executed))  # no step ran twice


@pytest.mark.anyio
async def test_static_workflow_skips_are_reported_as_silent_failures() -> None:
    scenario = load_scenario(ROOT / "tests/scenarios/cs05_both_payments_down_demote.yaml")
    static = await run_scenario(scenario, "static")
    assert static.last.outcome == "completed"  # what the workflow believes
    assert not static.outcome_correct
    assert [d.tool for d in static.silent_failures] == ["Razorpay"]


@pytest.mark.anyio
async def test_react_baseline_pays_an_llm_call_per_step_and_failure() -> None:
    scenario = load_scenario(ROOT / "tests/scenarios/cs02_payment_down.yaml")
    router = await run_scenario(scenario, "router")
    react = await run_scenario(scenario, "react")
    assert router.llm_calls == 0
    # CRM, Stripe (fails), Razorpay, Email: four routing questions plus one after the failure.
    assert react.llm_calls == 5
    assert react.last.path == router.last.path


def _injector(faults: list[dict[str, object]], seed: int = 0) -> FaultInjector:
    graph = load_graph(ROOT / "graphs/customer_support.yaml")
    spec = ScenarioSpec.model_validate(
        {"id": "t", "graph": {}, "faults": faults, "expect": {"outcome": "completed"}, "seed": seed}
    )
    return FaultInjector(SimulatedInvoker(graph), spec.faults, seed=seed)


async def _outcomes(injector: FaultInjector, tool: str, n: int) -> list[str]:
    found = []
    for _ in range(n):
        try:
            await injector.invoke(tool, {})
            found.append("ok")
        except (ToolCallError, ToolUnavailableError) as exc:
            found.append(type(exc).__name__)
    return found


def test_fault_starts_after_n_successes_and_stops_after_times() -> None:
    injector = _injector([{"tool": "Stripe", "kind": "error", "after": 2, "times": 2}])
    outcomes = anyio.run(_outcomes, injector, "Stripe", 6)
    assert outcomes == ["ok", "ok", "ToolCallError", "ToolCallError", "ok", "ok"]


def test_a_malformed_answer_is_no_success_a_later_fault_counts_after() -> None:
    faults = [
        {"tool": "Stripe", "kind": "malformed", "times": 1},
        {"tool": "Stripe", "kind": "error", "after": 1, "times": 1},
    ]
    outcomes = anyio.run(_outcomes, _injector(faults), "Stripe", 4)
    assert outcomes == ["ok", "ok", "ToolCallError", "ok"]  # the first "ok" is the garbled one


def test_flaky_fault_is_reproducible_from_the_seed() -> None:
    def draw(seed: int) -> list[str]:
        injector = _injector([{"tool": "Stripe", "kind": "flaky", "p": 0.5}], seed=seed)
        return anyio.run(_outcomes, injector, "Stripe", 40)

    assert draw(1) == draw(1)
    assert draw(1) != draw(2)
    assert 5 < draw(1).count("ok") < 35


def test_down_fault_fails_the_recovery_probe() -> None:
    injector = _injector([{"tool": "Stripe", "kind": "down", "after": 1}])
    assert anyio.run(injector.probe, "Stripe")
    anyio.run(_outcomes, injector, "Stripe", 1)
    assert not anyio.run(injector.probe, "Stripe")


def test_malformed_fault_returns_output_that_fails_the_schema() -> None:
    injector = _injector([{"tool": "Stripe", "kind": "malformed", "times": 1}])
    assert "refund_id" not in anyio.run(injector.invoke, "Stripe", {})
    assert "refund_id" in anyio.run(injector.invoke, "Stripe", {})


def test_missing_input_fault_refuses_calls_without_the_inputs_and_names_them() -> None:
    injector = _injector([{"tool": "Stripe", "kind": "missing_input", "inputs": ["order_id"]}])
    with pytest.raises(ToolArgumentError) as refused:
        anyio.run(injector.invoke, "Stripe", {"inputs": {"task": "refund"}, "upstream": {}})
    assert refused.value.missing == ("order_id",)
    given = {"inputs": {"order_id": "o-42"}, "upstream": {}}
    assert "refund_id" in anyio.run(injector.invoke, "Stripe", given)
    # Arguments already bound (an Orchestrator run binds them by name) count as given too.
    assert "refund_id" in anyio.run(injector.invoke, "Stripe", {"order_id": "o-42"})


@pytest.mark.anyio
async def test_react_baseline_also_takes_inputs_the_llm_provides() -> None:
    scenario = load_scenario(ROOT / "tests/scenarios/cs28_order_id_asked_for.yaml")
    router = await run_scenario(scenario, "router")
    react = await run_scenario(scenario, "react")
    assert router.passed and react.last.outcome == "completed"
    assert react.last.path == router.last.path == ["CRM", "Stripe", "Email"]
    assert router.llm_calls == 1 and react.llm_calls > router.llm_calls


VALID = """\
id: T-1
topology: linear
graph:
  start: Start
  goal: Complete
  edges:
    - [Start, CRM, 0.1]
    - [CRM, Stripe, 0.3]
    - [Stripe, Complete, 0]
faults:
  - {tool: Stripe, kind: down}
expect:
  outcome: [escalated, demoted]
"""


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("topology: linear", "topology: linear\ncolour: red", "field colour"),
        ("kind: down}", "kind: exploded}", "field faults.0"),
        ("kind: down}", "kind: down, ms: 5}", "field faults.0.ms"),
        ("{tool: Stripe,", "{tool: Paypal,", "field faults.0.tool"),
        ("{tool: Stripe, kind: down}", "{tool: Stripe, kind: flaky}", "field faults.0.p"),
        ("outcome: [escalated, demoted]", "outcome: vanished", "field expect.outcome"),
        (
            "outcome: [escalated, demoted]",
            "outcome: escalated\n  path: [Start, X]",
            "expect.path.1",
        ),
        ("  goal: Complete\n", "", "field goal"),
        (
            "topology: linear",
            "topology: linear\npolicy: {execution: {retry: {max_attempts: 0}}}",
            "field policy.execution.retry.max_attempts",
        ),
        (
            "topology: linear",
            "topology: linear\nescalation: [{demote: Nowhere}]",
            "field escalation.0.demote",
        ),
        (
            "topology: linear",
            "topology: linear\nescalation: [{give_up: stop, provide: {order_id: o-1}}]",
            "give exactly one of demote, give_up, provide",
        ),
        ("kind: down}", "kind: missing_input}", "field faults.0.inputs"),
        ("kind: down}", "kind: missing_input, inputs: []}", "field faults.0.inputs"),
        # Both loaded: a refusal waited for forever, and a missing input no reply could name.
        ("kind: down}", "kind: rate_limited, retry_after_ms: .inf}", "faults.0.retry_after_ms"),
        ("kind: down}", "kind: missing_input, inputs: ['']}", "field faults.0.inputs.0"),
        # An empty list of passing outcomes loaded, then failed every run as an expectation.
        ("outcome: [escalated, demoted]", "outcome: []", "field expect.outcome"),
    ],
)
def test_bad_scenario_files_name_the_file_and_field(
    tmp_path: Path, old: str, new: str, field: str
) -> None:
    assert old in VALID
    path = tmp_path / "bad.yaml"
    path.write_text(VALID.replace(old, new, 1))
    with pytest.raises(ScenarioError, match=field) as info:
        load_scenario(path)
    assert str(path) in str(info.value)


def test_the_valid_template_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(VALID)
    assert load_scenario(path).id == "T-1"


def test_graph_reference_that_does_not_exist_is_a_scenario_error(tmp_path: Path) -> None:
    path = tmp_path / "ref.yaml"
    path.write_text(
        VALID.split("graph:")[0] + "graph: graphs/nope.yaml\nexpect: {outcome: completed}\n"
    )
    with pytest.raises(ScenarioError, match="field graph"):
        load_scenario(path)


runner = CliRunner()


def test_cli_prints_one_json_line_per_scenario_however_many_files() -> None:
    one = runner.invoke(app, ["scenario", "run", str(SCENARIOS[0]), "--json"])
    assert one.exit_code == 0, one.output
    [line] = one.output.splitlines()
    data = json.loads(line)
    assert set(data) >= {"id", "outcome", "path", "llm_calls", "reroutes", "retries", "decisions"}
    assert set(data["decisions"][0]) == {"action", "tool", "reason", "t_ms"}
    two = runner.invoke(app, ["scenario", "run", str(SCENARIOS[0]), str(SCENARIOS[1]), "--json"])
    assert two.exit_code == 0, two.output
    assert [json.loads(line)["id"] for line in two.output.splitlines()] == [
        load_scenario(SCENARIOS[0]).id,
        load_scenario(SCENARIOS[1]).id,
    ]


def test_cli_exits_non_zero_when_an_expectation_fails(tmp_path: Path) -> None:
    path = tmp_path / "wrong.yaml"
    path.write_text(VALID.replace("outcome: [escalated, demoted]", "outcome: completed"))
    result = runner.invoke(app, ["scenario", "run", str(path), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["outcome"] == "escalated"


def test_cli_exits_two_on_a_malformed_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: X\n")
    result = runner.invoke(app, ["scenario", "run", str(path)])
    assert result.exit_code == 2


def test_a_scenario_file_with_broken_yaml_names_the_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: X\nfaults: [{tool: Stripe, kind: down}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line 3, column 1: not valid YAML: ")
    assert "\n" not in message and "<unicode string>" not in message


def test_scenario_run_prints_broken_yaml_as_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("routing: [\n")
    result = runner.invoke(app, ["scenario", "run", str(path)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {path}: line 2, column 1: not valid YAML: "
        "expected the node content, but found '<stream end>'"
    )


def test_a_run_stopped_by_a_bad_scenario_file_keeps_the_earlier_trace(tmp_path: Path) -> None:
    good, bad, trace = tmp_path / "good.yaml", tmp_path / "bad.yaml", tmp_path / "trace.jsonl"
    good.write_text(VALID)
    bad.write_text("routing: [\n")
    first = runner.invoke(app, ["scenario", "run", str(good), "--trace-file", str(trace)])
    assert first.exit_code == 0 and trace.read_text().strip()
    before = trace.read_text()
    result = runner.invoke(
        app, ["scenario", "run", str(good), str(bad), "--trace-file", str(trace)]
    )
    assert result.exit_code == 2
    assert trace.read_text() == before, "nothing ran, yet the trace was replaced"


def test_a_scenario_naming_a_graph_file_with_broken_yaml_names_both_files(tmp_path: Path) -> None:
    graph = tmp_path / "graph.yaml"
    graph.write_text("start: S\ngoal: [G\n")
    path = tmp_path / "ref.yaml"
    path.write_text(VALID.split("graph:")[0] + f"graph: {graph}\nexpect: {{outcome: completed}}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}: field graph: {graph}: line 3, column 1: not valid YAML: ")
    assert "\n" not in message


TIME_CONVERSION = {  # mcp-server-time's convert_time outputSchema, as its server lists it
    "type": "object",
    "properties": {
        "source": {"$ref": "#/$defs/TimeResult"},
        "target": {"$ref": "#/$defs/TimeResult"},
        "time_difference": {"type": "string"},
    },
    "required": ["source", "target", "time_difference"],
    "$defs": {
        "TimeResult": {
            "type": "object",
            "properties": {
                "timezone": {"type": "string"},
                "datetime": {"type": "string"},
                "is_dst": {"type": "boolean"},
            },
            "required": ["timezone", "datetime", "is_dst"],
        }
    },
}
TREE = {  # recursive, closed, with unions, bounds and minimum sizes
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 12, "maxLength": 20},
        "size": {"type": "integer", "minimum": 5, "maximum": 9},
        "ratio": {"type": "number", "exclusiveMinimum": 2},
        "parent": {"anyOf": [{"type": "null"}, {"$ref": "#"}]},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "minItems": 2},
        "kind": {"type": ["null", "string"]},
    },
    "required": ["name", "size", "ratio", "parent", "tags", "kind"],
}


@pytest.mark.parametrize(
    "schema",
    [TIME_CONVERSION, TREE, {"type": "string", "description": "The message id."}],
    ids=["refs", "closed-tree", "not-an-object"],
)
def test_simulated_outputs_satisfy_the_schema_they_are_sampled_from(
    schema: dict[str, object],
) -> None:
    output = sample_output("t", schema)
    Draft202012Validator(schema).validate(output)
    open_object = schema.get("type") == "object" and schema.get("additionalProperties") is not False
    assert isinstance(output, dict) == (schema.get("type") == "object")
    assert (isinstance(output, dict) and "ok" in output) == open_object


def test_a_simulated_result_holds_the_fields_a_plan_reads_even_where_none_is_required() -> None:
    # As OpenAPI responses are written: nothing required, records in an array.
    listing = {
        "type": "object",
        "properties": {
            "deployments": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"deployment_id": {"type": "string"}, "status": {"enum": ["ok"]}},
                },
            },
            "next_page": {"type": "string"},
        },
    }
    output = sample_output("list_deployments", listing)
    assert output["deployments"] == [{"deployment_id": "simulated", "status": "ok"}]
    assert output["next_page"] == "simulated"
    # A field the sampler cannot satisfy (a pattern) is left out, not every optional field.
    listing["properties"]["cursor"] = {"type": "string", "pattern": "^[0-9]+$"}
    patterned = sample_output("list_deployments", listing)
    assert "cursor" not in patterned and patterned["deployments"] == output["deployments"]


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"id": {"type": "string"}, "meta": True}},
        {"type": "object", "properties": {"a": {}, "b": {}}, "maxProperties": 1},
        {"type": "object", "properties": {"a": {}, "b": False}},
        {"type": "object", "properties": {"a": {}, "b": {}}, "dependentRequired": {"a": ["c"]}},
    ],
    ids=["true-property", "max-properties", "false-property", "dependent-required"],
)
def test_a_schema_limiting_what_may_be_there_still_gets_a_valid_simulated_output(
    schema: dict[str, object],
) -> None:
    Draft202012Validator(schema).validate(sample_output("t", schema))


def test_a_tuple_is_simulated_one_value_per_position() -> None:
    """Sampled as [], a tuple (zod's draft-07 items list, or 2020-12's prefixItems, with the
    minItems both write) failed its own schema: dry runs over such tools ended malformed."""
    from orchestrator._json_schema import schema_validator

    pair = [{"type": "number"}, {"type": "number"}]
    draft7 = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"southwest": {"type": "array", "items": pair, "minItems": 2}},
        "required": ["southwest"],
    }
    modern = {"type": "array", "prefixItems": pair, "minItems": 2, "maxItems": 2}
    for schema in (draft7, modern):
        output = sample_output("get_bounds", schema)
        assert schema_validator(schema).is_valid(output), output


def test_every_sample_catalog_skill_is_simulated_with_a_valid_output() -> None:
    for skill in load_catalog(SAMPLE_CATALOG):
        if skill.outputs:
            Draft202012Validator(skill.outputs).validate(sample_output(skill.id, skill.outputs))


def test_a_simulated_skill_notes_the_required_arguments_it_was_called_without() -> None:
    [refund] = [s for s in load_catalog(SAMPLE_CATALOG) if s.id == "refund_payment"]
    simulated = SimulatedInvoker([refund])
    # The executor's envelope holds the run's inputs; bound arguments are the mapping itself.
    anyio.run(simulated.invoke, "refund_payment", {"inputs": {"payment_id": "p"}, "upstream": {}})
    anyio.run(simulated.invoke, "refund_payment", {"payment_id": "p"})
    assert simulated.lacking == {}
    anyio.run(simulated.invoke, "refund_payment", {"inputs": {"task": "refund"}, "upstream": {}})
    assert simulated.lacking == {"refund_payment": ("payment_id",)}


def test_a_missing_graph_file_names_every_place_looked(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        VALID.split("graph:")[0] + "graph: paymentz.yaml\nexpect: {outcome: completed}\n"
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}: field graph: graph file 'paymentz.yaml' not found")
    assert str(tmp_path / "paymentz.yaml") in message and str(Path.cwd()) in message
