"""Local ``$ref`` resolution for OpenAPI documents, with cycle guards and pointed errors.

Skills must be self-contained (routing and execution never see the document again), so schema
references are inlined; a recursive schema is cut at its second visit instead of looping forever,
and a schema that would grow past ``MAX_INLINED_NODES`` is cut at the references beyond it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from orchestrator.catalog._origin import Origin, json_pointer

__all__ = ["RefResolver"]

# How many schema objects one inlined schema may hold. References shared without a cycle are
# copied at every use, so the copies multiply with the depth of the sharing: Stripe's
# ``GET /v1/account`` grew past gigabytes. Beyond it, a reference is cut to its name, type and
# description: routing and planning read a schema's top levels, and a cut part is checked
# only as its type (far fewer objects than a cut would save are in any operation people call).
MAX_INLINED_NODES = 1_000


class RefResolver:
    """Resolves ``#/...`` references inside one OpenAPI document."""

    def __init__(self, document: Mapping[str, Any], origin: Origin) -> None:
        self._document = document
        self._root = origin

    def lookup(self, ref: Any, origin: Origin) -> tuple[Any, Origin]:
        """The value ``ref`` points at, and its origin; ``origin`` is where the ``$ref`` is."""
        if not isinstance(ref, str):
            raise origin.mismatch("a string", ref)
        if not ref.startswith("#"):
            raise origin.error(f"only local $refs ('#/...') are supported, got {ref!r}")
        parts = [p.replace("~1", "/").replace("~0", "~") for p in unquote(ref[1:]).split("/")[1:]]
        node: Any = self._document
        for depth, part in enumerate(parts):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                missing = json_pointer(*parts[: depth + 1])
                raise origin.error(f"$ref {ref!r} does not resolve: nothing at {missing}")
        return node, self._root.at(*parts)

    def follow(self, value: Any, origin: Origin) -> tuple[Mapping[str, Any], Origin]:
        """``value`` with any chain of top-level ``$ref``s followed, as a mapping."""
        seen: list[str] = []
        while isinstance(value, Mapping) and "$ref" in value:
            ref = value["$ref"]
            if ref in seen:
                raise origin.at("$ref").error(f"circular $ref chain: {' -> '.join([*seen, ref])}")
            seen.append(ref)
            value, origin = self.lookup(ref, origin.at("$ref"))
        return origin.mapping(value), origin

    def inline(self, schema: Any, origin: Origin) -> Any:
        """``schema`` with every ``$ref`` replaced by its target, recursively, until it holds
        ``MAX_INLINED_NODES`` schema objects; references met after that are cut."""
        return _Inlining(self, MAX_INLINED_NODES).inline(schema, origin, ())


class _Inlining:
    """One schema's inlining, counting the objects it has made."""

    def __init__(self, refs: RefResolver, max_nodes: int) -> None:
        self.refs = refs
        self.left = max_nodes

    def inline(self, value: Any, origin: Origin, stack: tuple[str, ...]) -> Any:
        if isinstance(value, list):
            return [self.inline(v, origin.at(i), stack) for i, v in enumerate(value)]
        if not isinstance(value, Mapping):
            return value
        self.left -= 1
        ref = value.get("$ref")
        if isinstance(ref, str):
            target, target_origin = self.refs.lookup(ref, origin.at("$ref"))
            name = ref.rsplit("/", 1)[-1]
            if ref in stack:
                # A recursive schema: describe the cut rather than expand forever.
                return _cut(name, target, f"recursive reference to {name} ({ref})")
            if self.left <= 0:
                return _cut(name, target, f"{name} ({ref}), not expanded: the schema is too large")
            resolved = self.inline(target, target_origin, (*stack, ref))
            siblings = {k: v for k, v in value.items() if k != "$ref"}
            if isinstance(resolved, Mapping):
                # Keep the component name: "Pet" tells a reader more than an anonymous object.
                return {"title": name, **resolved, **self.inline(siblings, origin, stack)}
            return resolved
        return {k: self.inline(v, origin.at(k), stack) for k, v in value.items()}


def _cut(name: str, target: Any, why: str) -> dict[str, Any]:
    """What stands for a reference not expanded: its name, its type, and why; its own
    description first, when it has one."""
    cut: dict[str, Any] = {"title": name}
    if isinstance(target, Mapping):
        # Its type, and whether it may be null (3.0's nullable, 3.1's type list): a real null
        # checked against a cut "object" had failed the call as malformed.
        cut.update({k: target[k] for k in ("type", "nullable") if k in target})
        if isinstance(target.get("description"), str) and target["description"].strip():
            why = f"{target['description'].strip()} ({why})"
    return {**cut, "description": why}
