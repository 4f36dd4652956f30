"""Every exception orchestrator raises, under one base class.

Messages name the file, the field (line number or JSON pointer) and what was expected, so a user
can fix their input without reading our source.

    OrchestratorError
    ├── CatalogError            a catalog file or object is malformed
    │   └── DuplicateSkillError two skills share an id and deduplication was not asked for
    ├── IndexFormatError        an on-disk index is missing, corrupt or from another version
    ├── PolicyError             a policy file is malformed
    ├── ModelLoadError          an embedding or reranking model cannot be loaded offline
    ├── GraphError              a tool-graph definition is malformed
    ├── NoPathError             no healthy path from the current state to the goal
    ├── ScenarioError           a scenario file is malformed
    └── EscalationError         the escalation handler failed or answered nonsense
"""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "DuplicateSkillError",
    "EscalationError",
    "GraphError",
    "IndexFormatError",
    "ModelLoadError",
    "NoPathError",
    "OrchestratorError",
    "PolicyError",
    "ScenarioError",
]


class OrchestratorError(Exception):
    """Base class of every error orchestrator raises on purpose."""


def _located(source: str | None, where: str | None, message: str) -> str:
    parts = [p for p in (source, where) if p]
    return f"{': '.join(parts)}: {message}" if parts else message


class CatalogError(OrchestratorError):
    """A catalog file or object is malformed.

    ``source`` is the file (or a description of the object), ``where`` a line number ("line 12")
    or a JSON pointer ("/paths/~1pets/get/operationId").
    """

    def __init__(self, message: str, *, source: str | None = None, where: str | None = None):
        self.source = source
        self.where = where
        self.reason = message
        super().__init__(_located(source, where, message))


class DuplicateSkillError(CatalogError):
    """Two skills share an id and deduplication was not asked for."""


class IndexFormatError(OrchestratorError):
    """An on-disk index is missing, corrupt or was written by an incompatible version."""


class PolicyError(OrchestratorError):
    """A policy file is malformed."""


class ModelLoadError(OrchestratorError):
    """An embedding or reranking model cannot be loaded from local files."""


class GraphError(OrchestratorError):
    """A tool-graph definition is malformed."""


class NoPathError(OrchestratorError):
    """No healthy path leads from the current state to the goal."""


class ScenarioError(OrchestratorError):
    """A scenario file is malformed."""


class EscalationError(OrchestratorError):
    """The escalation handler failed or returned an answer that cannot be applied."""
