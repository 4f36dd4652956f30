"""OpenAPI 3 documents as skills: one skill per operation.

Parameters (path, query, header) and the JSON request body become one JSON Schema; the success
(2xx) JSON response becomes ``outputs``; the HTTP method gives the risk hints (a GET is read-only,
a POST not idempotent); ``metadata["openapi"]`` keeps what an executor needs to call it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from orchestrator.catalog._openapi_refs import RefResolver
from orchestrator.catalog._openapi_text import (
    Operation,
    Parameter,
    Payload,
    render_operation,
)
from orchestrator.catalog._origin import Loaded, Origin
from orchestrator.catalog._schema import normalise_openapi_schema, without_properties_marked
from orchestrator.catalog._skill import Skill

__all__ = ["openapi_skills", "skills_from_openapi"]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_PARAMETER_PLACES = ("path", "query", "header")
# OpenAPI says these header parameters are ignored: the transport sets them.
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
# Risk hints by HTTP method, as RFC 9110 defines the methods: safe ones change nothing; PUT and
# DELETE are idempotent and overwrite or remove; POST and PATCH may act anew on every call.
_SAFE = {"read_only": True, "destructive": False, "idempotent": True}
_METHOD_HINTS: dict[str, dict[str, bool]] = {
    **{method: _SAFE for method in ("get", "head", "options", "trace")},
    "put": {"read_only": False, "destructive": True, "idempotent": True},
    "delete": {"read_only": False, "destructive": True, "idempotent": True},
    "post": {"read_only": False, "idempotent": False},
    "patch": {"read_only": False, "idempotent": False},
}


def _success(responses: list[Payload]) -> Payload | None:
    """The response a successful call returns: the first 2xx one with a schema, 200 and 201
    first (an asynchronous API answers 202 with the job it started)."""
    with_schema = [r for r in responses if r.schema is not None]
    for code in ("200", "201"):
        found = next((r for r in with_schema if r.status == code), None)
        if found is not None:
            return found
    return next((r for r in with_schema if r.status[:1] == "2"), None)


def _is_json(media_type: str) -> bool:
    base = media_type.split(";", 1)[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


def _server_url(servers: Any, origin: Origin) -> str | None:
    if not isinstance(servers, list) or not servers:
        return None
    first = origin.at(0).mapping(servers[0])
    url = origin.at(0).string(first, "url")
    variables = first.get("variables")
    if isinstance(url, str) and isinstance(variables, Mapping):
        for name, spec in variables.items():
            if isinstance(spec, Mapping) and "default" in spec:
                url = url.replace("{" + name + "}", str(spec["default"]))
    return url


def _is_extension(key: Any) -> bool:
    """Whether ``key`` is a specification extension (``x-internal``, ``x-codegen``), which
    OpenAPI allows beside the entries of the Paths and Responses objects (and in Path Item and
    Operation objects, whose known keys alone are read): vendor data, not a path or a status."""
    return isinstance(key, str) and key.startswith("x-")


def _slug(method: str, path: str) -> str:
    """The id of an operation without ``operationId``: ``get /pets/{petId}`` is
    ``get_pets_petid``. Letters and digits of any script are kept (``get_宠物``, ``get_café``):
    keeping ASCII alone made ``GET /宠物`` and ``GET /订单`` the same id. NFC first, so a
    decomposed "é" (e and a combining accent) is one letter, as a precomposed one is."""
    text = unicodedata.normalize("NFC", f"{method} {path}").lower()
    return re.sub(r"[\W_]+", "_", text).strip("_")


class _OperationReader:
    """Reads the operations of one document; holds the resolver and the version's rules."""

    def __init__(self, document: Mapping[str, Any], origin: Origin) -> None:
        self.refs = RefResolver(document, origin)
        # Operations must declare responses in 3.0; 3.1 made the field optional.
        self.require_responses = str(document.get("openapi", "")).startswith("3.0")

    def schema(self, value: Any, origin: Origin) -> dict[str, Any]:
        inlined = normalise_openapi_schema(
            self.refs.inline(origin.mapping(value, "a schema"), origin)
        )
        return dict(inlined)

    def parameters(self, declared: list[tuple[Any, Origin]]) -> list[Parameter]:
        by_key: dict[tuple[str, str], Parameter] = {}
        for value, origin in declared:
            obj, origin = self.refs.follow(value, origin)
            name = origin.string(obj, "name") or ""
            place = origin.string(obj, "in") or ""
            if place not in (*_PARAMETER_PLACES, "cookie"):
                raise origin.at("in").mismatch("one of path, query, header, cookie", place)
            if place == "cookie" or (place == "header" and name.lower() in _IGNORED_HEADERS):
                continue
            schema: dict[str, Any] = {}
            if "schema" in obj:
                schema = self.schema(obj["schema"], origin.at("schema"))
            elif isinstance(obj.get("content"), Mapping) and obj["content"]:
                media, content = next(iter(obj["content"].items()))
                content_origin = origin.at("content", media)
                content = content_origin.mapping(content)
                if "schema" in content:
                    schema = self.schema(content["schema"], content_origin.at("schema"))
            description = origin.string(obj, "description", required=False) or ""
            required = place == "path" or obj.get("required") is True
            # Operation-level parameters come later and override path-level ones of the same key.
            by_key[(name, place)] = Parameter(name, place, required, schema, description)
        return list(by_key.values())

    def payload(self, value: Any, origin: Origin, status: str = "") -> Payload:
        """A request body (no ``status``) or a response; a request carries no ``readOnly``
        property and a response no ``writeOnly`` one, so each schema keeps only its own."""
        obj, origin = self.refs.follow(value, origin)
        description = origin.string(obj, "description", required=False) or ""
        content = obj.get("content")
        if content is None:
            return Payload(None, None, description, obj.get("required") is True, status)
        content = origin.at("content").mapping(content)
        media = next((m for m in content if _is_json(m)), next(iter(content), None))
        schema = None
        schema_origin = None
        if media is not None:
            media_origin = origin.at("content", media)
            media_obj = media_origin.mapping(content[media])
            if "schema" in media_obj:
                schema_origin = media_origin.at("schema")
                schema = self.schema(media_obj["schema"], schema_origin)
                schema = without_properties_marked(schema, "writeOnly" if status else "readOnly")
                needed = schema.get("required", [])
                if not status and not (
                    isinstance(needed, list) and all(isinstance(n, str) for n in needed)
                ):
                    # Its fields become the skill's arguments: "payment_intent" read as a
                    # list had made "intent" required too, by substring.
                    raise schema_origin.at("required").mismatch("an array of field names", needed)
        required = obj.get("required") is True
        return Payload(media, schema, description, required, status, schema_origin)

    def responses(self, op: Mapping[str, Any], origin: Origin) -> list[Payload]:
        if "responses" not in op:
            if self.require_responses:
                raise origin.error("missing required field 'responses' (OpenAPI 3.0)")
            return []
        responses = origin.at("responses").mapping(op["responses"])
        # YAML reads an unquoted 200 as an int; OpenAPI means the string "200".
        return [
            self.payload(value, origin.at("responses", str(status)), str(status))
            for status, value in responses.items()
            if not _is_extension(status)
        ]

    def operation(
        self,
        method: str,
        path: str,
        value: Any,
        origin: Origin,
        shared: list[tuple[Any, Origin]],
        server: str | None,
    ) -> Operation:
        op = origin.mapping(value)
        declared = list(shared)
        if "parameters" in op:
            plist = op["parameters"]
            if not isinstance(plist, list):
                raise origin.at("parameters").mismatch("an array", plist)
            declared += [(p, origin.at("parameters", i)) for i, p in enumerate(plist)]
        body = None
        if "requestBody" in op:
            body = self.payload(op["requestBody"], origin.at("requestBody"))
        tags = op.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise origin.at("tags").mismatch("an array of strings", tags)
        return Operation(
            method=method,
            path=path,
            server=_server_url(op.get("servers"), origin.at("servers")) or server,
            operation_id=origin.string(op, "operationId", required=False),
            summary=origin.string(op, "summary", required=False) or "",
            description=origin.string(op, "description", required=False) or "",
            parameters=self.parameters(declared),
            body=body,
            responses=self.responses(op, origin),
            tags=tuple(tags),
            deprecated=op.get("deprecated") is True,
        )


