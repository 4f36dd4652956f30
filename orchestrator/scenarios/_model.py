"""Scenario files: a graph, faults to inject into its simulated tools, and what should happen.

The format is a contract other tools read, so unknown keys and fault kinds are errors that name
the file and the field.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orchestrator._files import field_path, read_document
from orchestrator._resources import data_path
from orchestrator.errors import GraphError, ScenarioError
from orchestrator.graph import ToolGraph, graph_from_definition, load_graph
from orchestrator.policy import Policy, _deep_merge

__all__ = [
    "SIMULATED_OUTPUTS",
    "Expectation",
    "Fault",
    "InjectedFault",
    "Scenario",
    "ScenarioSpec",
    "load_scenario",
]

# Simulated tools answer {"ok": true, ...}; tools that declare no outputs get this schema so that
# a malformed answer is detectable.
SIMULATED_OUTPUTS: dict[str, Any] = {
    "type": "object",
    "required": ["ok"],
    "properties": {"ok": {"const": True}},
}

Outcome = Literal["completed", "demoted", "escalated", "failed"]


class _Fault(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str = Field(min_length=1)
    after: int = Field(
        default=0, ge=0, description="Successful calls of the tool before it starts."
    )


class DownFault(_Fault):
    kind: Literal["down"]


class ErrorFault(_Fault):
    kind: Literal["error"]
    times: int | None = Field(default=None, ge=1, description="Failing calls, then it recovers.")


class TimeoutFault(_Fault):
    kind: Literal["timeout"]
    times: int | None = Field(default=None, ge=1)


class LatencyFault(_Fault):
    kind: Literal["latency"]
    ms: float = Field(gt=0)
    times: int | None = Field(default=None, ge=1)


class MalformedFault(_Fault):
    kind: Literal["malformed"]
    times: int | None = Field(default=None, ge=1)


class FlakyFault(_Fault):
    kind: Literal["flaky"]
    p: float = Field(ge=0.0, le=1.0)


class RateLimitedFault(_Fault):
    kind: Literal["rate_limited"]
    times: int | None = Field(default=None, ge=1)
    retry_after_ms: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class MissingInputFault(_Fault):
    """The tool requires run inputs nobody gave: calls without all of ``inputs`` fail as
    ``bad_arguments`` naming the absent ones, until an escalation reply provides them."""

    kind: Literal["missing_input"]
    inputs: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)


InjectedFault = (
    DownFault
    | ErrorFault
    | TimeoutFault
    | LatencyFault
    | MalformedFault
    | FlakyFault
    | RateLimitedFault
    | MissingInputFault
)
Fault = Annotated[InjectedFault, Field(discriminator="kind")]


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: list[Outcome] = Field(min_length=1, description="Any of these outcomes passes.")
    path: list[str] | None = None
    llm_calls: int | None = Field(default=None, ge=0, description="Maximum control-plane calls.")

    @field_validator("outcome", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class _Reply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    demote: str | None = None
    give_up: str | None = None
    provide: dict[str, Any] | None = None


class ScenarioSpec(BaseModel):
    """The file as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    name: str = ""
    description: str = ""
    topology: Literal["linear", "dag", "fanout"] | None = None
    seed: int = 0
    runs: int = Field(default=1, ge=1, le=100, description="Repeat the task on the same executor.")
    graph: str | dict[str, Any]
    faults: list[Fault] = Field(default_factory=list)
    escalation: list[_Reply] | None = Field(
        default=None, description="Scripted escalation answers; default: first untried fallback."
    )
    policy: dict[str, Any] = Field(default_factory=dict, description="Merged over the default.")
    inputs: dict[str, Any] = Field(default_factory=dict)
    expect: Expectation


class Scenario:
    """A loaded scenario: the validated spec, its graph with simulated outputs, and its policy."""

    def __init__(self, spec: ScenarioSpec, graph: ToolGraph, policy: Policy, source: str) -> None:
        self.spec = spec
        self.graph = graph
        self.policy = policy
        self.source = source

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def topology(self) -> str:
        return self.spec.topology or "unspecified"


# The fault kinds, read off the fault classes: pydantic names a failed union member by its tag.
_KINDS = {get_args(f.model_fields["kind"].annotation)[0] for f in get_args(InjectedFault)}


def _resolve_graph(reference: str, scenario_file: Path) -> Path:
    """A graph file named by a scenario: absolute, or beside the scenario, in the working
    folder, or shipped with the package (``graphs/...``); a miss names every place looked."""
    candidate = Path(reference)
    if candidate.is_absolute():
        return candidate
    places = [
        scenario_file.resolve().parent / candidate,
        Path.cwd() / candidate,
        data_path(*candidate.parts),
    ]
    found = next((place for place in places if place.exists()), None)
    if found is None:
        looked = ", ".join(dict.fromkeys(str(place) for place in places))
        raise GraphError(f"graph file {reference!r} not found (looked at {looked})")
    return found


def _with_simulated_outputs(graph: ToolGraph) -> ToolGraph:
    for name in graph.tools():
        node = graph.node(name)
        if node.outputs is None:
            attrs = {k: v for k, v in asdict(node).items() if k not in ("name", "kind")}
            graph.add_tool(name, **{**attrs, "outputs": SIMULATED_OUTPUTS})
    return graph


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file.

    Raises
    ------
    ScenarioError
        The message names the file and the field: unknown keys, unknown fault kinds, faults on
        tools the graph lacks, expected paths through unknown nodes, a bad graph or policy.
    """
    file = Path(path)
    raw = read_document(file, ScenarioError, "scenario")
    if not isinstance(raw, dict):
        raise ScenarioError(f"{file}: expected a mapping with id, graph, faults and expect")
    try:
        spec = ScenarioSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ScenarioError(
            f"{file}: field {field_path(first['loc'], _KINDS)}: {first['msg']}"
        ) from exc
    try:
        if isinstance(spec.graph, str):
            graph = load_graph(_resolve_graph(spec.graph, file))
        else:
            graph = graph_from_definition(spec.graph, source=f"{file}: graph")
    except GraphError as exc:
        prefix = f"{file}: field graph: " if isinstance(spec.graph, str) else ""
        raise ScenarioError(f"{prefix}{exc}") from exc
    tools = set(graph.tools())
    for i, fault in enumerate(spec.faults):
        if fault.tool not in tools:
            raise ScenarioError(
                f"{file}: field faults.{i}.tool: {fault.tool!r} is not a tool of the graph"
            )
    for i, node in enumerate(spec.expect.path or []):
        if node not in graph.digraph:
            raise ScenarioError(f"{file}: field expect.path.{i}: {node!r} is not in the graph")
    fallbacks = {f.goal for f in graph.fallbacks}
    for i, reply in enumerate(spec.escalation or []):
        given = [v for v in (reply.demote, reply.give_up, reply.provide) if v is not None]
        if len(given) != 1:
            raise ScenarioError(
                f"{file}: field escalation.{i}: give exactly one of demote, give_up, provide"
            )
        if reply.demote is not None and reply.demote not in fallbacks:
            raise ScenarioError(
                f"{file}: field escalation.{i}.demote: {reply.demote!r} is not a fallback goal"
            )
    try:
        # Built-in defaults, not the site policy file: a scenario's expectations stay pinned.
        policy = Policy.model_validate(_deep_merge(Policy().model_dump(), spec.policy))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ScenarioError(
            f"{file}: field policy.{field_path(first['loc'])}: {first['msg']}"
        ) from exc
    return Scenario(spec, _with_simulated_outputs(graph), policy, str(file))
