"""The input and output fields of a skill, as the units dependencies are derived between.

An output field of one skill can feed a required input of another; both are read from the JSON
Schemas (top-level properties, and the properties of objects or arrays of objects one level down,
since results are often ``{"orders": [{"id": ...}]}``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from orchestrator.catalog import Skill
from orchestrator.catalog._schema import merge_all_of, resolve_ref
from orchestrator.routing._text import field_tokens, identifier_words

__all__ = [
    "AUTHORED_WORDS",
    "DESTINATION_WORDS",
    "GENERIC_NAMES",
    "ID_WORDS",
    "LOOKUP_KEY_WORDS",
    "FieldRef",
    "input_fields",
    "output_fields",
]

# Names that say nothing about what a value is: "result" of one tool is not the "message" another
# needs. They take part in dependencies only through their descriptions.
GENERIC_NAMES = frozenset(
    field_tokens(
        "result results status success ok error errors message messages data value values "
        "output response content text type info detail details flag"
    )
)

# Words that name the kind of a value, not what it is about: "payment_id" is about a payment.
ID_WORDS = frozenset(field_tokens("id ids identifier code number key"))
# Words of an input by which a thing is looked up other than by its id: ``customer_email``,
# ``user_name``, ``contact_phone``.
LOOKUP_KEY_WORDS = frozenset(field_tokens("email mail name username login handle phone"))
# Words of an input saying where or how a result is written ("output_path", "output_format",
# "destination"): the caller chooses it; no tool's output is meant to fill it.
DESTINATION_WORDS = frozenset(field_tokens("output destination dest"))
# The last words of an input the caller writes (``title``, ``note``, ``subject``, an e-mail's
# ``body``, a ticket's ``description``, a chat ``message``): text to put down, which no tool's
# output is meant to fill, though an incident's record has a title too (and a fetched page a
# body: "send an email saying hello" had planned fetch_url to write the e-mail).
AUTHORED_WORDS = frozenset(
    field_tokens("title note notes subject comment caption headline body description message")
)


@dataclass(frozen=True)
class FieldRef:
    """One field: whose it is, which side, its name (``orders.id`` when nested) and schema bits."""

    skill: str
    side: Literal["input", "output"]
    name: str
    description: str
    type: str | None
    required: bool
    # The values an input allows, when its schema lists them (strings only).
    choices: tuple[str, ...] = ()
    # An output field known only from its record's description ("Offers: hotel_offer_id, ..."):
    # no type, no description of its own.
    listed: bool = False
    # The JSON type of an array's items, when the schema says.
    items: str | None = None

    @property
    def leaf(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def words(self) -> frozenset[str]:
        """Stemmed words of the leaf name, e.g. ``nearestAirport`` -> {"nearest", "airport"}."""
        return self.words_of(self.name)

    @staticmethod
    def words_of(name: str) -> frozenset[str]:
        """Stemmed words of a field name's leaf (``orders.id`` -> {"id"})."""
        return frozenset(field_tokens(identifier_words(name.rsplit(".", 1)[-1])))

    @staticmethod
    def path_words(name: str) -> frozenset[str]:
        """Stemmed words of a whole dotted name (``target.timezone`` -> {"target", "timezone"})."""
        return frozenset(field_tokens(" ".join(identifier_words(p) for p in name.split("."))))

    @cached_property
    def described_words(self) -> frozenset[str]:
        """Stemmed words of the leaf name and of the description: all it says of itself."""
        return self.words | frozenset(field_tokens(self.description))

    @property
    def last_words(self) -> frozenset[str]:
        """The token of the last word of its name (``zone`` of ``time_zone``): what it is."""
        named = identifier_words(self.leaf).lower().split()
        return frozenset(field_tokens(named[-1])) if named else frozenset()

    @property
    def is_callers(self) -> bool:
        """Whether it is an input only the caller can fill: where or how a result is written
        (``output_path``, ``destination``), or text the caller writes (``title``, ``note``)."""
        return bool(self.words & DESTINATION_WORDS or self.last_words & AUTHORED_WORDS)

    @property
    def specific_words(self) -> frozenset[str]:
        return self.words - GENERIC_NAMES

    def text(self) -> str:
        """What is embedded to compare fields by meaning."""
        words = identifier_words(self.leaf)
        return f"{words}: {self.description}" if self.description else words

    def describe(self) -> str:
        return f"{self.skill}.{'outputs' if self.side == 'output' else 'parameters'}.{self.name}"


