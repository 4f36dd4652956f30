"""The Skill model: one tool or skill an agent may use, whatever format it came from.

Every loader turns its source format into these, and every later stage (routing, planning,
execution) reads only these fields.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Skill", "repeatable"]


def repeatable(*, read_only: bool | None, idempotent: bool | None) -> bool:
    """Safe to call again after an ambiguous failure (a timeout, a connection lost mid-call):
    read-only or idempotent; not when declared not idempotent; otherwise yes, since a tool that
    says nothing either way keeps the executor's old behaviour (retried like any other)."""
    if read_only or idempotent:
        return True
    return idempotent is not False


# A description that opens by saying the tool is deprecated: "DEPRECATED: ...", "[Deprecated]",
# "(deprecated)", "Deprecated - use x"; not "Deprecated API finder: ...".
_DEPRECATED = re.compile(r"\s*(?:\[deprecated\]|\(deprecated\)|deprecated\s*[:.!\-–—])", re.I)


class Skill(BaseModel):
    """A tool or skill: what it is called, what it does, what it takes and gives, what it costs.

    ``body`` carries the full implementation or instruction text. It is often the longest and most
    informative field, so routing indexes and reranks over it rather than over the description
    alone.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default="", description="Unique id in the catalog; defaults to the name.")
    name: str = Field(min_length=1)
    description: str = ""
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON Schema of the arguments.",
    )
    body: str = ""
    outputs: dict[str, Any] | None = Field(default=None, description="JSON Schema of the result.")
    tags: tuple[str, ...] = ()
    price: float = Field(default=0.0, ge=0.0, description="Cost per call, in any consistent unit.")
    latency_ms: float = Field(default=100.0, ge=0.0)
    reliability: float = Field(default=0.99, gt=0.0, le=1.0)
    source: str | None = Field(default=None, description="Where the skill was loaded from.")
    metadata: dict[str, Any] = Field(default_factory=dict)
    # Risk hints (MCP tool annotations); None when the source does not say.
    read_only: bool | None = Field(default=None, description="Does not modify its environment.")
    destructive: bool | None = Field(default=None, description="May destroy or overwrite data.")
    idempotent: bool | None = Field(
        default=None, description="Calling again with the same arguments has no further effect."
    )
    open_world: bool | None = Field(default=None, description="Reaches outside a closed domain.")

    @field_validator("parameters")
    @classmethod
    def _arguments_are_named(cls, schema: dict[str, Any]) -> dict[str, Any]:
        """The top of an arguments schema names the arguments: ``properties`` an object of
        schemas by name, ``required`` a list of those names. A list or a string there loaded
        without a word, and every skill then read as taking no arguments."""
        props = schema.get("properties")
        if props is not None and not isinstance(props, dict):
            raise ValueError(
                "properties must be an object of argument schemas by name, not a "
                f"{type(props).__name__}"
            )
        required = schema.get("required")
        if required is not None and not (
            isinstance(required, list) and all(isinstance(r, str) for r in required)
        ):
            raise ValueError(f"required must be a list of argument names, not {required!r}")
        return schema

    @model_validator(mode="before")
    @classmethod
    def _default_id_to_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("id") and data.get("name"):
            data = {**data, "id": data["name"]}
        return data

    @property
    def deprecated(self) -> bool:
        """Marked as deprecated: by its source (OpenAPI's ``deprecated: true``) or its
        description ("DEPRECATED: use read_text_file instead")."""
        return self.metadata.get("deprecated") is True or bool(_DEPRECATED.match(self.description))

    @property
    def repeatable(self) -> bool:
        """Safe to call again after an ambiguous failure. See ``repeatable``."""
        return repeatable(read_only=self.read_only, idempotent=self.idempotent)

    def parameter_names(self) -> list[str]:
        """Top-level argument names, in schema order."""
        props = self.parameters.get("properties")
        return list(props) if isinstance(props, dict) else []

    def required_parameters(self) -> list[str]:
        """The arguments the schema requires, in its order."""
        required = self.parameters.get("required")
        return [n for n in required if isinstance(n, str)] if isinstance(required, list) else []

    def fingerprint(self) -> str:
        """A stable hash of everything routing reads; equal fingerprints need no re-embedding."""
        payload = json.dumps(
            {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
                "body": self.body,
                "outputs": self.outputs,
                "tags": list(self.tags),
            },
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