def _arguments(op: Operation) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The merged argument schema and, per argument, where it goes in the HTTP request."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    places: dict[str, dict[str, Any]] = {}

    def add(name: str, schema: dict[str, Any], place: str, wire: str | None, need: bool) -> None:
        key = name if name not in properties else f"{place}_{name}"
        n = 2
        while key in properties:  # a header named body_id, and the body's own id
            key, n = f"{place}_{name}_{n}", n + 1
        properties[key] = schema
        places[key] = {"in": place, "name": wire}
        if need:
            required.append(key)

    for p in op.parameters:
        schema = {**p.schema, "description": p.description} if p.description else p.schema
        add(p.name, schema, p.location, p.name, p.required)
    body = op.body
    if body is not None and body.schema is not None:
        props = body.schema.get("properties")
        if body.schema.get("type", "object") == "object" and isinstance(props, Mapping):
            # Flatten an object body so its fields read as arguments, like query parameters do.
            body_required = body.schema.get("required") or []
            for name, sub in props.items():
                add(name, dict(sub), "body", name, body.required and name in body_required)
        else:
            add("body", body.schema, "body", None, body.required)
    arguments: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        arguments["required"] = required
    return arguments, places


def _operation_skill(op: Operation, origin: Origin, place: Origin) -> Loaded:
    """The skill of ``op``, read at ``origin``. ``place`` is where the operation sits under
    ``paths``, which differs when its path item is a ``$ref``: the skill's source and a
    duplicate report name that place, not the shared target (which named one place twice)."""
    parameters, places = _arguments(op)
    success = _success(op.responses)
    prose = [t.strip() for t in dict.fromkeys((op.summary, op.description)) if t.strip()]
    skill_id = op.operation_id or _slug(op.method, op.path)
    http: dict[str, Any] = {"method": op.method.upper(), "path": op.path, "server": op.server}
    http["arguments"] = places
    if op.body is not None:
        http["body_media_type"] = op.body.media_type
    fields = {
        "id": skill_id,
        "name": skill_id,
        "description": "\n\n".join(prose) or f"{op.method.upper()} {op.path}",
        "parameters": parameters,
        "outputs": success.schema if success is not None else None,
        "body": render_operation(op),
        "tags": op.tags,
        "source": place.location,
        "metadata": {"openapi": http, **({"deprecated": True} if op.deprecated else {})},
        **_METHOD_HINTS.get(op.method, {}),
    }
    # Its outputs are checked where the response's schema is, not at a skill's "outputs".
    outputs_at = success.schema_origin if success is not None else None
    return Loaded(origin.skill(fields, outputs_at=outputs_at), place)


