"""Property test: a simulated tool's output satisfies the outputs schema it was sampled from,
for random schemas with nesting, unions, references, bounds and closed objects."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from orchestrator.scenarios import sample_output

NAMES = st.sampled_from(["id", "name", "items", "total", "next", "status", "at"])


@st.composite
def bounded_numbers(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["integer", "number"]))
    schema: dict[str, Any] = {"type": kind}
    low = draw(st.none() | st.integers(-50, 50))
    span = draw(st.integers(2, 40))
    if low is not None:
        schema[draw(st.sampled_from(["minimum", "exclusiveMinimum"]))] = low
    if draw(st.booleans()):
        high = (low if low is not None else draw(st.integers(-50, 50))) + span
        schema[draw(st.sampled_from(["maximum", "exclusiveMaximum"]))] = high
    return schema


@st.composite
def strings(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    shortest = draw(st.integers(0, 30))
    if draw(st.booleans()):
        schema["minLength"] = shortest
    if draw(st.booleans()):
        schema["maxLength"] = shortest + draw(st.integers(0, 5))
    return schema


LEAVES = st.one_of(
    bounded_numbers(),
    strings(),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.builds(lambda v: {"enum": v}, st.lists(st.integers() | st.text(max_size=3), min_size=1)),
    st.builds(lambda v: {"const": v}, st.integers() | st.text(max_size=5)),
    st.just({"$ref": "#/$defs/Money"}),
)


def _extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    objects = st.builds(
        lambda props, required, closed: {
            "type": "object",
            "properties": props,
            "required": [n for n in props if n in required],
            **({"additionalProperties": False} if closed else {}),
        },
        st.dictionaries(NAMES, children, max_size=4),
        st.sets(NAMES),
        st.booleans(),
    )
    arrays = st.builds(
        lambda items, least: {"type": "array", "items": items, "minItems": least},
        children,
        st.integers(0, 3),
    )
    # anyOf only: a oneOf whose options overlap has no valid instance at all.
    unions = st.builds(
        lambda options: {"anyOf": options}, st.lists(children, min_size=1, max_size=3)
    )
    nullable = st.builds(
        lambda leaf: {**leaf, "type": ["null", leaf["type"]]}, bounded_numbers() | strings()
    )
    return objects | arrays | unions | nullable


SCHEMAS = st.recursive(LEAVES, _extend, max_leaves=12)
MONEY = {
    "type": "object",
    "properties": {"amount": {"type": "number", "minimum": 0}, "currency": {"enum": ["EUR"]}},
    "required": ["amount", "currency"],
}


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(NAMES, SCHEMAS, min_size=1, max_size=5), st.sets(NAMES), st.booleans())
def test_a_simulated_output_satisfies_the_schema_it_was_sampled_from(
    properties: dict[str, dict[str, Any]], required: set[str], closed: bool
) -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": sorted(required & set(properties)),
        "$defs": {"Money": MONEY},
    }
    if closed:
        schema["additionalProperties"] = False
    output = sample_output("tool", schema)
    assert list(Draft202012Validator(schema).iter_errors(output)) == [], output
