"""The tool graph: definitions, weights, Dijkstra routing with masks, joins and quorums."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.catalog import Skill
from orchestrator.errors import GraphError, NoPathError
from orchestrator.graph import (
    GraphPolicy,
    ToolGraph,
    ToolStats,
    Weights,
    graph_from_definition,
    load_graph,
    plan_route,
)

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"


def linear() -> ToolGraph:
    return graph_from_definition(
        {
            "start": "Start",
            "goal": "Complete",
            "edges": [
                ["Start", "CRM", 0.1],
                ["CRM", "Stripe", 0.3],
                ["CRM", "Razorpay", 0.5],
                ["Stripe", "Email", 0.1],
                ["Razorpay", "Email", 0.1],
                ["Email", "Complete", 0.0],
            ],
        }
    )


def test_cheapest_path_follows_edge_costs() -> None:
    g = linear()
    assert plan_route(g, Weights(g)).path == ("Start", "CRM", "Stripe", "Email", "Complete")


def test_masked_tool_is_never_on_the_path_and_graph_is_not_mutated() -> None:
    g = linear()
    edges_before = g.digraph.number_of_edges()
    plan = plan_route(g, Weights(g, masked={"Stripe"}))
    assert "Stripe" not in plan.steps
    assert plan.path == ("Start", "CRM", "Razorpay", "Email", "Complete")
    assert g.digraph.number_of_edges() == edges_before


def test_no_path_raises_no_path_error_naming_the_masked_tools() -> None:
    g = linear()
    with pytest.raises(NoPathError, match="Razorpay, Stripe"):
        plan_route(g, Weights(g, masked={"Stripe", "Razorpay"}))


def test_reroute_starts_from_completed_steps_without_replanning_them() -> None:
    g = linear()
    plan = plan_route(g, Weights(g, masked={"Stripe"}), done={"CRM"})
    assert plan.origin == ("CRM",)
    assert plan.steps == ("Razorpay", "Email", "Complete")


def test_weight_formula_multiplies_latency_reliability_and_pressure() -> None:
    g = ToolGraph(start="S", goal="G")
    g.add_tool("T", price=0.5, latency_ms=500.0, reliability=0.8)
    g.add_edge("S", "T", 1.0)
    g.add_edge("T", "G", 0.0)
    policy = GraphPolicy(latency_ref_ms=1000.0, pressure_weight=4.0)
    stats = {"T": ToolStats(latency_ms=500.0, failure_rate=0.2, pressure=0.25)}
    cost = Weights(g, policy, stats).breakdown("S", "T")
    assert cost.weight == pytest.approx((1.0 + 0.5) * 1.5 * (1 / 0.8) * 2.0)


def test_observed_failures_raise_the_weight_online() -> None:
    g = linear()
    stats = {"Stripe": ToolStats.prior(g.node("Stripe"))}
    before = Weights(g, stats=stats).breakdown("CRM", "Stripe").weight
    for _ in range(3):
        stats["Stripe"].observe(latency_ms=100.0, failed=True, rate_limited=False, alpha=0.3)
    after = Weights(g, stats=stats).breakdown("CRM", "Stripe").weight
    assert after > 1.5 * before
    # Cost now favours the other provider although Stripe never hard-failed the route.
    assert "Razorpay" in plan_route(g, Weights(g, stats=stats)).steps


def free_pair() -> ToolGraph:
    """Two free tools on free edges: only their condition can tell them apart."""
    g = ToolGraph(start="S", goal="G")
    g.add_tool("Flaky", latency_ms=5000.0, reliability=0.06)
    g.add_tool("Solid", latency_ms=10.0, reliability=0.999)
    for tool in ("Flaky", "Solid"):
        g.add_edge("S", tool, 0.0)
        g.add_edge(tool, "G", 0.0)
    return g


def test_a_free_tool_on_a_free_edge_still_weighs_its_latency_and_reliability() -> None:
    """A zero base cancelled every factor: the slow, failing tool was routed to as readily as
    the sound one (the tie going to whichever came first)."""
    g = free_pair()
    assert plan_route(g, Weights(g)).steps == ("Solid", "G")
    flaky = Weights(g).breakdown("S", "Flaky")
    assert flaky.weight == pytest.approx(0.001 * 6.0 * (1 / 0.06))
    assert "(0 + price 0, at least 0.001)" in flaky.describe()


def test_observed_failures_of_a_free_tool_send_the_next_route_elsewhere() -> None:
    g = free_pair()
    stats = {t: ToolStats(latency_ms=10.0, failure_rate=0.0) for t in ("Flaky", "Solid")}
    stats["Flaky"].observe(latency_ms=10.0, failed=True, rate_limited=False, alpha=0.3)
    assert plan_route(g, Weights(g, stats=stats)).steps == ("Solid", "G")


def test_the_cost_floor_leaves_edges_into_states_and_priced_routes_as_they_were() -> None:
    g = linear()
    plan = plan_route(g, Weights(g))
    assert all(e.floor is None for e in plan.edges)  # every tool edge here costs more
    legacy = Weights(g, GraphPolicy(min_tool_cost=0.0))
    assert plan.cost == pytest.approx(plan_route(g, legacy).cost)


def test_explanation_lists_every_edge_and_the_total() -> None:
    g = linear()
    plan = plan_route(g, Weights(g))
    lines = plan.explain()
    assert lines[0].startswith("Start -> CRM:")
    assert len(lines) == len(plan.edges) + 1
    assert sum(e.weight for e in plan.edges) == pytest.approx(plan.cost)


def test_all_join_plans_every_input_and_orders_them_first() -> None:
    g = load_graph(GRAPHS / "release_pipeline.yaml")
    plan = plan_route(g, Weights(g))
    assert set(plan.needs["Release"]) == {"Package", "UnitTests", "Scanned"}
    assert set(plan.needs["Package"]) == {"Build", "Docs"}
    for step, needs in plan.needs.items():
        for need in needs:
            if need in plan.steps:
                assert plan.steps.index(need) < plan.steps.index(step)


def test_join_takes_the_cheaper_alternative_for_an_any_state() -> None:
    g = load_graph(GRAPHS / "release_pipeline.yaml")
    plan = plan_route(g, Weights(g))
    scanners = {"Snyk", "Trivy"} & set(plan.steps)
    assert len(scanners) == 1
    masked = plan_route(g, Weights(g, masked=scanners))
    assert ({"Snyk", "Trivy"} - scanners) <= set(masked.steps)


def _free(g: ToolGraph, *tools: str, price: float = 0.0, join: str = "any") -> None:
    for tool in tools:
        g.add_tool(tool, price=price, latency_ms=0.0, reliability=1.0, join=join)


def test_a_step_two_join_inputs_share_is_paid_once() -> None:
    """Fetch (10) feeds both inputs of the report: 12 in all, cheaper than the vendor's 15. The
    sum of the inputs' own costs (10 + 1, twice) had chosen the vendor."""
    g = ToolGraph(start="S", goal="G")
    _free(g, "Fetch", "Parse", "Stats", "Vendor")
    g.add_state("Report", join="all")
    for edge in [("S", "Fetch", 10), ("Fetch", "Parse", 1), ("Fetch", "Stats", 1)]:
        g.add_edge(*edge)
    for edge in [("Parse", "Report", 0), ("Stats", "Report", 0), ("Report", "G", 0)]:
        g.add_edge(*edge)
    g.add_edge("S", "Vendor", 15)
    g.add_edge("Vendor", "G", 0)
    plan = plan_route(g, Weights(g))
    assert "Vendor" not in plan.steps and plan.cost == pytest.approx(12.0)


