"""Malformed catalog input fails with a CatalogError naming the file, the line or pointer, and
what was expected; raw pydantic, JSON and YAML errors never reach the user."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.catalog import load_catalog, skills_from_mcp_tools, skills_from_openapi
from orchestrator.errors import CatalogError

BAD = Path(__file__).parent / "fixtures" / "catalogs" / "bad"


def catalog_error(source: object) -> CatalogError:
    with pytest.raises(CatalogError) as caught:
        load_catalog(source)  # type: ignore[arg-type]
    return caught.value


def test_truncated_json_names_file_and_line() -> None:
    error = catalog_error(BAD / "truncated.json")
    assert error.source == str(BAD / "truncated.json")
    assert error.where == "line 9, column 1"
    assert error.reason.startswith("invalid JSON: ")
    assert not isinstance(error.__cause__, CatalogError)


def test_wrong_type_on_jsonl_line_3_names_line_and_pointer() -> None:
    error = catalog_error(BAD / "wrong_type_line3.jsonl")
    assert error.source == str(BAD / "wrong_type_line3.jsonl")
    assert error.where == "line 3"
    assert error.reason == "expected a string at /function/name, got the number 42"


def test_wrong_type_in_json_list_names_json_pointer() -> None:
    error = catalog_error(BAD / "null_name.json")
    assert str(error) == f"{BAD / 'null_name.json'}: /3/name: expected a string, got null"


def test_invalid_jsonl_line_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "tools.jsonl"
    path.write_text('{"name": "a"}\n{"name": "b"}\n{"name": "c",\n')
    error = catalog_error(path)
    assert error.where is not None and error.where.startswith("line 3, column")


def test_openapi_operation_without_responses_names_its_pointer() -> None:
    error = catalog_error(BAD / "openapi_missing_responses.yaml")
    assert error.source == str(BAD / "openapi_missing_responses.yaml")
    assert error.where == "/paths/~1pets/get"
    assert "missing required field 'responses'" in error.reason


def test_openapi_3_1_operation_may_omit_responses() -> None:
    doc = {"openapi": "3.1.0", "paths": {"/ping": {"get": {"operationId": "ping"}}}}
    [skill] = skills_from_openapi(doc)
    assert skill.outputs is None


def test_openapi_broken_ref_names_the_pointer_of_the_ref() -> None:
    error = catalog_error(BAD / "openapi_broken_ref.yaml")
    assert error.source == str(BAD / "openapi_broken_ref.yaml")
    assert error.where == "/paths/~1pets/post/requestBody/content/application~1json/schema/$ref"
    assert "'#/components/schemas/NewPett' does not resolve" in error.reason


def test_openapi_remote_ref_is_refused() -> None:
    doc = {
        "openapi": "3.0.3",
        "paths": {"/x": {"get": {"parameters": [{"$ref": "common.yaml#/P"}], "responses": {}}}},
    }
    with pytest.raises(CatalogError, match="only local \\$refs") as caught:
        skills_from_openapi(doc, source="api.yaml")
    assert caught.value.where == "/paths/~1x/get/parameters/0/$ref"


def test_openapi_circular_parameter_ref_chain_is_an_error() -> None:
    doc = {
        "openapi": "3.0.3",
        "paths": {"/x": {"get": {"parameters": [{"$ref": "#/components/parameters/A"}]}}},
        "components": {
            "parameters": {
                "A": {"$ref": "#/components/parameters/B"},
                "B": {"$ref": "#/components/parameters/A"},
            }
        },
    }
    with pytest.raises(CatalogError, match="circular \\$ref chain"):
        skills_from_openapi(doc)


def test_openapi_parameter_of_wrong_type_names_its_pointer() -> None:
    doc = {
        "openapi": "3.0.3",
        "paths": {"/pets": {"get": {"parameters": [{"name": 7, "in": "query"}], "responses": {}}}},
    }
    with pytest.raises(CatalogError) as caught:
        skills_from_openapi(doc, source="api.json")
    assert (
        str(caught.value)
        == "api.json: /paths/~1pets/get/parameters/0/name: expected a string, got the number 7"
    )


def test_openapi_paths_that_are_not_an_object_are_a_type_error_not_an_empty_catalog(
    tmp_path: Path,
) -> None:
    path = tmp_path / "api.json"
    path.write_text(json.dumps({"openapi": "3.0.3", "paths": []}))
    assert str(catalog_error(path)) == f"{path}: /paths: expected an object, got an array"


def test_swagger_2_is_refused_with_a_reason() -> None:
    with pytest.raises(CatalogError, match=r"Swagger 2\.0 is not supported"):
        skills_from_openapi({"swagger": "2.0", "paths": {}})


def test_skill_md_without_front_matter_names_the_file() -> None:
    error = catalog_error(BAD / "skill_without_front_matter")
    assert error.source == str(BAD / "skill_without_front_matter" / "SKILL.md")
    assert error.where == "line 1"
    assert "missing YAML front matter" in error.reason


def test_skill_md_without_name_names_the_file() -> None:
    error = catalog_error(BAD / "skill_without_name")
    assert error.source == str(BAD / "skill_without_name" / "SKILL.md")
    assert error.reason == "missing required field 'name' in the front matter"


def test_invalid_front_matter_yaml_names_the_file_line(tmp_path: Path) -> None:
    path = tmp_path / "SKILL.md"
    path.write_text("---\nname: ok\ndescription: [unclosed\n---\nbody\n")
    error = catalog_error(path)
    assert error.source == str(path)
    assert error.where is not None and error.where.startswith("line ")
    assert int(error.where.split()[1].rstrip(",")) >= 3  # "line L, column C"
    assert error.reason.startswith("invalid YAML")


def test_pydantic_errors_are_translated_to_pointed_messages(tmp_path: Path) -> None:
    path = tmp_path / "native.json"
    path.write_text(json.dumps([{"name": "ok"}, {"name": "cheap", "price": -1}]))
    error = catalog_error(path)
    assert str(error) == f"{path}: /1/price: expected a number >= 0.0, got the number -1"
    assert "Input should" not in str(error)


def test_misspelt_field_is_reported_as_unknown(tmp_path: Path) -> None:
    path = tmp_path / "tools.jsonl"
    path.write_text('{"name": "ok", "descripton": "typo"}\n')
    error = catalog_error(path)
    assert (error.where, error.reason) == ("line 1", "unknown field 'descripton' (at /descripton)")


def test_parameters_that_are_not_an_object_are_an_error() -> None:
    with pytest.raises(CatalogError) as caught:
        load_catalog([{"name": "f", "parameters": "x: int"}])
    assert caught.value.where == "/0/parameters"
    assert caught.value.reason == "expected an object, got the string 'x: int'"


def test_mcp_tool_without_input_schema_is_an_error() -> None:
    with pytest.raises(CatalogError, match="missing required field 'inputSchema'") as caught:
        skills_from_mcp_tools(
            {
                "tools": [
                    {"name": "a", "inputSchema": {}},
                    {"name": "b", "description": "x", "annotations": {}},
                ]
            }
        )
    assert caught.value.where == "/tools/1"


def test_mcp_annotation_given_as_a_string_is_an_error_not_truthy() -> None:
    """bool("false") is True: a string hint marked a destructive tool read-only."""
    tool = {"name": "x", "inputSchema": {"type": "object"}}
    with pytest.raises(CatalogError) as caught:
        skills_from_mcp_tools(
            {"tools": [{**tool, "annotations": {"readOnlyHint": "false"}}]}, source="tools.json"
        )
    assert str(caught.value) == (
        "tools.json: /tools/0/annotations/readOnlyHint: "
        "expected a boolean (or null for not given), got the string 'false'"
    )
    # Null still means not given: MCP's default (not read-only) applies.
    [skill] = skills_from_mcp_tools({"tools": [{**tool, "annotations": {"readOnlyHint": None}}]})
    assert (skill.read_only, skill.destructive) == (False, True)


def test_an_outputs_schema_that_is_no_json_schema_is_an_error_at_load_naming_its_pointer(
    tmp_path: Path,
) -> None:
    """It loaded and routed, and the run failed later naming a graph node, not the file."""
    java = tmp_path / "java.json"
    java.write_text(json.dumps([{"name": "getMap", "response": {"type": "HashMap"}}]))
    assert str(catalog_error(java)) == (
        f"{java}: /0/response/type: expected a JSON Schema type (array, boolean, integer, "
        "null, number, object, string), got the string 'HashMap'"
    )
    broken = {"type": "object", "required": "id"}
    mcp = {"tools": [{"name": "a", "inputSchema": {"type": "object"}, "outputSchema": broken}]}
    with pytest.raises(CatalogError) as caught:
        skills_from_mcp_tools(mcp, source="tools.json")
    assert str(caught.value) == (
        "tools.json: /tools/0/outputSchema/required: "
        "not a valid JSON Schema: 'id' is not of type 'array'"
    )
    json_schema = {"application/json": {"schema": {"type": "objekt"}}}
    doc = {
        "openapi": "3.0.3",
        "paths": {"/a": {"get": {"responses": {"200": {"description": "A.",
                                                       "content": json_schema}}}}},
    }  # fmt: skip
    with pytest.raises(CatalogError) as caught:
        skills_from_openapi(doc, source="api.yaml")
    assert (
        caught.value.where == "/paths/~1a/get/responses/200/content/application~1json/schema/type"
    )


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
        {"type": ["string", "null"], "enum": ["a", None], "maxLength": 3},
        {"type": "array", "items": {"anyOf": [{"type": "integer", "minimum": 0}, True]}},
        {"type": ["string", "string"]},  # types listed twice
        {"type": []},
        {"required": ["a", "a"]},
        {"minLength": -1},
        {"minimum": True},
        {"anyOf": []},
        {"properties": {"a": {"type": "HashMap"}}},
        {"items": [{"type": "string"}]},  # draft 4's tuple form
        {"prefixItems": [{"type": "string"}], "items": False},  # a keyword the fast path lacks
        {"description": 3},
        {"type": {"a": 1}},  # unhashable: refused, not a TypeError
        {"type": [["string"]]},
    ],
)
def test_the_outputs_check_without_the_meta_schema_never_passes_what_it_refuses(
    schema: dict[str, object],
) -> None:
    from jsonschema import Draft202012Validator

    from orchestrator._json_schema import _plainly_valid, schema_problem

    valid = Draft202012Validator(Draft202012Validator.META_SCHEMA).is_valid(schema)
    assert (schema_problem(schema) is None) == valid
    if _plainly_valid(schema, 0):
        assert valid


def test_common_outputs_schemas_are_checked_without_the_meta_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The meta-schema takes a millisecond a schema, on every catalog load."""
    import orchestrator._json_schema as json_schema
    from orchestrator._json_schema import _plainly_valid

    def meta_schema_asked(schema: str) -> None:
        raise AssertionError(f"the meta-schema was asked about {schema[:80]}")

    monkeypatch.setattr(json_schema, "_problem", meta_schema_asked)
    skills = load_catalog(Path(__file__).resolve().parent.parent / "skills" / "sample.jsonl")
    outputs = [skill.outputs for skill in skills if skill.outputs]
    assert outputs and all(_plainly_valid(schema, 0) for schema in outputs)


