"""Each catalog format, read from real-shaped fixture files, becomes the skills it describes."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.catalog import (
    Skill,
    load_agent_skill,
    load_agent_skills,
    load_catalog,
    skills_from_functions,
    skills_from_mcp_tools,
    skills_from_openapi,
)
from orchestrator.errors import CatalogError, DuplicateSkillError

CATALOGS = Path(__file__).parent / "fixtures" / "catalogs"
GOOD = CATALOGS / "good"


def by_id(skills: list[Skill]) -> dict[str, Skill]:
    return {s.id: s for s in skills}


# --- function lists: BFCL, OpenAI, native ---------------------------------------------------


def test_bfcl_dict_type_is_read_as_object() -> None:
    skills = by_id(load_catalog(GOOD / "bfcl_functions.json"))
    assert skills["calculate_triangle_area"].parameters["type"] == "object"
    passenger = skills["flight.book"].parameters["properties"]["passengers"]["items"]
    assert passenger["type"] == "object"
    assert passenger["properties"]["age"] == {"type": "integer", "description": "Age in years."}


def test_bfcl_float_tuple_and_any_types_are_normalised() -> None:
    skills = by_id(load_catalog(GOOD / "bfcl_functions.json"))
    assert skills["math.hypot"].parameters["properties"]["x"]["type"] == "number"
    props = skills["flight.book"].parameters["properties"]
    assert props["dates"]["type"] == "array"
    assert "type" not in props["preferences"]
    assert props["preferences"]["description"] == "Free-form seat and meal preferences."


def test_bfcl_normalisation_leaves_enum_values_alone() -> None:
    cabin = by_id(load_catalog(GOOD / "bfcl_functions.json"))["flight.book"].parameters[
        "properties"
    ]["cabin"]
    assert cabin["enum"] == ["economy", "business", "dict"]


def test_bfcl_type_lists_are_normalised_too() -> None:
    [skill] = skills_from_functions(
        [
            {
                "name": "f",
                "parameters": {"type": "dict", "properties": {"x": {"type": ["float", "null"]}}},
            }
        ]
    )
    assert skill.parameters["properties"]["x"]["type"] == ["number", "null"]


def test_bfcl_response_schema_becomes_outputs() -> None:
    [skill] = skills_from_functions(
        [{"name": "get_stock_price", "response": {"type": "dict", "properties": {}}}]
    )
    assert skill.outputs == {"type": "object", "properties": {}}


def test_functions_without_body_keep_body_empty() -> None:
    skills = load_catalog(GOOD / "bfcl_functions.json")
    assert skills and all(s.body == "" for s in skills)
    assert all(s.outputs is None for s in skills)


def test_openai_jsonl_reads_wrapped_bare_flat_and_native_records() -> None:
    skills = by_id(load_catalog(GOOD / "openai_tools.jsonl"))
    assert list(skills) == [
        "get_current_weather",
        "send_email",
        "convert_currency",
        "geo.reverse",
        "search_docs",
    ]
    weather = skills["get_current_weather"]
    assert weather.description == "Get the current weather in a given location."
    assert weather.parameters["required"] == ["location"]
    assert skills["search_docs"].parameter_names() == ["query"]


def test_jsonl_skill_source_names_file_and_line() -> None:
    skills = by_id(load_catalog(GOOD / "openai_tools.jsonl"))
    # Line 3 is blank, so the bare function is on line 4.
    assert skills["convert_currency"].source == f"{GOOD / 'openai_tools.jsonl'}:4"


def test_native_skill_records_keep_every_field() -> None:
    skill = by_id(load_catalog(GOOD / "openai_tools.jsonl"))["geo.reverse"]
    assert skill.name == "reverse_geocode"
    assert skill.body.startswith("def reverse_geocode(lat, lon):")
    assert skill.outputs == {"type": "object", "properties": {"address": {"type": "string"}}}
    assert skill.tags == ("geo", "maps")
    assert (skill.price, skill.latency_ms, skill.reliability) == (0.002, 350, 0.97)
    assert skill.metadata == {"provider": "nominatim"}


def test_openai_strict_flag_is_kept_as_metadata() -> None:
    skill = by_id(load_catalog(GOOD / "openai_tools.jsonl"))["send_email"]
    assert skill.metadata == {"strict": True}
    assert skill.parameters["additionalProperties"] is False


def test_single_function_object_in_a_json_file_is_one_skill(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"name": "ping", "description": "Check the host is up."}))
    [skill] = load_catalog(path)
    assert (skill.id, skill.description) == ("ping", "Check the host is up.")
    assert skill.parameters == {"type": "object", "properties": {}}


def test_openai_request_body_tools_are_read_as_functions(tmp_path: Path) -> None:
    """{"tools": [{"type": "function", "function": {...}}]} was read as an MCP tools/list
    result, and failed with "missing required field 'name'" though a name is there."""
    path = tmp_path / "request.json"
    tool = {"type": "function", "function": {"name": "get_weather", "description": "Weather."}}
    body = {
        "model": "gpt-4.1",
        "messages": [],
        "tools": [tool, {**tool, "function": {"name": "b"}}],
    }
    path.write_text(json.dumps(body))
    skills = load_catalog(path)
    assert [s.id for s in skills] == ["get_weather", "b"]
    assert skills[0].source == f"{path}#/tools/0/function"


# --- MCP ------------------------------------------------------------------------------------


def test_mcp_tools_list_maps_input_and_output_schemas() -> None:
    skills = by_id(load_catalog(GOOD / "mcp_tools_list.json"))
    forecast = skills["get_forecast"]
    assert forecast.parameters["required"] == ["latitude", "longitude"]
    assert forecast.outputs is not None
    assert forecast.outputs["required"] == ["temperature", "conditions"]
    assert skills["read_file"].outputs is None


def test_mcp_annotations_and_title_are_kept() -> None:
    skills = by_id(load_catalog(GOOD / "mcp_tools_list.json"))
    read_file = skills["read_file"]
    assert read_file.metadata["annotations"] == {"readOnlyHint": True, "openWorldHint": False}
    assert read_file.metadata["title"] == "Read File"
    assert "Read File" in read_file.description
    assert "complete contents of a file" in read_file.description
    assert skills["get_forecast"].metadata["_meta"] == {"vendor": "example"}


def test_mcp_title_already_in_description_is_not_repeated() -> None:
    forecast = by_id(load_catalog(GOOD / "mcp_tools_list.json"))["get_forecast"]
    assert forecast.description == "Get the weather forecast for a location."
    assert forecast.metadata["title"] == "Weather Forecast"


def test_mcp_jsonrpc_response_and_snake_case_dump_are_accepted() -> None:
    response = {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {"tools": [{"name": "echo", "input_schema": {"type": "object"}}]},
    }
    [skill] = skills_from_mcp_tools(response, source="server:echo")
    assert skill.parameters == {"type": "object"}
    assert skill.source == "server:echo#/result/tools/0"


def test_an_mcp_sdk_dump_with_unset_fields_as_null_loads(tmp_path: Path) -> None:
    """The official SDK writes every unset field as null ("title": null): the loader refused
    the file at /tools/0/title, expecting a string."""
    import mcp.types

    tools = [mcp.types.Tool(name="echo", inputSchema={"type": "object"})]
    dump = tmp_path / "tools.json"
    dump.write_text(mcp.types.ListToolsResult(tools=tools).model_dump_json(by_alias=True))
    assert json.loads(dump.read_text())["tools"][0]["title"] is None
    [skill] = load_catalog(dump)
    assert skill.id == "echo" and skill.description == "" and "title" not in skill.metadata


def test_a_function_record_with_null_optional_fields_reads_them_as_not_given() -> None:
    [skill] = skills_from_functions(
        [{"name": "ping", "description": None, "tags": None, "price": None}]
    )
    assert (skill.description, skill.tags, skill.price) == ("", (), Skill(name="x").price)


# --- OpenAPI --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def petstore() -> dict[str, Skill]:
    return by_id(load_catalog(GOOD / "petstore.yaml"))


def test_openapi_yields_one_skill_per_operation(petstore: dict[str, Skill]) -> None:
    assert sorted(petstore) == ["createPet", "delete_pets_petid", "listPets", "showPetById"]


def test_openapi_operation_without_operation_id_gets_a_slugged_method_and_path(
    petstore: dict[str, Skill],
) -> None:
    delete = petstore["delete_pets_petid"]
    assert delete.metadata["openapi"]["method"] == "DELETE"
    assert (
        delete.description == "Delete a pet\n\nRemoves the pet for good; adoption records are kept."
    )


def test_openapi_operations_without_ids_on_non_ascii_paths_get_distinct_readable_ids() -> None:
    """Only [a-z0-9] was kept: GET /宠物 and GET /订单 were both "get", a duplicate id."""
    ok = {"200": {"description": "OK."}}
    doc = {
        "openapi": "3.0.3",
        "paths": {
            "/宠物": {"get": {"responses": ok}},
            "/订单": {"get": {"responses": ok}},
            "/café/{été}": {"get": {"responses": ok}},
            "/cafe\u0301s": {"get": {"responses": ok}},  # "é" as e and a combining accent
        },
    }
    assert [s.id for s in skills_from_openapi(doc)] == [
        "get_宠物",
        "get_订单",
        "get_café_été",
        "get_cafés",
    ]


def test_openapi_query_and_header_parameters_become_arguments(petstore: dict[str, Skill]) -> None:
    params = petstore["listPets"].parameters
    assert params["properties"]["limit"] == {
        "type": "integer",
        "format": "int32",
        "maximum": 100,
        "description": "How many items to return at one time (max 100)",
    }
    # Accept is set by the transport and cookies are not arguments.
    assert petstore["listPets"].parameter_names() == ["limit", "X-Request-Id"]
    assert "required" not in params
    places = petstore["listPets"].metadata["openapi"]["arguments"]
    assert places["X-Request-Id"] == {"in": "header", "name": "X-Request-Id"}


def test_openapi_path_level_parameter_ref_is_resolved_and_required(
    petstore: dict[str, Skill],
) -> None:
    show = petstore["showPetById"]
    assert show.parameters["properties"]["petId"] == {
        "type": "string",
        "description": "The id of the pet to retrieve",
    }
    assert show.parameters["required"] == ["petId"]


def test_openapi_request_body_ref_is_flattened_into_arguments(petstore: dict[str, Skill]) -> None:
    create = petstore["createPet"]
    assert create.parameter_names() == ["name", "tag", "born"]
    assert create.parameters["required"] == ["name"]
    assert create.metadata["openapi"]["arguments"]["name"] == {"in": "body", "name": "name"}
    assert create.metadata["openapi"]["body_media_type"] == "application/json"


def test_openapi_read_only_fields_are_not_arguments_and_write_only_fields_not_outputs() -> None:
    """One Pet schema serves both ways: the server makes id and createdAt (readOnly), and a
    password goes in but never comes back (writeOnly); required applies to each direction."""
    stamp = {"type": "string", "readOnly": True}
    pet = {
        "type": "object",
        "required": ["id", "name", "createdAt", "password"],
        "properties": {
            "id": {"type": "integer", "readOnly": True},
            "name": {"type": "string"},
            "createdAt": {"$ref": "#/components/schemas/Stamp"},
            "password": {"type": "string", "writeOnly": True},
            "owner": {"type": "object", "required": ["ownerId"],
                      "properties": {"ownerId": {"type": "string", "readOnly": True}}},
        },
    }  # fmt: skip
    json_pet = {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}
    doc = {
        "openapi": "3.0.3",
        "paths": {"/pets": {"post": {
            "operationId": "createPet",
            "requestBody": {"required": True, "content": json_pet},
            "responses": {"201": {"description": "Created.", "content": json_pet}},
        }}},
        "components": {"schemas": {"Pet": pet, "Stamp": stamp}},
    }  # fmt: skip
    [skill] = skills_from_openapi(doc)
    assert skill.parameter_names() == ["name", "password", "owner"]
    assert skill.required_parameters() == ["name", "password"]
    assert skill.parameters["properties"]["owner"] == {"type": "object", "properties": {}}
    assert "- id (" not in skill.body.split("Responses:")[0]
    assert skill.outputs is not None
    assert list(skill.outputs["properties"]) == ["id", "name", "createdAt", "owner"]
    assert skill.outputs["required"] == ["id", "name", "createdAt"]


def test_openapi_extension_keys_are_skipped_not_read_as_paths_or_responses() -> None:
    """The spec allows x- keys beside paths, in path items and operations, and beside
    responses; they were reported as paths and statuses that are not objects."""
    doc = {
        "openapi": "3.0.3",
        "paths": {
            "x-internal": True,
            "/pets": {
                "x-owner": "pets-team",
                "get": {
                    "operationId": "listPets",
                    "x-codegen-name": "list",
                    "responses": {"x-codegen": "skip", "200": {"description": "The pets."}},
                },
            },
        },
    }
    [skill] = skills_from_openapi(doc)
    assert skill.id == "listPets"
    assert "x-codegen" not in skill.body


def test_openapi_non_object_body_is_one_body_argument() -> None:
    doc = {
        "openapi": "3.1.0",
        "paths": {
            "/tags": {
                "put": {
                    "operationId": "replaceTags",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"type": "array"}}},
                    },
                }
            }
        },
    }
    [skill] = skills_from_openapi(doc)
    assert skill.parameters == {
        "type": "object",
        "properties": {"body": {"type": "array"}},
        "required": ["body"],
    }


def test_openapi_nullable_becomes_a_null_type(petstore: dict[str, Skill]) -> None:
    tag = petstore["createPet"].parameters["properties"]["tag"]
    assert tag["type"] == ["string", "null"]
    assert "nullable" not in tag


def test_yaml_dates_stay_strings_so_skills_stay_serialisable(petstore: dict[str, Skill]) -> None:
    born = petstore["createPet"].parameters["properties"]["born"]
    assert born["example"] == "2024-01-01"
    assert len(petstore["createPet"].fingerprint()) == 32


def test_openapi_outputs_come_from_the_success_json_response(petstore: dict[str, Skill]) -> None:
    outputs = petstore["listPets"].outputs
    assert outputs is not None
    assert outputs["type"] == "array"
    pet = outputs["items"]
    assert pet["title"] == "Pet"
    # Its allOf (NewPet and its own fields) is one object, so its fields read as outputs.
    assert pet["type"] == "object" and "allOf" not in pet
    assert list(pet["properties"]) == ["name", "tag", "born", "id", "parent"]
    assert pet["required"] == ["name", "id"]
    assert petstore["createPet"].outputs is not None  # from the 201 response
    assert petstore["delete_pets_petid"].outputs is None  # 204 has no content


def test_openapi_all_of_bodies_and_responses_read_as_one_object() -> None:
    incident = {
        "allOf": [
            {"$ref": "#/components/schemas/NewIncident"},
            {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
        ]
    }
    new = {
        "type": "object",
        "required": ["title", "severity"],
        "properties": {
            "title": {"type": "string"},
            "severity": {"allOf": [{"$ref": "#/components/schemas/Severity"}],
                         "description": "How bad."},
        },
    }  # fmt: skip
    doc = {
        "openapi": "3.0.3",
        "paths": {
            "/incidents": {
                "post": {
                    "operationId": "createIncident",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"allOf": [
                            {"$ref": "#/components/schemas/NewIncident"},
                            {"properties": {"service_id": {"type": "string"}}},
                        ]}}},
                    },
                    "responses": {"202": {"description": "Accepted.", "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Incident"}}
                    }}},
                }
            }
        },
        "components": {"schemas": {
            "NewIncident": new,
            "Incident": incident,
            "Severity": {"type": "string", "enum": ["SEV1", "SEV2"]},
        }},
    }  # fmt: skip
    [skill] = skills_from_openapi(doc)
    assert skill.parameter_names() == ["title", "severity", "service_id"]
    assert skill.required_parameters() == ["title", "severity"]
    # A reference beside a description is the referenced schema, described.
    severity = skill.parameters["properties"]["severity"]
    assert severity == {"type": "string", "enum": ["SEV1", "SEV2"], "description": "How bad.",
                        "title": "Severity"}  # fmt: skip
    # An asynchronous API's 202 is its success response.
    assert skill.outputs is not None and list(skill.outputs["properties"]) == [
        "title",
        "severity",
        "id",
    ]
    assert "- id (string, required)" in skill.body


def test_openapi_3_0_boolean_exclusive_bounds_are_read_as_the_bounds_of_later_drafts() -> None:
    """Draft 4's "minimum: 0, exclusiveMinimum: true" is no valid 2020-12 schema, so such an
    outputs schema would be refused at load (results are validated against it)."""
    price = {"type": "number", "minimum": 0, "exclusiveMinimum": True,
             "maximum": 100, "exclusiveMaximum": False}  # fmt: skip
    quote = {"type": "object", "properties": {"price": price}}
    doc = {
        "openapi": "3.0.3",
        "paths": {"/quote": {"get": {"operationId": "quote", "responses": {"200": {
            "description": "A quote.", "content": {"application/json": {"schema": quote}},
        }}}}},
    }  # fmt: skip
    [skill] = skills_from_openapi(doc)
    assert skill.outputs is not None
    assert skill.outputs["properties"]["price"] == {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 100,
    }


def test_a_nullable_reference_accepts_null_and_a_self_composed_schema_ends() -> None:
    from jsonschema import Draft202012Validator

    from orchestrator.catalog._schema import merge_all_of, normalise_openapi_schema

    user = {"type": "object", "properties": {"id": {"type": "string"}}}
    # OpenAPI 3.0's way to make a $ref nullable, with the reference already inlined.
    manager = normalise_openapi_schema({"nullable": True, "allOf": [user]})
    assert manager["type"] == ["object", "null"]
    assert Draft202012Validator(manager).is_valid(None)
    composed = normalise_openapi_schema({"nullable": True, "allOf": [user, {"type": "string"}]})
    assert Draft202012Validator(composed).is_valid(None)  # not merged, still nullable
    node = {"$defs": {"Node": {"allOf": [{"$ref": "#/$defs/Node"}]}}}
    assert merge_all_of({"$ref": "#/$defs/Node"} | node["$defs"]["Node"], node) is not None


def test_an_openapi_operation_marked_deprecated_is_a_deprecated_skill() -> None:
    doc = {
        "openapi": "3.1.0",
        "paths": {
            "/a": {"get": {"operationId": "old", "deprecated": True}},
            "/b": {"get": {"operationId": "new"}},
        },
    }
    assert {s.id: s.deprecated for s in skills_from_openapi(doc)} == {"old": True, "new": False}


def test_openapi_risk_hints_come_from_the_http_method(petstore: dict[str, Skill]) -> None:
    hints = {
        op: (s.read_only, s.destructive, s.idempotent, s.repeatable) for op, s in petstore.items()
    }
    assert hints == {
        "listPets": (True, False, True, True),
        "showPetById": (True, False, True, True),
        "createPet": (False, None, False, False),  # a POST is not repeated after a timeout
        "delete_pets_petid": (False, True, True, True),
    }


def test_openapi_recursive_schema_is_cut_not_expanded_forever(petstore: dict[str, Skill]) -> None:
    outputs = petstore["showPetById"].outputs
    assert outputs is not None
    parent = outputs["properties"]["parent"]
    assert "$ref" not in json.dumps(outputs)
    assert parent["description"] == "recursive reference to Pet (#/components/schemas/Pet)"


def test_openapi_references_shared_without_a_cycle_stop_growing_past_the_size_limit() -> None:
    """Each shared reference was copied at every use: a 6 KB document of 30 schemas, each
    pointing twice at the next, never finished loading (Stripe's real one neither)."""
    schemas: dict[str, Any] = {}
    for i in range(30):
        below = {"$ref": f"#/components/schemas/S{i + 1}"} if i < 29 else {"type": "string"}
        schemas[f"S{i}"] = {"type": "object", "properties": {"left": below, "right": below}}
    ok = {
        "description": "ok",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/S0"}}},
    }
    doc = {
        "openapi": "3.0.3",
        "paths": {"/thing": {"get": {"operationId": "getThing", "responses": {"200": ok}}}},
        "components": {"schemas": schemas},
    }
    started = time.perf_counter()
    [skill] = skills_from_openapi(doc)
    assert time.perf_counter() - started < 10.0
    text = json.dumps(skill.outputs)
    assert "$ref" not in text and len(text) < 500_000
    assert skill.outputs is not None and skill.outputs["properties"]["left"]["title"] == "S1"
    assert "(#/components/schemas/S1), not expanded: the schema is too large" in text


def test_openapi_a_reference_cut_for_size_keeps_its_type_and_nullability(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cut nullable object read as an object alone: the API's real null failed the call."""
    from orchestrator._json_schema import schema_validator
    from orchestrator.catalog import _openapi_refs

    monkeypatch.setattr(_openapi_refs, "MAX_INLINED_NODES", 2)
    owner = {"type": "object", "nullable": True, "description": "Who owns it"}
    ok = {"description": "ok", "content": {"application/json": {"schema": {
        "type": "object", "properties": {"owner": {"$ref": "#/components/schemas/Owner"}},
    }}}}  # fmt: skip
    doc = {
        "openapi": "3.0.3",
        "paths": {"/thing": {"get": {"operationId": "getThing", "responses": {"200": ok}}}},
        "components": {"schemas": {"Owner": owner}},
    }
    [skill] = skills_from_openapi(doc)
    assert skill.outputs is not None
    cut = skill.outputs["properties"]["owner"]
    assert cut["description"].startswith("Who owns it (Owner (#/components/schemas/Owner), not")
    assert schema_validator(skill.outputs).is_valid({"owner": None})


def test_openapi_yaml_is_read_as_yaml_1_2_so_no_and_on_stay_words(tmp_path: Path) -> None:
    """YAML 1.1 made Norway's code "NO" false and an output named "on" the key true, which
    crashed indexing with a traceback."""
    path = tmp_path / "countries.yaml"
    path.write_text(
        """openapi: 3.0.3
info: {title: Nordics, version: "1"}
paths:
  /lamp:
    get:
      operationId: lampState
      parameters:
        - {name: country, in: query, schema: {type: string, enum: [DK, FI, NO, SE]}}
        - {name: zip, in: query, schema: {type: string, example: 01234}}
      responses:
        "200":
          description: The lamp
          content:
            application/json:
              schema: {type: object, properties: {on: {type: boolean}, mode: {enum: [yes, no]}}}
""",
        encoding="utf-8",
    )
    [skill] = load_catalog(path)
    assert skill.parameters["properties"]["country"]["enum"] == ["DK", "FI", "NO", "SE"]
    assert skill.outputs is not None and set(skill.outputs["properties"]) == {"on", "mode"}
    assert skill.outputs["properties"]["mode"]["enum"] == ["yes", "no"]
    assert skill.parameters["properties"]["zip"]["example"] == 1234  # 1.2: decimal, not octal
    assert skill.fingerprint()  # it had raised comparing str and bool keys
    # An explicit !!int still reads YAML 1.1's forms, and text that is none is a located error.
    from orchestrator.catalog._files import parse_yaml

    assert parse_yaml("a: !!int 0b101", "x.yaml") == {"a": 5}
    with pytest.raises(CatalogError, match=r"x\.yaml: line 1, column 4: .*not an integer: 'zz'"):
        parse_yaml("a: !!int zz", "x.yaml")


def test_an_mcp_output_schema_of_draft_07_is_read_by_its_own_draft() -> None:
    """zod-to-json-schema writes tuples as draft-07 ``items: [...]``, which draft 2020-12
    refuses: such a tool's whole catalog had failed to load."""
    from orchestrator._json_schema import schema_validator

    draft7 = "http://json-schema.org/draft-07/schema#"
    pair = {"type": "array", "items": [{"type": "number"}, {"type": "number"}], "maxItems": 2}
    tool = {
        "name": "get_bounds",
        "description": "Bounding box of a place",
        "inputSchema": {"type": "object", "properties": {"place": {"type": "string"}}},
        "outputSchema": {"$schema": draft7, "type": "object", "properties": {"southwest": pair}},
    }
    [skill] = skills_from_mcp_tools({"tools": [tool]})
    assert skill.outputs is not None
    validator = schema_validator(skill.outputs)
    assert validator.is_valid({"southwest": [38.7, -9.1]})
    assert not validator.is_valid({"southwest": ["north", -9.1]})  # positions are checked
    # A $schema that is no string is the meta-schema's to report, not a crash.
    odd = {**tool, "outputSchema": {"$schema": 7, "type": "object"}}
    with pytest.raises(CatalogError, match="7 is not of type 'string'"):
        skills_from_mcp_tools({"tools": [odd]})
    # Without $schema, 2020-12 is read: the same tuple is no schema there.
    with pytest.raises(CatalogError, match="not a valid JSON Schema"):
        skills_from_mcp_tools(
            {
                "tools": [
                    {**tool, "outputSchema": {"type": "object", "properties": {"southwest": pair}}}
                ]
            }
        )


def test_openapi_argument_names_that_collide_are_all_kept() -> None:
    """The body's id, renamed body_id beside the path's id, overwrote a header named body_id."""
    string = {"type": "string"}
    body = {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}
    doc = {
        "openapi": "3.1.0",
        "paths": {
            "/items/{id}": {
                "put": {
                    "operationId": "putItem",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": string},
                        {"name": "body_id", "in": "header", "schema": string},
                    ],
                    "requestBody": {"content": {"application/json": {"schema": body}}},
                }
            }
        },
    }
    [skill] = skills_from_openapi(doc)
    wire = skill.metadata["openapi"]["arguments"]
    assert {k: (v["in"], v["name"]) for k, v in wire.items()} == {
        "id": ("path", "id"),
        "body_id": ("header", "body_id"),
        "body_id_2": ("body", "id"),
    }
    assert skill.parameters["properties"]["body_id_2"] == {"type": "integer"}


def test_openapi_a_body_whose_required_is_no_list_is_an_error_at_its_pointer() -> None:
    """``required: payment_intent`` was read by substring: ``intent`` became required too."""
    body = {
        "type": "object",
        "properties": {"payment_intent": {"type": "string"}, "intent": {"type": "string"}},
        "required": "payment_intent",
    }
    doc = {
        "openapi": "3.1.0",
        "paths": {
            "/refunds": {
                "post": {
                    "operationId": "createRefund",
                    "requestBody": {"content": {"application/json": {"schema": body}}},
                }
            }
        },
    }
    with pytest.raises(CatalogError, match="an array of field names") as refused:
        skills_from_openapi(doc)
    assert "requestBody/content/application~1json/schema/required" in str(refused.value)


def test_openapi_an_operation_without_words_takes_its_path_items() -> None:
    doc = {
        "openapi": "3.1.0",
        "paths": {"/pets": {"summary": "Pets in the store", "get": {"operationId": "listPets"}}},
    }
    [skill] = skills_from_openapi(doc)
    assert skill.description == "Pets in the store"


def test_a_legacy_chat_request_body_with_functions_is_a_function_list() -> None:
    """``{"functions": [...]}`` (OpenAI's older API) said only "missing required field 'name'"."""
    request = {
        "model": "gpt-3.5-turbo",
        "functions": [{"name": "get_weather", "description": "Weather.", "parameters": {}}],
    }
    from orchestrator.catalog._documents import document_skills
    from orchestrator.catalog._origin import Origin

    [loaded] = document_skills(request, Origin("request.json"))
    assert loaded.skill.id == "get_weather"


def test_an_mcp_tools_annotation_title_is_its_title_when_it_has_no_other() -> None:
    tool = {
        "name": "create_issue",
        "description": "Creates an issue.",
        "inputSchema": {"type": "object"},
        "annotations": {"title": "Create GitHub issue"},
    }
    [skill] = skills_from_mcp_tools({"tools": [tool]})
    assert skill.metadata["title"] == "Create GitHub issue"
    assert skill.description.startswith("Create GitHub issue")


def test_an_indented_fence_inside_a_front_matter_block_is_its_text(tmp_path: Path) -> None:
    """It had closed the front matter: the description was cut and the rest leaked into the body."""
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "SKILL.md").write_text(
        "---\nname: notes\ndescription: |\n  Take notes in this layout:\n  ---\n"
        "  Attendees and decisions.\n---\nBody text.\n"
    )
    skill = load_agent_skill(tmp_path / "notes")
    assert skill.description == "Take notes in this layout:\n---\nAttendees and decisions."
    assert skill.body.strip() == "Body text."


