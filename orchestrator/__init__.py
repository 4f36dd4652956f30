"""orchestrator: the control plane of an LLM agent.

It decides which tool or skill to use (routing), in what order (planning and the tool graph) and
how hard to think (effort), and keeps working when tools fail (self-healing execution).
"""

from orchestrator.catalog import Skill
from orchestrator.errors import (
    CatalogError,
    DuplicateSkillError,
    EscalationError,
    GraphError,
    IndexFormatError,
    ModelLoadError,
    NoPathError,
    OrchestratorError,
    PolicyError,
    ScenarioError,
)
from orchestrator.policy import Policy, load_policy

__all__ = [
    "CatalogError",
    "DuplicateSkillError",
    "EscalationError",
    "GraphError",
    "IndexFormatError",
    "ModelLoadError",
    "NoPathError",
    "OrchestratorError",
    "Policy",
    "PolicyError",
    "ScenarioError",
    "Skill",
    "load_policy",
]
