"""The ``mcp`` section of a policy: call and startup timeouts, restart backoff, deny rules,
replicas.

The default allows every tool; a deny rule matches tools by qualified-name pattern, server pattern
or annotation, and a denied tool is neither offered by ``search_tools`` nor run by ``call_tool``.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from orchestrator.catalog import Skill

__all__ = ["DenyRule", "McpPolicy", "RestartPolicy"]

Annotation = Literal["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"]
_HINT_FIELD = {
    "readOnlyHint": "read_only",
    "destructiveHint": "destructive",
    "idempotentHint": "idempotent",
    "openWorldHint": "open_world",
}


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DenyRule(_Section):
    """Deny the tools matching every condition given: ``tool`` (a glob over the qualified name,
    ``server/tool``), ``server`` (a glob over the server name) and ``annotation`` (a hint whose
    value, MCP defaults applied, equals ``value``)."""

    tool: str | None = None
    server: str | None = None
    annotation: Annotation | None = None
    value: bool = True
    reason: str = ""

    @model_validator(mode="after")
    def _has_condition(self) -> DenyRule:
        if self.tool is None and self.server is None and self.annotation is None:
            raise ValueError("a deny rule needs at least one of tool, server, annotation")
        return self

    def matches(self, skill: Skill) -> bool:
        server = str(skill.metadata.get("server", ""))
        if self.tool is not None and not fnmatchcase(skill.id, self.tool):
            return False
        if self.server is not None and not fnmatchcase(server, self.server):
            return False
        if self.annotation is not None:
            hint = getattr(skill, _HINT_FIELD[self.annotation])
            if hint is None or hint != self.value:
                return False
        return True

    def describe(self) -> str:
        parts = [
            f"{k}={v}" for k, v in (("tool", self.tool), ("server", self.server)) if v is not None
        ]
        if self.annotation is not None:
            parts.append(f"{self.annotation}={str(self.value).lower()}")
        text = "deny " + ", ".join(parts)
        return f"{text} ({self.reason})" if self.reason else text


class RestartPolicy(_Section):
    """Restarts of a crashed server: its circuit stays open for a backoff that doubles per failed
    restart, from ``initial_s`` up to ``max_s``."""

    initial_s: float = Field(default=1.0, gt=0.0)
    max_s: float = Field(default=60.0, gt=0.0)


class McpPolicy(_Section):
    call_timeout_s: float = Field(
        default=30.0,
        gt=0.0,
        description="Per tools/call attempt (a call_tool may retry and reroute to replicas).",
    )
    startup_timeout_s: float = Field(
        default=30.0, gt=0.0, description="Start, initialize and list tools."
    )
    max_description_chars: int = Field(
        default=2000,
        gt=0,
        description="A search_tools result's description is cut to this many characters: the "
        "client's model reads every result (a server's 400,000-character one went through).",
    )
    restart: RestartPolicy = RestartPolicy()
    deny: tuple[DenyRule, ...] = ()
    replicas: tuple[tuple[str, ...], ...] = Field(
        default=(),
        description="Groups of servers that serve the same data: a tool failing on one may be "
        "answered by the same tool on another. Servers started the same way are replicas anyway.",
    )

    def denied_by(self, skill: Skill) -> DenyRule | None:
        """The first rule denying ``skill``, or None when it is allowed."""
        return next((rule for rule in self.deny if rule.matches(skill)), None)