def test_openapi_body_renders_method_path_server_and_docs(petstore: dict[str, Skill]) -> None:
    body = petstore["listPets"].body
    assert body.splitlines()[:2] == ["GET /pets", "Server: https://eu.petstore.example.com/v1"]
    assert "- limit (query, integer, optional): How many items to return" in body
    assert "- 200 (application/json): A paged array of pets -> array of object Pet" in body
    assert "  - id (integer, required)" in body
    assert "- default (application/json): unexpected error -> object Error" in body
    create = petstore["createPet"].body
    assert "Request body (application/json, required): object NewPet" in create
    assert "- name (string, required): The pet's name." in create


def test_openapi_json_document_is_detected_by_its_openapi_key(tmp_path: Path) -> None:
    import yaml

    document = yaml.safe_load((GOOD / "petstore.yaml").read_text())
    path = tmp_path / "petstore.json"
    path.write_text(json.dumps(document, default=str))
    assert sorted(by_id(load_catalog(path))) == [
        "createPet",
        "delete_pets_petid",
        "listPets",
        "showPetById",
    ]


# --- Agent Skills and directories -----------------------------------------------------------


def test_agent_skills_directory_loads_every_skill_md() -> None:
    skills = by_id(load_catalog(CATALOGS / "agent_skills"))
    assert sorted(skills) == ["pdf-form-filling", "release-notes"]
    notes = skills["release-notes"]
    assert notes.description == (
        "Draft release notes from merged pull requests, grouped into Added, Changed and Fixed."
    )
    assert notes.body.startswith("# Release notes\n\nCollect the pull requests")