def openapi_skills(document: Any, origin: Origin) -> list[Loaded]:
    """One skill per operation of a parsed OpenAPI 3 document."""
    doc = origin.mapping(document)
    version = doc.get("openapi")
    if "swagger" in doc and version is None:
        raise origin.at("swagger").error("Swagger 2.0 is not supported; expected OpenAPI 3")
    if not isinstance(version, str) or not version.startswith("3."):
        raise origin.at("openapi").mismatch("an OpenAPI 3.x version string", version)
    reader = _OperationReader(doc, origin)
    server = _server_url(doc.get("servers"), origin.at("servers"))
    paths_origin = origin.at("paths")
    # 3.1 lets a document have no paths (only webhooks or components); an array is no Paths
    # object, and is reported as such rather than, when empty, as an empty catalog.
    raw_paths = doc.get("paths")
    paths = paths_origin.mapping({} if raw_paths is None else raw_paths)
    loaded = []
    for path, raw_item in paths.items():
        if _is_extension(path):
            continue
        site = paths_origin.at(path)
        item, item_origin = reader.refs.follow(raw_item, site)
        shared_list = item.get("parameters") or []
        if not isinstance(shared_list, list):
            raise item_origin.at("parameters").mismatch("an array", shared_list)
        shared = [(p, item_origin.at("parameters", i)) for i, p in enumerate(shared_list)]
        path_server = _server_url(item.get("servers"), item_origin.at("servers")) or server
        for method in _METHODS:
            if method in item:
                op_origin = item_origin.at(method)
                op = reader.operation(method, path, item[method], op_origin, shared, path_server)
                if not (op.summary or op.description):
                    # The path item's own words ("summary: Pets"), which OpenAPI applies to
                    # all its operations: the description had been "GET /pets" alone.
                    op = replace(
                        op,
                        summary=item_origin.string(item, "summary", required=False) or "",
                        description=item_origin.string(item, "description", required=False) or "",
                    )
                loaded.append(_operation_skill(op, op_origin, site.at(method)))
    return loaded


def skills_from_openapi(document: Any, *, source: str = "<openapi>") -> list[Skill]:
    """Skills from a parsed OpenAPI 3 document (a dict from JSON or YAML)."""
    return [loaded.skill for loaded in openapi_skills(document, Origin(source))]
