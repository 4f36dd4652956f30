"""Policies: the declarative knobs (weights, thresholds, tiers) the control plane reads.

The embedded default lives in ``policies/default.yaml``; a user policy file is merged over it
section by section, so a file that sets only ``routing.no_fit.threshold`` keeps every other default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from orchestrator._files import field_path, read_document
from orchestrator._resources import data_path
from orchestrator.effort._policy import EffortPolicy
from orchestrator.errors import PolicyError
from orchestrator.execution._policy import ExecutionPolicy
from orchestrator.graph._policy import GraphPolicy
from orchestrator.integrations.mcp._policy import McpPolicy
from orchestrator.llm._policy import LLMPolicy
from orchestrator.planning._policy import PlanningPolicy
from orchestrator.routing._policy import RoutingPolicy

__all__ = ["Policy", "load_policy", "read_policy_overlay"]


class Policy(BaseModel):
    """All policy sections. Unknown sections are an error, so a typo is not silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    routing: RoutingPolicy = RoutingPolicy()
    graph: GraphPolicy = GraphPolicy()
    execution: ExecutionPolicy = ExecutionPolicy()
    planning: PlanningPolicy = PlanningPolicy()
    mcp: McpPolicy = McpPolicy()
    effort: EffortPolicy = EffortPolicy()
    llm: LLMPolicy = LLMPolicy()

    @model_validator(mode="after")
    def _levels_reach_a_model(self) -> Policy:
        """Every effort level has a knob in some ``llm.*`` mapping: a level none maps failed
        only at call time, and in a run that failure was retried at the next level up."""
        llm = self.llm
        mapped = (
            set(llm.openai.reasoning_effort)
            | set(llm.anthropic.effort if llm.anthropic.mode == "adaptive" else {})
            | set(llm.anthropic.budget_tokens if llm.anthropic.mode == "budget" else {})
            | set(llm.gpt_oss.reasoning)
            | set(llm.qwen.enable_thinking)
        )
        unmapped = [level for level in self.effort.levels if level not in mapped]
        if unmapped:
            raise ValueError(
                f"effort.levels {unmapped}: no llm.* mapping sends them to a model; add them to "
                "the provider's mapping (llm.openai.reasoning_effort, llm.anthropic.effort, ...)"
            )
        return self


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    raw = read_document(path, PolicyError, "policy file")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PolicyError(
            f"{path}: expected a mapping of policy sections, got {type(raw).__name__}"
        )
    return raw


def _relative_to(source: Path, data: dict[str, Any]) -> dict[str, Any]:
    """A model path in a policy file is read relative to that file, as a reader expects, not to
    wherever the command happens to run."""
    routing = data.get("routing")
    index = routing.get("index") if isinstance(routing, dict) else None
    if isinstance(index, dict):
        model = index.get("embedder")
        if isinstance(model, str) and model and not Path(model).expanduser().is_absolute():
            index["embedder"] = str((source.parent / model).absolute())
    return data


def read_policy_overlay(path: str | Path) -> dict[str, Any]:
    """The mapping a policy file merges over the default, with its model paths made absolute
    (so it can be written elsewhere and still point at the same model)."""
    source = Path(path)
    return _relative_to(source, _read_yaml(source))


def load_policy(path: str | Path | None = None) -> Policy:
    """Load the embedded default policy, with the file at ``path`` (if any) merged over it."""
    default_file = data_path("policies", "default.yaml")
    data = _read_yaml(default_file)
    source = default_file
    if path is not None:
        source = Path(path)
        data = _deep_merge(data, _relative_to(source, _read_yaml(source)))
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = field_path(first["loc"])
        # A check across sections (loc empty) names its fields itself, without pydantic's prefix.
        said = str(first["msg"]).removeprefix("Value error, ")
        raise PolicyError(
            f"{source}: field {where}: {said}" if where else f"{source}: {said}"
        ) from exc