def test_agent_skill_front_matter_extras_go_to_metadata() -> None:
    skill = load_agent_skill(CATALOGS / "agent_skills" / "pdf-form-filling")
    assert skill.metadata == {
        "license": "Apache-2.0",
        "allowed-tools": ["Bash", "Read"],
        "metadata": {"version": "1.2", "reviewed": "2025-03-01"},
    }
    assert "---" not in skill.body


@pytest.mark.parametrize("written", ["[pdf, forms]", "pdf, forms"])
def test_agent_skill_tags_in_the_front_matter_are_the_skills_tags(
    tmp_path: Path, written: str
) -> None:
    """They went to metadata, where routing does not read them."""
    (tmp_path / "fill").mkdir()
    (tmp_path / "fill" / "SKILL.md").write_text(
        f"---\nname: fill\ndescription: Fill a form.\ntags: {written}\n---\nSteps.\n"
    )
    skill = load_agent_skill(tmp_path / "fill")
    assert skill.tags == ("pdf", "forms") and "tags" not in skill.metadata


def test_files_inside_skill_folders_are_not_read_as_catalogs() -> None:
    # release-notes/templates/sections.json is not a function list and would fail if read as one.
    assert len(load_agent_skills(CATALOGS / "agent_skills")) == 2


def test_a_catalog_file_beside_skill_folders_is_said_to_be_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """It had vanished from the catalog, and from its index, without a word."""
    (tmp_path / "fill").mkdir()
    (tmp_path / "fill" / "SKILL.md").write_text("---\nname: fill\ndescription: Fill a form.\n---\n")
    (tmp_path / "fill" / "fields.json").write_text("{}")  # the skill's own: not a catalog
    (tmp_path / "tools.jsonl").write_text('{"name": "get_weather", "description": "Weather."}\n')
    with caplog.at_level("WARNING", logger="orchestrator.catalog._load"):
        skills = load_catalog(tmp_path)
    assert [s.id for s in skills] == ["fill"]
    [said] = caplog.messages
    assert "not read: tools.jsonl (give them as a catalog of their own)" in said
    assert "fields.json" not in said


