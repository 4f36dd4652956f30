"""Python callables as skills: name, docstring, signature and source.

The Skill stays plain data (frozen, serialisable); the callable itself is handed back separately by
``callables_by_skill_id`` for whichever invoker will run it.
"""

from __future__ import annotations

import ast
import enum
import inspect
import json
import textwrap
import types
import typing
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from orchestrator.catalog._docstrings import parse_docstring
from orchestrator.catalog._origin import Loaded, Origin
from orchestrator.catalog._pytypes import schema_for_annotation
from orchestrator.catalog._skill import Skill
from orchestrator.errors import CatalogError

__all__ = [
    "callable_name",
    "callable_skill",
    "callables_by_skill_id",
    "function_source",
    "return_schema",
    "skills_from_callables",
]

_SKIPPED_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def callable_name(func: Callable[..., Any]) -> str:
    """The skill id of ``func``: its ``__name__``, which must be a real identifier."""
    name = getattr(func, "__name__", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise CatalogError(
            f"expected a named function (def or class), got {func!r}; wrap it in a def",
            source="python",
        )
    return name


def function_source(func: Any) -> str | None:
    """The dedented source of ``func``, or None when it has none (builtins, REPL, C extensions)."""
    try:
        return textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return None


def _type_hints(func: Callable[..., Any]) -> dict[str, Any]:
    """The resolved annotations of ``func``. One that cannot be resolved (a name local to
    the function that defined ``func``, under ``from __future__ import annotations``) is left
    out, meaning "any value", and does not cost the others their types."""
    try:
        return typing.get_type_hints(func, include_extras=True)
    except (NameError, TypeError, AttributeError):
        pass
    hints: dict[str, Any] = {}
    namespace = getattr(func, "__globals__", {})
    for name, annotation in getattr(func, "__annotations__", {}).items():
        # A function of one annotation, in the same module: resolved as ``func``'s would be.
        probe = types.FunctionType(_EMPTY_CODE, namespace)
        probe.__annotations__ = {name: annotation}
        try:
            hints[name] = typing.get_type_hints(probe, include_extras=True)[name]
        except (NameError, TypeError, AttributeError, SyntaxError):
            continue
    return hints


_EMPTY_CODE = (lambda: None).__code__


def _json_default(value: Any) -> tuple[bool, Any]:
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False, None
    return True, value


def return_schema(func: Callable[..., Any], doc: str = "") -> dict[str, Any] | None:
    """The JSON Schema of what ``func`` returns, from its annotation; None for ``-> None``.

    Where the annotation names no fields (``-> dict``, ``-> dict[str, Any]``, none at all), the
    keys of the dict literals its ``return`` statements build are its fields: they are what
    tells a planner that ``find_order`` produces the ``order_id`` that ``refund_order`` takes.
    """
    annotation = _type_hints(func).get("return", inspect.Signature.empty)
    if annotation in (None, type(None)):
        return {"description": doc} if doc else None
    schema = {} if annotation is inspect.Signature.empty else schema_for_annotation(annotation)
    if schema.get("type", "object") == "object" and "properties" not in schema:
        fields = _returned_fields(function_source(func))
        if fields:
            schema = {**schema, "type": "object", "properties": fields}
    if not schema and annotation is inspect.Signature.empty:
        return {"description": doc} if doc else None
    return {**schema, "description": doc} if doc else schema


_CONSTANT_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number"}


def _returned_fields(source: str | None) -> dict[str, Any]:
    """The string keys of the dicts a function's own ``return`` statements build
    (``return {"order_id": ...}`` or ``return dict(order_id=...)``), each with the JSON type of
    a constant value; nested functions and lambdas are not the function's returns."""
    if source is None:
        return {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    function = next(iter(tree.body), None)
    if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
        return {}
    returns: list[ast.Return] = []
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        if isinstance(node, ast.Return):
            returns.append(node)
        pending.extend(ast.iter_child_nodes(node))
    # Each key's JSON types over every return that writes it; "" for a value not a constant.
    kinds: dict[str, set[str]] = {}
    for node in sorted(returns, key=lambda r: (r.lineno, r.col_offset)):
        for key, value in _literal_items(node.value):
            constant = value.value if isinstance(value, ast.Constant) else ...
            kind = "null" if constant is None else _CONSTANT_TYPES.get(type(constant), "")
            kinds.setdefault(key, set()).add(kind)
    return {key: _field_type(found) for key, found in kinds.items()}


def _field_type(kinds: set[str]) -> dict[str, Any]:
    """A field's schema from the constants the returns write for it: typed only when they all
    agree (an int where another return writes a float is a number; null may join any), since
    one branch's ``0`` would otherwise fail another's ``15.5`` as malformed."""
    if "integer" in kinds and "number" in kinds:
        kinds = kinds - {"integer"}
    typed = kinds - {"null"}
    if len(typed) != 1 or "" in typed:
        return {}
    (kind,) = typed
    return {"type": [kind, "null"]} if "null" in kinds else {"type": kind}


def _literal_items(node: ast.AST | None) -> list[tuple[str, ast.AST]]:
    if isinstance(node, ast.Dict):
        return [
            (key.value, value)
            for key, value in zip(node.keys, node.values, strict=True)
            if isinstance(key, ast.Constant) and isinstance(key.value, str)
        ]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        return [(kw.arg, kw.value) for kw in node.keywords if kw.arg is not None]
    return []


def _parameters(func: Callable[..., Any], origin: Origin, docs: dict[str, str]) -> dict[str, Any]:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise origin.error(f"cannot read the signature: {exc}") from exc
    hints = _type_hints(func)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in signature.parameters.values():
        if param.kind in _SKIPPED_KINDS:
            continue
        hint = hints.get(param.name, Any)
        default = param.default
        if isinstance(default, FieldInfo):
            # ``status: str = Field(default="open", description=...)``: its description and
            # bounds are the value's, its default the parameter's.
            hint = Annotated[hint, default]
            default = inspect.Parameter.empty if default.is_required() else default.default
        schema = schema_for_annotation(hint)
        if param.name in docs and "description" not in schema:
            schema["description"] = docs[param.name]
        if default is inspect.Parameter.empty:
            required.append(param.name)
        elif default is not PydanticUndefined:
            serialisable, value = _json_default(default)
            if serialisable:
                schema["default"] = value
        properties[param.name] = schema
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    return parameters


def callable_skill(func: Callable[..., Any]) -> Loaded:
    """One callable as a skill; async functions are marked in ``metadata["async"]``."""
    name = callable_name(func)
    qualname = f"{getattr(func, '__module__', None) or '?'}.{getattr(func, '__qualname__', name)}"
    origin = Origin(f"python:{qualname}")
    full_doc = inspect.getdoc(func) or ""
    doc = parse_docstring(full_doc)
    fields = {
        "name": name,
        "description": doc.summary,
        "parameters": _parameters(func, origin, doc.params),
        "outputs": return_schema(func, doc.returns),
        "body": function_source(func) or full_doc,
        "source": origin.location,
        "metadata": {"python": qualname, "async": inspect.iscoroutinefunction(func)},
    }
    return Loaded(origin.skill(fields), origin)


def skills_from_callables(funcs: Iterable[Callable[..., Any]]) -> list[Skill]:
    """Skills from plain or async Python functions."""
    return [callable_skill(func).skill for func in funcs]


def callables_by_skill_id(funcs: Iterable[Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """The callables keyed by the id their skill gets, for the invoker that will run them."""
    return {callable_name(func): func for func in funcs}