def test_a_join_step_is_charged_its_price_once_however_many_inputs_it_waits_for() -> None:
    g = ToolGraph(start="S", goal="G")
    _free(g, "A", "B", "C")
    _free(g, "Load", price=100.0, join="all")
    _free(g, "Bulk", price=150.0)
    for tool in ("A", "B", "C"):
        g.add_edge("S", tool, 0.0)
        g.add_edge(tool, "Load", 0.0)
    g.add_edge("Load", "G", 0.0)
    g.add_edge("S", "Bulk", 0.0)
    g.add_edge("Bulk", "G", 0.0)
    plan = plan_route(g, Weights(g))
    # A, B and C are free: each weighs the policy's min_tool_cost.
    assert "Load" in plan.steps and plan.cost == pytest.approx(100.0 + 3 * 0.001)
    assert sum(e.weight for e in plan.edges) == pytest.approx(plan.cost), "explain adds up"


def test_all_join_with_a_masked_input_has_no_plan() -> None:
    g = load_graph(GRAPHS / "release_pipeline.yaml")
    with pytest.raises(NoPathError):
        plan_route(g, Weights(g, masked={"UnitTests"}))


def test_quorum_fans_out_to_every_feasible_branch_and_needs_k() -> None:
    g = load_graph(GRAPHS / "research_fanout.yaml")
    plan = plan_route(g, Weights(g))
    assert set(plan.needs["Gathered"]) == {"Bing", "Brave", "Tavily", "Exa"}
    two_left = plan_route(g, Weights(g, masked={"Bing", "Exa"}))
    assert set(two_left.needs["Gathered"]) == {"Brave", "Tavily"}
    with pytest.raises(NoPathError):
        plan_route(g, Weights(g, masked={"Bing", "Exa", "Brave"}))