def test_skill_folders_linked_into_a_tree_are_loaded_once_even_through_a_loop(
    tmp_path: Path,
) -> None:
    """Path.rglob does not follow symlinked folders: linked skills were left out silently."""
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copytree(CATALOGS / "agent_skills" / "release-notes", tree / "release-notes")
    (tree / "pdf").symlink_to(CATALOGS / "agent_skills" / "pdf-form-filling")
    (tree / "release-notes" / "up").symlink_to(tree)  # a loop back up the tree
    assert sorted(s.id for s in load_catalog(tree)) == ["pdf-form-filling", "release-notes"]


def test_directory_without_skill_md_loads_every_catalog_file() -> None:
    skills = load_catalog(GOOD)
    sources = {Path((s.source or "").split("#")[0].rsplit(":", 1)[0]).name for s in skills}
    assert sources == {
        "bfcl_functions.json",
        "mcp_tools_list.json",
        "openai_tools.jsonl",
        "petstore.yaml",
    }
    assert len(skills) == 3 + 3 + 5 + 4


def test_sequence_of_dicts_skills_and_mcp_tools_loads_in_order() -> None:
    skill = Skill(name="existing", description="Already a skill.")
    skills = load_catalog(
        [
            skill,
            {"type": "function", "function": {"name": "wrapped"}},
            {"name": "mcp_tool", "inputSchema": {"type": "object"}},
        ]
    )
    assert [s.id for s in skills] == ["existing", "wrapped", "mcp_tool"]
    assert skills[0] is skill


