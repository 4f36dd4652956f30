"""Python callables and LangChain tools become skills with schemas from their type hints,
descriptions from their docstrings and bodies from their source."""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal, NotRequired, Optional, TypedDict

import pytest
from jsonschema import Draft202012Validator, ValidationError
from langchain_core.tools import BaseTool, StructuredTool, tool
from pydantic import BaseModel, Field

from orchestrator.catalog import (
    Skill,
    callables_by_skill_id,
    load_catalog,
    skills_from_callables,
    skills_from_langchain_tools,
)
from orchestrator.catalog._docstrings import parse_docstring
from orchestrator.catalog._pytypes import schema_for_annotation
from orchestrator.errors import CatalogError
from orchestrator.planning import derive_dependencies


class Cabin(enum.Enum):
    ECONOMY = "economy"
    BUSINESS = "business"


def search_flights(
    origin: str,
    destination: str,
    cabin: Cabin = Cabin.ECONOMY,
    max_stops: int | None = None,
    sort: Literal["price", "duration"] = "price",
    *args: Any,
    **kwargs: Any,
) -> list[dict[str, float]]:
    """Search one-way flights between two airports.

    Results come from the cached fare index, so prices may be a few minutes old.

    Args:
        origin: IATA code of the departure airport,
            e.g. "LHR".
        destination (str): IATA code of the arrival airport.
        cabin: Cabin class.
        max_stops: Most stops allowed; None for any.

    Returns:
        list: One fare per flight.
    """
    return []


async def fetch_page(url: str, timeout: float = 10.0, headers: dict[str, str] | None = None) -> str:
    """Fetch a web page and return its text.

    Parameters
    ----------
    url : str
        Absolute http(s) URL.
    timeout : float
        Seconds before giving up.

    Returns
    -------
    str
        The decoded body.
    """
    return url


def test_callable_name_and_first_docstring_paragraph_describe_the_skill() -> None:
    [skill] = skills_from_callables([search_flights])
    assert skill.id == skill.name == "search_flights"
    assert skill.description == "Search one-way flights between two airports."
    assert skill.source == f"python:{__name__}.search_flights"


def test_callable_signature_and_hints_become_the_parameter_schema() -> None:
    [skill] = skills_from_callables([search_flights])
    props = skill.parameters["properties"]
    assert list(props) == ["origin", "destination", "cabin", "max_stops", "sort"]
    assert skill.parameters["required"] == ["origin", "destination"]
    assert props["origin"] == {
        "type": "string",
        "description": 'IATA code of the departure airport, e.g. "LHR".',
    }
    assert props["destination"]["description"] == "IATA code of the arrival airport."
    assert props["cabin"] == {
        "enum": ["economy", "business"],
        "type": "string",
        "description": "Cabin class.",
        "default": "economy",
    }
    assert props["max_stops"]["type"] == ["integer", "null"]
    assert props["max_stops"]["default"] is None
    assert props["sort"] == {"enum": ["price", "duration"], "type": "string", "default": "price"}


def test_callable_return_annotation_becomes_outputs() -> None:
    [skill] = skills_from_callables([search_flights])
    assert skill.outputs == {
        "type": "array",
        "items": {"type": "object", "additionalProperties": {"type": "number"}},
        "description": "One fare per flight.",
    }


def test_callable_body_is_its_source() -> None:
    [skill] = skills_from_callables([search_flights])
    assert skill.body.startswith("def search_flights(\n")
    assert "return []" in skill.body
    assert skill.metadata == {"python": f"{__name__}.search_flights", "async": False}


def test_async_callable_with_numpy_docstring() -> None:
    [skill] = skills_from_callables([fetch_page])
    assert skill.metadata["async"] is True
    assert skill.description == "Fetch a web page and return its text."
    props = skill.parameters["properties"]
    assert props["url"] == {"type": "string", "description": "Absolute http(s) URL."}
    assert props["timeout"] == {
        "type": "number",
        "description": "Seconds before giving up.",
        "default": 10.0,
    }
    assert props["headers"]["type"] == ["object", "null"]
    assert skill.outputs == {"type": "string", "description": "The decoded body."}
    assert skill.body.startswith("async def fetch_page(")


def test_callable_without_source_uses_its_docstring_as_body() -> None:
    namespace: dict[str, Any] = {}
    exec(  # a function with no source file, as a REPL would make
        'def shout(text: str) -> str:\n    """Upper-case the text.\n\n    Loudly."""\n'
        "    return text.upper()\n",
        namespace,
    )
    [skill] = skills_from_callables([namespace["shout"]])
    assert skill.body == "Upper-case the text.\n\nLoudly."
    assert skill.description == "Upper-case the text."