def test_near_miss_documents_say_what_they_are_not_that_a_name_is_missing(
    tmp_path: Path,
) -> None:
    servers = tmp_path / "servers.json"
    servers.write_text(json.dumps({"mcpServers": []}))
    assert str(catalog_error(servers)) == (
        f"{servers}: /mcpServers: expected an object of MCP servers by name, got an array"
    )
    failed = tmp_path / "tools.json"
    error = {"code": -32601, "message": "Method not found: tools/list"}
    failed.write_text(json.dumps({"jsonrpc": "2.0", "id": 1, "error": error}))
    assert str(catalog_error(failed)) == (
        f"{failed}: /error: a JSON-RPC error response, not a tools/list result: "
        "'Method not found: tools/list'"
    )


def test_non_function_tool_type_is_an_error() -> None:
    error = catalog_error([{"type": "code_interpreter"}])
    assert (error.where, error.reason) == (
        "/0/type",
        "expected 'function', got the string 'code_interpreter'",
    )


def test_unsupported_file_type_and_missing_path_are_errors(tmp_path: Path) -> None:
    (tmp_path / "tools.toml").write_text("")
    assert "unsupported catalog file type '.toml'" in catalog_error(tmp_path / "tools.toml").reason
    assert catalog_error(tmp_path / "nope.json").reason == "no such file or directory"