def test_duplicate_ids_are_an_error_unless_deduped() -> None:
    path = CATALOGS / "bad" / "duplicate_ids.jsonl"
    with pytest.raises(DuplicateSkillError) as caught:
        load_catalog(path)
    assert caught.value.source == str(path)
    assert caught.value.where == "line 3"
    assert f"first defined at {path}:1" in str(caught.value)
    skills = load_catalog(path, dedupe=True)
    assert [s.id for s in skills] == ["get_current_weather", "get_time"]
    assert skills[0].description == "Get the current weather in a given location."


def test_duplicates_across_sources_name_both_places() -> None:
    with pytest.raises(DuplicateSkillError, match=r"'ping', first defined at <objects>#/0"):
        load_catalog([{"name": "ping"}, Skill(name="ping")])


def test_a_duplicate_id_through_a_path_item_ref_names_where_the_ref_is(tmp_path: Path) -> None:
    """Both places were the reference's target: "/paths/~1pets/get: duplicate skill id
    'listPets', first defined at api.json#/paths/~1pets/get"."""
    path = tmp_path / "api.json"
    doc = {
        "openapi": "3.0.3",
        "paths": {
            "/pets": {"get": {"operationId": "listPets", "responses": {}}},
            "/pets2": {"$ref": "#/paths/~1pets"},
        },
    }
    path.write_text(json.dumps(doc))
    with pytest.raises(DuplicateSkillError) as caught:
        load_catalog(path)
    assert caught.value.where == "/paths/~1pets2/get"
    assert f"first defined at {path}#/paths/~1pets/get" in caught.value.reason
    sources = [s.source for s in skills_from_openapi(doc, source="api.json")]
    assert sources == ["api.json#/paths/~1pets/get", "api.json#/paths/~1pets2/get"]


def test_skill_fields_beside_an_openai_function_wrapper_are_read(tmp_path: Path) -> None:
    # OpenAI's format has no outputs or cost hints: catalogs put them beside "function".
    record = {
        "type": "function",
        "function": {"name": "search_items", "description": "Search the shop's items."},
        "outputs": {"type": "object", "properties": {"item_id": {"type": "string"}}},
        "price": 0.01,
    }
    path = tmp_path / "tools.jsonl"
    path.write_text(json.dumps(record) + "\n")
    [skill] = load_catalog(path)
    assert skill.outputs == record["outputs"] and skill.price == 0.01
    # An error in one of them points where it was written, not inside "function".
    for beside, said in (
        ({"outputs": {"type": "text"}}, "at /outputs/type, got the string 'text'"),
        ({"price": "cheap"}, "at /price, got the string 'cheap'"),
    ):
        path.write_text(json.dumps({**record, **beside}) + "\n")
        with pytest.raises(CatalogError) as refused:
            load_catalog(path)
        assert said in str(refused.value) and "/function/" not in str(refused.value)