def test_quorum_met_by_done_branches_waits_for_no_more() -> None:
    g = load_graph(GRAPHS / "research_fanout.yaml")
    plan = plan_route(g, Weights(g), done={"Plan", "Bing", "Brave"})
    assert plan.needs["Gathered"] == ("Bing", "Brave")
    assert plan.ready({"Start", "Plan", "Bing", "Brave"}) == ["Gathered"]


def test_fallback_goal_is_routable_after_demotion() -> None:
    g = load_graph(GRAPHS / "customer_support.yaml")
    plan = plan_route(g, Weights(g), goal="RefundTicketed", done={"CRM"})
    assert plan.steps == ("ManualTicket", "RefundTicketed")
    assert not g.node("RefundTicketed").is_tool


def test_graph_from_skills_takes_their_cost_hints() -> None:
    g = ToolGraph(start="S", goal="G")
    g.add_tool(Skill(name="search", price=0.2, latency_ms=50.0, reliability=0.9))
    g.add_edge("S", "search", 1.0)
    g.add_edge("search", "G", 0.0)
    node = g.node("search")
    assert (node.price, node.latency_ms, node.reliability) == (0.2, 50.0, 0.9)
    assert plan_route(g, Weights(g)).steps == ("search", "G")


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"start": "S", "goal": "G", "edges": [["S", "G", 1]], "colour": 1}, "field colour"),
        ({"start": "S", "goal": "G"}, "field edges"),
        # Without pydantic's union tag ("edges.0.tuple[str, str, float].2").
        (
            {"start": "S", "goal": "G", "edges": [["S", "A", "x"]]},
            "field edges.0.2: Input should be a valid number",
        ),
        ({"start": "S", "goal": "G", "edges": [["S", "A", 1]]}, "not reachable"),
        (
            {
                "start": "S",
                "goal": "G",
                "edges": [["S", "G", 1]],
                "nodes": {"G": {"join": "all", "quorum": 2}},
            },
            "quorum",
        ),
        (
            {
                "start": "S",
                "goal": "G",
                "edges": [["S", "A", 1], ["A", "B", 1], ["B", "A", 1], ["B", "G", 1]],
                "nodes": {"G": {"join": "all"}},
            },
            "acyclic",
        ),
        ({"start": "S", "goal": "G", "edges": [["S", "G", -1]]}, "cost must be a finite"),
        # NaN compared as neither below nor above anything, and its edge won every route.
        ({"start": "S", "goal": "G", "edges": [["S", "G", float("nan")]]}, "finite number"),
        (
            {
                "start": "S",
                "goal": "G",
                "edges": [["S", "A", 1], ["A", "G", 0]],
                "nodes": {"A": {"price": float("inf")}},
            },
            "node A: price must be a finite number",
        ),
        (
            {
                "start": "S",
                "goal": "G",
                "edges": [
                    ["S", "Parse", 1],
                    ["Parse", "Load", 1],
                    ["Audit", "Load", 1],
                    ["Load", "G", 0],
                ],
                "nodes": {"Load": {"join": "all"}},
            },
            "goal 'G' is not reachable from 'S' \\(join 'Load' needs 2 of its inputs, and "
            "'Audit' cannot be reached\\)",
        ),
        # Both loaded: a tool named "", and a demotion goal declared twice.
        (
            {"start": "S", "goal": "G", "edges": [["S", "", 1], ["", "G", 0]]},
            "field edges.0.1: String should have at least 1 character",
        ),
        (
            {
                "start": "S",
                "goal": "G",
                "edges": [["S", "A", 1], ["A", "G", 0], ["A", "F", 1]],
                "fallbacks": [{"goal": "F"}, {"goal": "F"}],
            },
            "field fallbacks.1: goal 'F' is declared twice",
        ),
        # It said "goal 'S' is not reachable from 'S'".
        (
            {"start": "S", "goal": "S", "edges": [["S", "A", 1]]},
            "goal and start are the same node 'S'",
        ),
        # Loaded: a demotion to the goal itself (the handler was never asked, unsaid why) and
        # a tool leading to itself.
        (
            {
                "start": "S",
                "goal": "G",
                "edges": [["S", "A", 1], ["A", "G", 0]],
                "fallbacks": [{"goal": "G"}],
            },
            "field fallbacks.0: goal 'G' is the graph's goal; a fallback is a lesser goal",
        ),
        (
            {"start": "S", "goal": "G", "edges": [["S", "A", 1], ["A", "A", 1], ["A", "G", 0]]},
            "field edges.1: A -> A leads nowhere",
        ),
        # A typo on one side of a declaration: the run used a default tool, ignoring the hints.
        (
            {
                "start": "S",
                "goal": "G",
                "edges": [["S", "Strpie", 1], ["Strpie", "G", 0]],
                "nodes": {"Stripe": {"price": 1.0}},
            },
            "field nodes.Stripe: no edge names this node; did you mean the edges' 'Strpie'",
        ),
        (
            {
                "start": "S",
                "goal": "G",
                "edges": [["S", "A", 1], ["A", "G", 0]],
                "nodes": {"G": {"price": 5.0}},
            },
            "field nodes.G: price only applies to tools, and G is a state",
        ),
        # Results are validated against it: a broken schema failed every good result.
        (
            {
                "start": "S",
                "goal": "G",
                "edges": [["S", "A", 1], ["A", "G", 0]],
                "nodes": {"A": {"outputs": {"type": "objekt"}}},
            },
            "node A: field outputs/type: not a valid JSON Schema",
        ),
    ],
)
def test_bad_definitions_name_the_file_and_field(definition: object, message: str) -> None:
    with pytest.raises(GraphError, match=message) as info:
        graph_from_definition(definition, source="bad.yaml")
    assert str(info.value).startswith("bad.yaml: ")
    assert "bad.yaml: bad.yaml" not in str(info.value)


