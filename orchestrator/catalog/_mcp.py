"""MCP ``tools/list`` results as skills.

Takes the parsed JSON result (or the SDK's pydantic result, dumped by alias), so the MCP
integration can turn a live server into a catalog source with one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from orchestrator.catalog._origin import Loaded, Origin
from orchestrator.catalog._skill import Skill

__all__ = [
    "is_mcp_tool",
    "mcp_tool_skill",
    "mcp_tools_skills",
    "risk_hints",
    "skills_from_mcp_tools",
]

# MCP spells these in camelCase on the wire; a plain ``model_dump()`` of SDK types gives snake_case.
_INPUT_KEYS = ("inputSchema", "input_schema")
_OUTPUT_KEYS = ("outputSchema", "output_schema")
_HANDLED = frozenset({"name", "title", "description", *_INPUT_KEYS, *_OUTPUT_KEYS})


# MCP annotation -> Skill risk field. MCP's own defaults apply when a hint is absent (read-only
# false, destructive true, idempotent false, open-world true), since the spec defines them so.
_HINTS = {
    "readOnlyHint": ("read_only", False),
    "destructiveHint": ("destructive", True),
    "idempotentHint": ("idempotent", False),
    "openWorldHint": ("open_world", True),
}
HINT_KEYS = tuple(_HINTS)
RISK_FIELDS = tuple(field for field, _ in _HINTS.values())


def risk_hints(annotations: Mapping[str, Any] | None, origin: Origin) -> dict[str, bool]:
    """The Skill risk fields of an MCP tool's ``annotations`` (camelCase, as on the wire), found
    at ``origin``.

    A hint given as null is absent: a ``model_dump()`` of the SDK's annotations (as
    langchain-mcp-adapters copies them into a tool's metadata) writes every unset one so. Any
    other value that is not a boolean is an error: ``"false"`` is truthy, and reading it so
    would mark a destructive tool read-only.
    """
    given = annotations or {}
    for key in _HINTS:
        value = given.get(key)
        if value is not None and not isinstance(value, bool):
            raise origin.at(key).mismatch("a boolean (or null for not given)", value)
    hints = {
        field: default if given.get(key) is None else given[key]
        for key, (field, default) in _HINTS.items()
    }
    if hints["read_only"]:
        # The spec: destructive and idempotent are meaningful only when not read-only.
        hints["destructive"] = False
    return hints


def is_mcp_tool(record: Any) -> bool:
    """Whether ``record`` looks like one MCP tool rather than a function-calling record."""
    return isinstance(record, Mapping) and any(key in record for key in _INPUT_KEYS)


def mcp_tool_skill(record: Any, origin: Origin) -> Loaded:
    """One MCP tool object as a skill; ``annotations`` and other extras go to ``metadata``."""
    obj = origin.mapping(record)
    name = origin.string(obj, "name")
    title = origin.string(obj, "title", required=False)
    description = origin.string(obj, "description", required=False) or ""
    input_key = next((k for k in _INPUT_KEYS if k in obj), None)
    if input_key is None:
        raise origin.error("missing required field 'inputSchema'")
    parameters = origin.at(input_key).mapping(obj[input_key])
    output_key = next((k for k in _OUTPUT_KEYS if k in obj), "outputSchema")
    outputs = obj.get(output_key)
    if outputs is not None:
        outputs = dict(origin.at(output_key).mapping(outputs))
    annotations = obj.get("annotations")
    if annotations is not None:
        annotations = origin.at("annotations").mapping(annotations)
    metadata = {k: v for k, v in obj.items() if k not in _HANDLED and v is not None}
    if not title and annotations is not None:
        # The 2025-03-26 spec's only title, kept in annotations; later ones add a top-level one.
        title = origin.at("annotations").string(annotations, "title", required=False)
    if title:
        metadata["title"] = title
        # The title is often the only human wording of what the tool does, so routing should see it.
        if title.lower() not in description.lower():
            description = f"{title}\n\n{description}" if description else title
    fields = {
        "name": name,
        "description": description,
        "parameters": dict(parameters),
        "outputs": outputs,
        "metadata": metadata,
        "source": origin.location,
        **risk_hints(annotations, origin.at("annotations")),
    }
    keys = {"parameters": input_key, "outputs": output_key}
    return Loaded(origin.skill(fields, keys), origin)


def mcp_tools_skills(result: Any, origin: Origin) -> list[Loaded]:
    """Skills from a ``tools/list`` result, a JSON-RPC response carrying one, or a list of tools."""
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(result, Mapping) and "error" in result and "result" not in result:
        # A saved response to a failed call: say so, not that it lacks "tools".
        error = result["error"]
        said = error.get("message") if isinstance(error, Mapping) else error
        raise origin.at("error").error(
            f"a JSON-RPC error response, not a tools/list result: {said!r}"
        )
    if isinstance(result, Mapping) and "result" in result and "tools" not in result:
        origin = origin.at("result")
        result = origin.mapping(result["result"])
    if isinstance(result, Mapping):
        if "tools" not in result:
            raise origin.error("missing required field 'tools'")
        origin = origin.at("tools")
        result = result["tools"]
    if not isinstance(result, Sequence) or isinstance(result, str):
        raise origin.mismatch("an array of tools", result)
    return [mcp_tool_skill(tool, origin.at(i)) for i, tool in enumerate(result)]


def skills_from_mcp_tools(result: Any, *, source: str = "<mcp>") -> list[Skill]:
    """Skills from an MCP ``tools/list`` result (parsed JSON or the SDK's pydantic model)."""
    return [loaded.skill for loaded in mcp_tools_skills(result, Origin(source))]
