"""Planning: from a task to an ordered plan of skills, built from I/O dependencies.

The dependency graph says which skill's output can feed which skill's input; the planner routes
each sub-goal, adds the prerequisites the chosen skills need, and orders the result. The plan
becomes a tool graph the self-healing executor runs.

Names are imported on first use: ``orchestrator.policy`` reads this package's policy section,
and that must not pull in the router's text processing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator._lazy import lazy_attributes
from orchestrator.planning._policy import (
    DecompositionPolicy,
    DependencyPolicy,
    PlanningPolicy,
    UsagePolicy,
)

if TYPE_CHECKING:
    from orchestrator.planning._binding import BindingInvoker
    from orchestrator.planning._decompose import (
        Decomposer,
        LLMDecomposer,
        RuleDecomposer,
        split_subgoals,
    )
    from orchestrator.planning._dependencies import (
        DependencyEdge,
        DependencyGraph,
        cached_dependencies,
        derive_dependencies,
    )
    from orchestrator.planning._fields import FieldRef, input_fields, output_fields
    from orchestrator.planning._plan import Binding, PlanStep, TaskPlan, given_input
    from orchestrator.planning._planner import Planner
    from orchestrator.planning._usage import USAGE_FORMAT, PastRun, Precedent, UsageModel

_LAZY = {
    "Binding": "_plan",
    "BindingInvoker": "_binding",
    "Decomposer": "_decompose",
    "DependencyEdge": "_dependencies",
    "DependencyGraph": "_dependencies",
    "FieldRef": "_fields",
    "LLMDecomposer": "_decompose",
    "PlanStep": "_plan",
    "Planner": "_planner",
    "RuleDecomposer": "_decompose",
    "TaskPlan": "_plan",
    "USAGE_FORMAT": "_usage",
    "PastRun": "_usage",
    "Precedent": "_usage",
    "UsageModel": "_usage",
    "cached_dependencies": "_dependencies",
    "derive_dependencies": "_dependencies",
    "given_input": "_plan",
    "input_fields": "_fields",
    "output_fields": "_fields",
    "split_subgoals": "_decompose",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "USAGE_FORMAT",
    "Binding",
    "BindingInvoker",
    "Decomposer",
    "DecompositionPolicy",
    "DependencyEdge",
    "DependencyGraph",
    "DependencyPolicy",
    "FieldRef",
    "LLMDecomposer",
    "PastRun",
    "PlanStep",
    "Planner",
    "PlanningPolicy",
    "Precedent",
    "RuleDecomposer",
    "TaskPlan",
    "UsageModel",
    "UsagePolicy",
    "cached_dependencies",
    "derive_dependencies",
    "given_input",
    "input_fields",
    "output_fields",
    "split_subgoals",
]