def _type_of(spec: Mapping[str, Any]) -> str | None:
    """The JSON type of a value, "null" aside: ``["string", "null"]`` and pydantic's
    ``anyOf: [{type: string}, {type: null}]`` for an optional field are both "string"."""
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None:
        options = spec.get("anyOf", spec.get("oneOf"))
        if isinstance(options, list):
            kinds = {_type_of(o) for o in options if isinstance(o, Mapping)} - {None}
            kinds -= {"null"}
            kind = kinds.pop() if len(kinds) == 1 else None
    return kind if isinstance(kind, str) else None


def _resolved(spec: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """``spec`` with its local ``$ref`` followed and its ``allOf`` merged, in ``root``."""
    return merge_all_of(resolve_ref(spec, root), root)


def _properties(
    schema: Any, root: Mapping[str, Any] | None = None
) -> Iterator[tuple[str, Mapping[str, Any], bool]]:
    """Each property of ``schema``: name, spec (local ``$ref`` s in ``root`` followed) and
    whether it is required."""
    if not isinstance(schema, Mapping):
        return
    root = schema if root is None else root
    schema = _resolved(schema, root)
    props = schema.get("properties")
    if not isinstance(props, Mapping):
        return
    required = schema.get("required")
    required_names = set(required) if isinstance(required, list) else set()
    for name, spec in props.items():
        spec = _resolved(spec, root) if isinstance(spec, Mapping) else {}
        yield str(name), spec, name in required_names


def input_fields(skill: Skill) -> list[FieldRef]:
    """The top-level arguments of ``skill`` (only these are bound by name when it is called)."""
    return [
        FieldRef(
            skill.id,
            "input",
            name,
            str(spec.get("description", "")),
            _type_of(spec),
            req,
            _choices(spec),
            items=_items_type(spec, skill.parameters),
        )
        for name, spec, req in _properties(skill.parameters)
    ]


def _items_type(spec: Mapping[str, Any], root: Mapping[str, Any]) -> str | None:
    """The type of an array's items (``observations: [string]``), if the schema says."""
    items = spec.get("items") if _type_of(spec) == "array" else None
    if not isinstance(items, Mapping):
        return None
    return _type_of(_resolved(items, root))


def _choices(spec: Mapping[str, Any]) -> tuple[str, ...]:
    values = spec.get("enum")
    if not isinstance(values, list):
        return ()
    return tuple(v for v in values if isinstance(v, str) and v)


def output_fields(skill: Skill) -> list[FieldRef]:
    """The result fields of ``skill``: top-level properties and one level of nesting."""
    fields = []
    root = skill.outputs or {}
    for name, spec, _ in _properties(skill.outputs):
        description = str(spec.get("description", ""))
        fields.append(
            FieldRef(
                skill.id,
                "output",
                name,
                description,
                _type_of(spec),
                True,
                items=_items_type(spec, root),
            )
        )
        inner = spec.get("items") if _type_of(spec) == "array" else spec
        nested = list(_properties(inner, root))
        for sub, sub_spec, _ in nested:
            fields.append(
                FieldRef(
                    skill.id,
                    "output",
                    f"{name}.{sub}",
                    str(sub_spec.get("description", "")) or description,
                    _type_of(sub_spec),
                    True,
                    items=_items_type(sub_spec, root),
                )
            )
        if not nested and _type_of(spec) in ("array", "object"):
            for sub in _listed_fields(description):
                fields.append(
                    FieldRef(skill.id, "output", f"{name}.{sub}", "", None, True, listed=True)
                )
    return fields


# A field name as descriptions list them: lower-case first, then letters, digits, underscores.
_LISTED_NAME = re.compile(r"[a-z][A-Za-z0-9_]*")
_LIST_EDGES = "{}[]().,:;!?… "


def _listed_fields(description: str) -> tuple[str, ...]:
    """The fields a description lists for records it gives no schema for: "Offers:
    hotel_offer_id, hotel_name, total_price." lists three, "Free slots, each {start_time,
    end_time}." two. A list is two or more names separated by commas alone, the first one
    ending a phrase ("Tickets with ticket_id, subject"); prose ("Thread, oldest first.", "Sorted
    by date, newest first") lists nothing.
    """
    found: list[str] = []
    run: list[str] = []
    for segment in description.split(","):
        words = segment.strip().removeprefix("and ").removeprefix("or ").split()
        name = words[-1].strip(_LIST_EDGES) if words else ""
        is_name = _LISTED_NAME.fullmatch(name) is not None
        ends = segment.rstrip().endswith((".", ";", "}", ")"))  # nothing of this list follows
        if len(words) == 1 and is_name:
            run.append(name)
            if not ends:
                continue
        if len(run) >= 2:
            found.extend(run)
        # A phrase ending in a name may start a list ("Tickets with ticket_id, ...").
        run = [name] if len(words) > 1 and is_name and not ends else []
    if len(run) >= 2:
        found.extend(run)
    return tuple(dict.fromkeys(found))
