"""Policies: the declarative knobs (weights, thresholds, tiers) the control plane reads.

The embedded default lives in ``policies/default.yaml``; a user policy file is merged over it
section by section, so a file that sets only ``routing.no_fit.threshold`` keeps every other default.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from orchestrator._files import field_path, read_document
from orchestrator._resources import data_path
from orchestrator.catalog._origin import describe_value
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
    problems = _not_numbers(data, Policy, ())
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems += [_problem(error) for error in exc.errors()]
    else:
        if not problems:
            return policy
    # Every problem at once (up to a few): a file with four had been mended one run at a time.
    shown = "; ".join(problems[:_SHOWN_PROBLEMS])
    more = len(problems) - _SHOWN_PROBLEMS
    raise PolicyError(f"{source}: {shown}" + (f" (and {more} more)" if more > 0 else ""))


_SHOWN_PROBLEMS = 5


def _problem(error: Any) -> str:
    """One validation error as ``field PATH: what is wrong``, with the nearest known name for a
    key the policy does not have (``step_timout_s``: did you mean ``step_timeout_s``?)."""
    loc = tuple(error["loc"])
    where = field_path(loc)
    # A check across sections (loc empty) names its fields itself, without pydantic's prefix.
    said = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        known = _model_at(loc[:-1])
        names = list(known.model_fields) if known is not None else []
        close = difflib.get_close_matches(str(loc[-1]), names, n=1)
        said = f"unknown field{f'; did you mean {close[0]!r}?' if close else ''}"
    return f"field {where}: {said}" if where else said


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The policy section at ``loc``, through lists of sections (``mcp.deny.0``); None where
    the path leaves them, so no name is suggested from another section."""
    model: type[BaseModel] = Policy
    for part in loc:
        if isinstance(part, int):
            continue  # an item of a list of sections: the section is the list's
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        inner = [field.annotation, *typing.get_args(field.annotation)]
        found = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if found is None:
            return None
        model = found
    return model


def _not_numbers(data: Any, model: type[BaseModel], loc: tuple[str, ...]) -> list[str]:
    """Numbers written as text or booleans: pydantic reads "3" as 3 and true as 1.0, and a
    policy with ``step_timeout_s: true`` had run with a one-second timeout."""
    if not isinstance(data, Mapping):
        return []
    problems = []
    for key, value in data.items():
        field = model.model_fields.get(str(key))
        if field is None:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            problems += _not_numbers(value, annotation, (*loc, str(key)))
        elif _is_number(annotation) and isinstance(value, bool | str):
            problems.append(
                f"field {field_path((*loc, str(key)))}: expected a number, got "
                f"{describe_value(value)}"
            )
    return problems


def _is_number(annotation: Any) -> bool:
    """Whether a field holds a number (``int``, ``float``, or either or None)."""
    kinds = set(typing.get_args(annotation)) - {type(None)} or {annotation}
    return bool(kinds) and kinds <= {int, float}
