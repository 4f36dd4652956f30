"""Policies: the declarative knobs (weights, thresholds, tiers) the control plane reads.

The embedded default lives in ``policies/default.yaml``; a user policy file is merged over it
section by section, so a file that sets only ``routing.no_fit.threshold`` keeps every other default.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    def _levels_reach_every_model(self) -> Policy:
        """Every effort level has a knob in every provider's ``llm.*`` mapping. Which provider
        a policy drives is not known here: user code hands the ``llm`` section to a client and
        the ``effort`` section to the router, and any adapter may run with it. A level one
        provider lacks (``minimal`` only under ``llm.openai`` with an ``AnthropicClient``) had
        loaded, since some other provider mapped it, and failed every call at that effort."""
        llm = self.llm
        anthropic = (
            ("anthropic.effort", llm.anthropic.effort)
            if llm.anthropic.mode == "adaptive"
            else ("anthropic.budget_tokens", llm.anthropic.budget_tokens)
        )
        mappings: dict[str, Mapping[str, object]] = {
            "openai.reasoning_effort": llm.openai.reasoning_effort,
            anthropic[0]: anthropic[1],
            "gpt_oss.reasoning": llm.gpt_oss.reasoning,
            "qwen.enable_thinking": llm.qwen.enable_thinking,
        }
        gaps = [
            f"llm.{field} lacks {missing}"
            for field, mapping in mappings.items()
            if (missing := [level for level in self.effort.levels if level not in mapping])
        ]
        if gaps:
            raise ValueError(
                f"effort.levels {list(self.effort.levels)}: {'; '.join(gaps)}; expected every "
                "level in every provider's mapping, since a client of any provider may run with "
                "this policy"
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
