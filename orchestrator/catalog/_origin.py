"""Where a piece of catalog input came from, and errors that say so.

Every loader threads an ``Origin`` (file, line, JSON pointer) through its walk, so a malformed
value is reported as "tools.jsonl: line 3: expected a string at /function/name, got null" rather
than as a raw pydantic or KeyError traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from pydantic import ValidationError

from orchestrator._json_schema import JSON_TYPES, schema_problem
from orchestrator.catalog._skill import Skill
from orchestrator.errors import CatalogError

__all__ = ["Loaded", "Origin", "describe_value", "json_pointer"]


def json_pointer(*parts: str | int) -> str:
    """RFC 6901 pointer of ``parts``: ``json_pointer("paths", "/pets")`` is ``/paths/~1pets``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def describe_value(value: Any) -> str:
    """A short rendering of what was found instead, for "expected X, got Y" messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return f"a value of type {type(value).__name__}"


@dataclass(frozen=True)
class Origin:
    """A position in catalog input: the source name, an optional line, a JSON pointer below it.

    JSONL records carry a line and a pointer inside that line's object; whole JSON/YAML documents
    carry only a pointer, since the parsed document no longer knows its lines.
    """

    source: str
    line: int | None = None
    pointer: str = ""

    def at(self, *parts: str | int) -> Origin:
        """The origin of a value below this one."""
        return Origin(self.source, self.line, self.pointer + json_pointer(*parts))

    @property
    def location(self) -> str:
        """This origin as one string, used as ``Skill.source`` and in duplicate reports."""
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}#{self.pointer}" if self.pointer else where

    def error(self, message: str) -> CatalogError:
        """A ``CatalogError`` here; the pointer moves into the message when a line is known."""
        if self.line is not None:
            if self.pointer:
                message = _insert_pointer(message, self.pointer)
            return CatalogError(message, source=self.source, where=f"line {self.line}")
        return CatalogError(message, source=self.source, where=self.pointer or None)

    def mismatch(self, expected: str, got: Any) -> CatalogError:
        """The standard "expected X, got Y" error."""
        return self.error(f"expected {expected}, got {describe_value(got)}")

    def mapping(self, value: Any, what: str = "an object") -> Mapping[str, Any]:
        """``value`` as a mapping, or an error saying one was expected here."""
        if not isinstance(value, Mapping):
            raise self.mismatch(what, value)
        return value

    def string(self, obj: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
        """``obj[key]`` as a string; missing is an error only when ``required``, and so is
        null (how SDKs serialise a field left unset: the MCP SDK's ``"title": null``)."""
        if obj.get(key) is None and not required:
            return None
        if key not in obj:
            raise self.error(f"missing required field {key!r}")
        value = obj[key]
        if not isinstance(value, str):
            raise self.at(key).mismatch("a string", value)
        return value

    def skill(
        self,
        fields: Mapping[str, Any],
        keys: Mapping[str, str] | None = None,
        *,
        outputs_at: Origin | None = None,
        placed: Mapping[str, Origin] | None = None,
    ) -> Skill:
        """Validate ``fields`` as a Skill, reporting pydantic errors at their place in the input.

        ``keys`` maps a Skill field to the input key it came from (MCP's ``inputSchema`` becomes
        ``parameters``), so the pointer names what the user wrote. ``placed`` maps a field read
        from another object than this one (OpenAI's fields beside ``function``) to that object.
        A broken ``outputs`` schema is refused here too (see :meth:`json_schema`), at
        ``outputs_at`` when the outputs were read from elsewhere (an OpenAPI response's schema).
        """
        keys = keys or {}
        placed = placed or {}
        try:
            skill = Skill.model_validate(dict(fields))
        except ValidationError as exc:
            loc = exc.errors()[0]["loc"]
            raise placed.get(str(loc[0]) if loc else "", self)._translate(exc, keys) from exc
        if skill.outputs is not None:
            at = outputs_at or placed.get("outputs", self).at(keys.get("outputs", "outputs"))
            at.json_schema(skill.outputs)
        return skill

    def json_schema(self, schema: Mapping[str, Any]) -> None:
        """Refuse ``schema``, found here, when it is no JSON Schema.

        Meant for outputs: a run validates every result against them, so a broken one failed
        the run later, naming a graph node instead of this file. Arguments are not refused: a
        call's values are checked only against the argument schemas that are valid.
        """
        problem = schema_problem(schema)
        if problem is None:
            return
        where = self.at(*problem.path)
        if problem.path[-1:] == ("type",) and isinstance(problem.value, str):
            raise where.mismatch(f"a JSON Schema type ({', '.join(JSON_TYPES)})", problem.value)
        raise where.error(f"not a valid JSON Schema: {problem.message}")

    def _translate(self, exc: ValidationError, keys: Mapping[str, str]) -> CatalogError:
        first = exc.errors()[0]
        loc = [
            keys.get(str(part), str(part)) if i == 0 else part
            for i, part in enumerate(first["loc"])
        ]
        kind, ctx = first["type"], first.get("ctx", {})
        more = exc.error_count() - 1
        suffix = f" (and {more} more problem{'s' * (more > 1)})" if more else ""
        if kind == "missing":
            return self.at(*loc[:-1]).error(f"missing required field {loc[-1]!r}{suffix}")
        if kind == "extra_forbidden":
            return self.at(*loc).error(f"unknown field {loc[-1]!r}{suffix}")
        expected = _EXPECTED.get(kind)
        if expected is None and kind in _BOUNDS:
            bound = next(iter(ctx.values()))
            expected = f"a number {_BOUNDS[kind]} {bound}"
        if expected is None:
            # A validator's own words, without pydantic's "Value error, " before them.
            msg = str(ctx["error"]) if kind == "value_error" and "error" in ctx else first["msg"]
            return self.at(*loc).error(f"{msg[:1].lower()}{msg[1:]}{suffix}")
        return self.at(*loc).error(
            f"expected {expected}, got {describe_value(first['input'])}{suffix}"
        )


_EXPECTED = {
    "string_type": "a string",
    "string_too_short": "a non-empty string",
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "an integer",
    "bool_type": "a boolean",
    "dict_type": "an object",
    "list_type": "an array",
    "tuple_type": "an array",
}
_BOUNDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


def _insert_pointer(message: str, pointer: str) -> str:
    # "expected a string, got null" reads best as "expected a string at /name, got null".
    head, sep, tail = message.partition(", got ")
    return f"{head} at {pointer}{sep}{tail}" if sep else f"{message} (at {pointer})"


class Loaded(NamedTuple):
    """A skill and the place it was read from; the place names both sides of a duplicate id."""

    skill: Skill
    origin: Origin