def test_directory_without_catalog_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing to load")
    error = catalog_error(tmp_path)
    assert error.source == str(tmp_path)
    assert error.reason.startswith("no SKILL.md and no catalog files")


def test_a_catalog_file_or_folder_describing_no_skill_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n")
    (tmp_path / "empty.json").write_text("[]")
    for empty in ("empty.jsonl", "empty.json"):
        error = catalog_error(tmp_path / empty)
        assert error.source == str(tmp_path / empty) and error.reason.startswith("no skills")
    assert catalog_error(tmp_path).reason.startswith("no skills")


def test_an_index_kept_inside_a_catalog_folder_is_not_read_as_catalog_files(
    tmp_path: Path,
) -> None:
    from orchestrator.routing import SkillRouter

    tools = {"name": "get_weather", "description": "Current weather for a city."}
    (tmp_path / "tools.jsonl").write_text(json.dumps(tools) + "\n")
    SkillRouter.from_catalog(tmp_path, index_dir=tmp_path / "index")
    assert [s.id for s in load_catalog(tmp_path)] == ["get_weather"]
    # A folder with another program's manifest.json is still read.
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "manifest.json").write_text('{"name": "extension"}')
    (tmp_path / "more" / "extra.jsonl").write_text(json.dumps({**tools, "name": "forecast"}))
    assert {"get_weather", "forecast"} <= {s.id for s in load_catalog(tmp_path)}