def test_an_annotation_that_cannot_be_resolved_leaves_the_others_typed() -> None:
    Reason = Literal["duplicate", "other"]  # local: unresolvable under postponed annotations

    def refund(order_id: str, amount_cents: int = 0, reason: Reason = "other") -> None:
        """Refund an order."""

    [skill] = skills_from_callables([refund])
    props = skill.parameters["properties"]
    assert props["order_id"] == {"type": "string"}
    assert props["amount_cents"] == {"type": "integer", "default": 0}
    assert props["reason"] == {"default": "other"}  # any value


def test_callable_returning_none_has_no_outputs() -> None:
    def log(message: str) -> None:
        """Write a line to the audit log."""

    [skill] = skills_from_callables([log])
    assert skill.outputs is None
    assert skill.parameters == {
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
    }


def test_lambda_is_rejected_with_a_reason() -> None:
    with pytest.raises(CatalogError, match="expected a named function"):
        skills_from_callables([lambda x: x])


def test_callables_by_skill_id_returns_the_callables_themselves() -> None:
    assert callables_by_skill_id([search_flights, fetch_page]) == {
        "search_flights": search_flights,
        "fetch_page": fetch_page,
    }


@pytest.mark.parametrize(
    ("annotation", "schema"),
    [
        (bool, {"type": "boolean"}),
        (Optional[str], {"type": ["string", "null"]}),  # noqa: UP045 - the old spelling on purpose
        (Sequence[int], {"type": "array", "items": {"type": "integer"}}),
        (set[str], {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
        (tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
        (
            tuple[int, str],
            {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "string"}],
                "minItems": 2,
                "maxItems": 2,
            },
        ),
        (int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        (Literal[1, "a"], {"enum": [1, "a"]}),
        (Literal["a"] | None, {"enum": ["a", None], "type": ["string", "null"]}),
        (Annotated[int, "How many."], {"type": "integer", "description": "How many."}),
        (Any, {}),
        (object, {}),
    ],
)
def test_type_hints_map_to_json_schema(annotation: Any, schema: dict[str, Any]) -> None:
    assert schema_for_annotation(annotation) == schema


class Coordinates(TypedDict):
    latitude: float
    longitude: float
    label: NotRequired[str]


@dataclasses.dataclass
class Place:
    name: str
    at: Coordinates
    tags: list[str] = dataclasses.field(default_factory=list)
    parent: Place | None = None  # recursive: described once, then as any object


def test_pydantic_field_descriptions_bounds_and_defaults_describe_the_parameters() -> None:
    """Written with ``Field`` (FastMCP's and pydantic-ai's style), they had been lost: only a
    plain string in ``Annotated`` was read."""

    def search_tickets(
        query: Annotated[str, Field(description="Full-text query")],
        limit: Annotated[int, Field(ge=1, le=100, description="Most hits")] = 10,
        status: str = Field(default="open", description="Only tickets in this status"),
        owner: str = Field(description="Whose tickets"),
    ) -> list[str]:
        """Search support tickets."""
        return []

    [skill] = skills_from_callables([search_tickets])
    properties = skill.parameters["properties"]
    assert properties["query"] == {"type": "string", "description": "Full-text query"}
    assert properties["limit"] == {
        "type": "integer",
        "description": "Most hits",
        "minimum": 1,
        "maximum": 100,
        "default": 10,
    }
    assert properties["status"]["default"] == "open"
    assert properties["status"]["description"] == "Only tickets in this status"
    assert skill.parameters["required"] == ["query", "owner"]  # a Field without a default


def test_a_field_default_is_what_a_call_leaving_the_parameter_out_passes() -> None:
    """The function had been called with the ``FieldInfo`` itself in its place."""
    import anyio

    from orchestrator._keyword_tools import KeywordInvoker

    seen: list[Any] = []

    def search_tickets(
        query: str,
        status: str = Field(default="open"),
        tags: list[str] = Field(default_factory=list),  # noqa: B008  (the style under test)
    ) -> str:
        """Search support tickets."""
        seen.append((status, tags))
        return "found"

    invoker = KeywordInvoker({"search_tickets": search_tickets}, {})
    assert anyio.run(invoker.invoke, "search_tickets", {"query": "x"}) == "found"
    assert (
        anyio.run(invoker.invoke, "search_tickets", {"query": "x", "status": "closed"}) == "found"
    )
    assert seen == [("open", []), ("closed", [])]


def test_a_field_without_a_default_is_required_by_a_call_too() -> None:
    """Its signature shows a default (the FieldInfo), so a call without it had been made, with
    the FieldInfo as the value."""
    import anyio

    from orchestrator._keyword_tools import KeywordInvoker
    from orchestrator.errors import ToolArgumentError
    from orchestrator.execution import ArgumentRefusal

    assigned: list[Any] = []

    def assign(ticket_id: str, owner: str = Field(description="Who takes it")) -> str:
        """Assign a ticket to someone."""
        assigned.append(owner)
        return "assigned"

    [skill] = skills_from_callables([assign])
    invoker = KeywordInvoker({"assign": assign}, {"assign": skill})
    assert invoker.refusal("assign", ["ticket_id"]) == ArgumentRefusal(
        "missing a required argument: 'owner'", ("owner",)
    )
    with pytest.raises(ToolArgumentError, match="owner"):
        anyio.run(invoker.invoke, "assign", {"ticket_id": "t-1"})
    assert assigned == []


def test_typed_dicts_and_dataclasses_map_to_object_schemas_with_their_fields() -> None:
    assert schema_for_annotation(Coordinates) == {
        "type": "object",
        "properties": {
            "latitude": {"type": "number"},
            "longitude": {"type": "number"},
            "label": {"type": "string"},
        },
        "required": ["latitude", "longitude"],
    }
    place = schema_for_annotation(Place)
    assert place["required"] == ["name", "at"]  # fields with defaults are optional
    assert place["properties"]["at"] == schema_for_annotation(Coordinates)  # nested, inline
    assert place["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert place["properties"]["parent"] == {"type": ["object", "null"]}


class _Address(BaseModel):
    street: str
    city: str


class _Customer(BaseModel):
    name: str
    address: _Address


class _Folder(BaseModel):
    name: str
    children: list[_Folder] = []


@dataclasses.dataclass
class _Page:
    customers: list[_Customer]


@pytest.mark.parametrize(
    ("annotation", "holding"),
    [
        (list[_Customer], lambda c: [c]),
        (dict[str, _Customer], lambda c: {"c1": c}),
        (_Page, lambda c: {"customers": [c]}),
        (_Customer | None, lambda c: c),
        (_Customer, lambda c: c),
    ],
)
def test_a_pydantic_model_nested_anywhere_is_described_without_dangling_refs(
    annotation: Any, holding: Any
) -> None:
    """Its schema's ``#/$defs/_Address`` pointed at a root without ``$defs`` when the model sat
    in a list, a mapping or a record: every output failed validation (PointerToNowhere)."""
    schema = schema_for_annotation(annotation)
    assert "$ref" not in json.dumps(schema) and "$defs" not in json.dumps(schema)
    validator = Draft202012Validator(schema)
    address = {"street": "Rua A", "city": "Lisbon"}
    validator.validate(holding({"name": "Ana", "address": address}))
    with pytest.raises(ValidationError, match="'city' is a required property"):
        validator.validate(holding({"name": "Ana", "address": {"street": "Rua A"}}))


def test_a_recursive_pydantic_model_is_cut_at_its_second_visit() -> None:
    folder = schema_for_annotation(list[_Folder])["items"]
    assert folder["properties"]["children"]["items"] == {"type": "object"}
    assert "$ref" not in json.dumps(folder)


def test_a_function_returning_a_typed_dict_feeds_the_one_that_takes_its_fields() -> None:
    def geocode(address: str) -> Coordinates:
        """Find the coordinates of an address."""
        return {"latitude": 38.72, "longitude": -9.14}

    def forecast(latitude: float, longitude: float) -> dict[str, Any]:
        """Get the weather forecast at a latitude and longitude."""
        return {}

    edges = derive_dependencies(skills_from_callables([geocode, forecast]), None)
    assert {(e.producer, e.output, e.input) for e in edges.between("geocode", "forecast")} == {
        ("geocode", "latitude", "latitude"),
        ("geocode", "longitude", "longitude"),
    }


def test_the_dicts_a_function_returns_name_its_fields_when_its_annotation_does_not() -> None:
    def find_order(customer_email: str) -> dict[str, Any]:
        """Find a customer's most recent order by their e-mail address."""

        def unrelated() -> dict[str, str]:
            return {"inner": "a nested function's return is not this one's"}

        if not customer_email:
            return dict(error="no e-mail", retry=False)
        return {"order_id": "o-42", "total_cents": 1999, **{"note": "unpacked"}}

    def refund_order(order_id: str):  # type: ignore[no-untyped-def]
        """Refund an order's payment to the customer's card."""
        refund = {"refund_id": "re_1"}
        return refund  # a variable: its keys are not read

    find, refund = skills_from_callables([find_order, refund_order])
    assert list(find.outputs["properties"]) == ["error", "retry", "order_id", "total_cents"]
    assert find.outputs == {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "retry": {"type": "boolean"},
            "order_id": {"type": "string"},
            "total_cents": {"type": "integer"},
        },
    }
    assert refund.outputs is None
    edges = derive_dependencies([find, refund], None)
    assert [(e.output, e.input) for e in edges.between("find_order", "refund_order")] == [
        ("order_id", "order_id")
    ]


def test_a_field_the_returns_write_with_different_types_is_left_untyped() -> None:
    def quote_discount(order_total: float) -> dict[str, Any]:
        """Quote the discount an order total earns."""
        if order_total < 100:
            return {"discount": 0, "note": "none", "code": "-", "tier": None}
        if order_total < 500:
            return {"discount": 15.5, "note": None, "code": order_total, "tier": "silver"}
        return {"discount": 40.0, "note": "max", "code": "GOLD", "tier": "gold"}

    [skill] = skills_from_callables([quote_discount])
    assert skill.outputs["properties"] == {
        "discount": {"type": "number"},  # 0 in one branch, 15.5 in another
        "note": {"type": ["string", "null"]},
        "code": {},  # a value not a constant in one branch
        "tier": {"type": ["string", "null"]},
    }


def test_docstring_without_sections_is_all_summary_and_no_params() -> None:
    doc = parse_docstring(
        "Convert a currency amount\nat today's rate.\n\nUses ECB reference rates."
    )
    assert doc.summary == "Convert a currency amount at today's rate."
    assert doc.params == {}


# --- LangChain --------------------------------------------------------------------------------


@tool
def lookup_order(order_id: str, include_items: bool = False) -> dict[str, Any]:
    """Look up an order by its id.

    Args:
        order_id: The order number printed on the receipt.
        include_items: Whether to list the line items.
    """
    return {"id": order_id}


@tool(parse_docstring=True)
async def cancel_order(order_id: str, reason: str) -> bool:
    """Cancel an order that has not shipped yet.

    Args:
        order_id: The order number.
        reason: Why the customer cancels.
    """
    return True


class RefundTool(BaseTool):
    name: str = "refund_payment"
    description: str = "Refund a captured card payment in full."

    def _run(self, payment_id: str) -> str:
        return f"refunded {payment_id}"


def test_langchain_tool_becomes_a_skill_with_its_argument_schema() -> None:
    [skill] = skills_from_langchain_tools([lookup_order])
    assert skill.id == "lookup_order"
    assert skill.description.startswith("Look up an order by its id.")
    assert skill.parameters["properties"]["include_items"]["type"] == "boolean"
    assert skill.parameters["required"] == ["order_id"]
    assert "title" not in skill.parameters
    assert skill.body.startswith("@tool\ndef lookup_order(")
    # dict[str, Any] names no fields; the dict it returns does.
    assert skill.outputs == {"type": "object", "properties": {"id": {}}}
    assert skill.source == "langchain:lookup_order"


def test_async_langchain_tool_uses_its_coroutine_and_docstring_args() -> None:
    [skill] = skills_from_langchain_tools([cancel_order])
    assert skill.description == "Cancel an order that has not shipped yet."
    assert skill.parameters["properties"]["reason"]["description"] == "Why the customer cancels."
    assert "async def cancel_order(" in skill.body
    assert skill.metadata["async"] is True
    assert skill.outputs == {"type": "boolean"}


def test_langchain_basetool_subclass_body_is_its_class_source() -> None:
    [skill] = skills_from_langchain_tools([RefundTool()])
    assert skill.description == "Refund a captured card payment in full."
    assert skill.body.startswith("class RefundTool(BaseTool):")


def test_langchain_tool_risk_hints_come_from_its_metadata() -> None:
    def charge(amount: float) -> str:
        """Charge the card."""
        return "ok"

    def tool_with(metadata: dict[str, Any] | None) -> Skill:
        made = StructuredTool.from_function(charge, metadata=metadata)
        [skill] = skills_from_langchain_tools([made])
        return skill

    plain = tool_with(None)
    assert (plain.read_only, plain.idempotent, plain.repeatable) == (None, None, True)
    named = tool_with({"idempotent": False})
    assert (named.idempotent, named.read_only, named.repeatable) == (False, None, False)
    # An MCP tool loaded by langchain-mcp-adapters: the annotations model dumped, unset as null.
    mcp = tool_with({"title": None, "readOnlyHint": None, "destructiveHint": None})
    assert (mcp.read_only, mcp.destructive, mcp.idempotent, mcp.repeatable) == (
        False,
        True,  # MCP's default for an unset destructiveHint, not null read as false
        False,
        False,
    )
    reader = tool_with({"readOnlyHint": True, "idempotentHint": None})
    assert reader.read_only is True and reader.destructive is False and reader.repeatable


def test_non_tool_given_as_a_langchain_tool_is_an_error() -> None:
    with pytest.raises(CatalogError, match="expected a langchain_core BaseTool"):
        skills_from_langchain_tools([search_flights])  # type: ignore[list-item]


def test_mixed_sequence_of_callables_tools_and_skills_loads_in_order() -> None:
    skills = load_catalog([search_flights, lookup_order, Skill(name="manual")])
    assert [s.id for s in skills] == ["search_flights", "lookup_order", "manual"]
    assert skills[1].source == "langchain:lookup_order"  # a tool is not read as a plain callable