def test_load_graph_names_the_file_on_bad_yaml(tmp_path: Path) -> None:
    bad = tmp_path / "g.yaml"
    bad.write_text("start: [unclosed\n")
    with pytest.raises(GraphError, match=str(bad)):
        load_graph(bad)


def test_a_graph_file_with_broken_yaml_names_the_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "g.yaml"
    bad.write_text("start: S\ngoal: G\nedges:\n  - [S, G\n")
    with pytest.raises(GraphError) as info:
        load_graph(bad)
    message = str(info.value)
    assert message.startswith(f"{bad}: line 5, column 1: not valid YAML: ")
    assert "while parsing a flow sequence at line 4, column 5" in message
    assert "\n" not in message and "<unicode string>" not in message


def test_a_json_graph_file_with_broken_json_names_the_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "g.json"
    bad.write_text('{\n  "start": "S",\n  "goal": \n}\n')
    with pytest.raises(GraphError) as info:
        load_graph(bad)
    assert str(info.value) == f"{bad}: line 4, column 1: not valid JSON: Expecting value"


@pytest.mark.parametrize("name", ["customer_support", "release_pipeline", "research_fanout"])
def test_shipped_graphs_load_and_plan(name: str) -> None:
    g = load_graph(GRAPHS / f"{name}.yaml")
    assert plan_route(g, Weights(g)).steps[-1] == g.goal
    for fallback in g.fallbacks:
        assert plan_route(g, Weights(g), goal=fallback.goal).steps[-1] == fallback.goal


def test_a_graph_built_in_python_is_checked_as_a_loaded_one() -> None:
    """The loader refused a self-loop and a fallback to the goal itself; validate(), which a
    graph built in Python goes through, had let both by (a reviewer's)."""
    looped = ToolGraph(start="S", goal="G")
    looped.add_tool("A")
    for source, target in (("S", "A"), ("A", "A"), ("A", "G")):
        looped.add_edge(source, target)
    with pytest.raises(GraphError, match="edge A -> A leads nowhere"):
        looped.validate()
    demoted = ToolGraph(start="S", goal="G")
    demoted.add_tool("A")
    demoted.add_edge("S", "A")
    demoted.add_edge("A", "G")
    demoted.add_fallback("G")
    with pytest.raises(GraphError, match="fallback 'G' is the graph's goal"):
        demoted.validate()