def test_a_byte_order_mark_written_by_an_editor_is_not_part_of_the_catalog(tmp_path: Path) -> None:
    tools = tmp_path / "tools.jsonl"
    line = json.dumps({"name": "get_weather", "description": "Current weather for a city."})
    tools.write_text("\ufeff" + line + "\n", encoding="utf-8")
    assert [s.id for s in load_catalog(tools)] == ["get_weather"]


def test_a_catalog_file_that_is_not_utf8_is_an_error_naming_it(tmp_path: Path) -> None:
    tools = tmp_path / "tools.jsonl"
    line = json.dumps({"name": "météo", "description": "Le temps qu'il fait."}, ensure_ascii=False)
    tools.write_bytes(line.encode("latin-1") + b"\n")
    with pytest.raises(CatalogError, match=r"tools\.jsonl.*cannot read file \(not UTF-8 text"):
        load_catalog(tools)


def test_arguments_that_are_not_named_are_an_error_at_the_schema(tmp_path: Path) -> None:
    """A list for properties, or a string for required, loaded without a word, and the skill
    then read as taking no arguments."""
    listed = tmp_path / "listed.jsonl"
    listed.write_text('{"name": "a", "parameters": {"type": "object", "properties": []}}\n')
    assert str(catalog_error(listed)) == (
        f"{listed}: line 1: properties must be an object of argument schemas by name, not a list "
        "(at /parameters)"
    )
    mcp = {"tools": [{"name": "a", "inputSchema": {"type": "object", "required": "x"}}]}
    with pytest.raises(CatalogError, match=r"/tools/0/inputSchema: required must be a list"):
        skills_from_mcp_tools(mcp)
