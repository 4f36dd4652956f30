"""Plain Python functions as tools: called with keyword arguments, checked against their
signatures before they are called, and before a run starts (``KeywordInvoker.refusal``).

A function is registered under a skill's id or name (``{"stripe_create_refund": refund}``).
Its arguments come only from the caller's inputs and the producers' outputs
(``BindingInvoker``), so whether a call can be made at all is known in advance.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Collection, Iterable, Mapping
from enum import Enum
from typing import Any

from jsonschema.exceptions import SchemaError, best_match
from jsonschema.protocols import Validator
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from orchestrator._json_schema import schema_validator, validator_class
from orchestrator.catalog import Skill
from orchestrator.errors import ToolArgumentError
from orchestrator.execution import AbandonedCalls, ArgumentRefusal, CallableInvoker

__all__ = ["KeywordInvoker", "ToolFunction", "by_skill_id", "keyword_tools"]

ToolFunction = Callable[..., Any]


def skill_ids(keys: Iterable[str], skills: Mapping[str, Skill]) -> dict[str, str]:
    """The id of the skill each key registers a function for: a key is a skill's id or name."""
    by_name = {s.name: s.id for s in skills.values()}
    return {key: key if key in skills else by_name.get(key, key) for key in keys}


def by_skill_id(functions: Mapping[str, Any], skills: Mapping[str, Skill]) -> dict[str, Any]:
    """The tools keyed by skill id; each may be registered under the skill's id or name."""
    ids = skill_ids(functions, skills)
    return {ids[key]: fn for key, fn in functions.items()}


def keyword_tools(
    functions: Mapping[str, ToolFunction], skills: Mapping[str, Skill]
) -> dict[str, Callable[[Mapping[str, Any]], Any]]:
    """Adapt plain functions (``def book(flight_id, seat)``) to the invoker's one-mapping call,
    keyed by skill id; a function may be registered under the skill's id or its name."""
    return dict(KeywordInvoker(functions, skills).tools)


class KeywordInvoker(CallableInvoker):
    """Plain functions as tools (``keyword_tools``), whose signatures also say before a run
    whether a tool can be called with the arguments it would get (``refusal``)."""

    def __init__(
        self,
        functions: Mapping[str, ToolFunction],
        skills: Mapping[str, Skill],
        *,
        threaded: bool = True,
        abandoned: AbandonedCalls | None = None,
    ) -> None:
        by_id = by_skill_id(functions, skills)
        self.signatures = {skill_id: _signature(fn) for skill_id, fn in by_id.items()}
        self.parameters = {skill_id: _own_parameters(skills, skill_id) for skill_id in by_id}
        adapted = {
            skill_id: _adapt(
                skill_id,
                fn,
                self.signatures[skill_id],
                self.parameters[skill_id],
                _value_checker(skills.get(skill_id)),
            )
            for skill_id, fn in by_id.items()
        }
        super().__init__(adapted, threaded=threaded, abandoned=abandoned)

    def refusal(self, tool: str, names: Collection[str]) -> ArgumentRefusal | None:
        if tool not in self.tools:
            return ArgumentRefusal.not_served("no function")
        signature, parameters = self.signatures[tool], self.parameters[tool]
        return _refusal(signature, parameters, _passed(signature, parameters, names))


def _own_parameters(skills: Mapping[str, Skill], skill_id: str) -> frozenset[str]:
    """The parameters of the skill: the only arguments the binder passes, or an input gives."""
    skill = skills.get(skill_id)
    return frozenset(skill.parameter_names()) if skill is not None else frozenset()


ValueCheckers = dict[str, Validator]


def _value_checker(skill: Skill | None) -> ValueCheckers | None:
    """A validator per parameter of the skill, each its property's schema as a document of its
    own (``#/$defs/...`` in a model's schema points into it) with the parameters' shared
    ``$defs`` beside; parameters whose schema the validator cannot read are left out."""
    properties = skill.parameters.get("properties") if skill is not None else None
    if skill is None or not isinstance(properties, Mapping):
        return None
    shared = {k: v for k, v in skill.parameters.items() if k in ("$defs", "definitions", "$schema")}
    checkers: ValueCheckers = {}
    for name, spec in properties.items():
        if not isinstance(spec, Mapping):
            continue
        document = {**shared, **spec}
        try:
            validator_class(document).check_schema(document)
        except SchemaError:
            continue  # the function will tell
        checkers[name] = schema_validator(document)
    return checkers or None


def _wrong_value(values: ValueCheckers, arguments: Mapping[str, Any]) -> str | None:
    """What is wrong with the JSON values among ``arguments`` ("42" for an integer), if
    anything. Python values JSON has no word for (a tuple, an enum member, a model instance)
    are left to the function, which may well take them. ``None`` is JSON's null, checked as
    any value (a null "provided" for a ``payment_id: str`` had reached the function), unless
    the parameter's default is None (``x: str = None`` takes it)."""
    for name, value in arguments.items():
        checker = values.get(name)
        if checker is None or not (_is_json(value) or value is None):
            continue
        if value is None and _defaults_to_none(checker.schema):
            continue
        try:
            error = best_match(checker.iter_errors(value))
        except Exception:  # a reference or type the validator cannot resolve
            continue
        if error is not None:
            where = "/".join(str(p) for p in (name, *error.absolute_path))
            return f"argument {where}: {error.message}"
    return None


def _defaults_to_none(schema: Any) -> bool:
    return isinstance(schema, Mapping) and "default" in schema and schema["default"] is None


def _is_json(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is JSON's kind of value, nested at most 64 deep (deeper is left
    unchecked, to the function)."""
    if isinstance(value, str | bool | int | float):
        return True
    if depth >= 64:
        return False
    if isinstance(value, list):
        return all(_is_json(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v, depth + 1) for k, v in value.items())
    return False


def _adapt(
    tool: str,
    fn: ToolFunction,
    signature: inspect.Signature | None,
    parameters: frozenset[str],
    values: ValueCheckers | None,
) -> Callable[[Mapping[str, Any]], Any]:
    """``fn`` called with the mapping as keyword arguments, after a check against its signature
    and its skill's parameter schema: a call that cannot start (an argument missing, or of the
    wrong type: "42" for an ``int``) raises ``ToolArgumentError`` naming what is wrong, instead
    of a ``TypeError`` retried as if the tool had failed and held against its health."""
    defaulted = _defaulted_fields(signature)  # read once: every executed step calls check

    def check(arguments: Mapping[str, Any]) -> Mapping[str, Any]:
        arguments = {k: arguments[k] for k in _passed(signature, parameters, arguments)}
        refused = _refusal(signature, parameters, arguments)
        if refused is not None:
            raise ToolArgumentError(
                f"{refused.why} (pass it in inputs, by parameter name, or plan a step that "
                "produces it)",
                tool=tool,
                missing=refused.missing,
                sent=False,
            )
        wrong = _wrong_value(values, arguments) if values is not None else None
        if wrong is not None:
            raise ToolArgumentError(wrong, tool=tool, sent=False)
        left_out = [n for n in defaulted if n not in arguments]
        if not left_out:
            return arguments
        filled = {n: defaulted[n].get_default(call_default_factory=True) for n in left_out}
        return {**filled, **arguments}

    if inspect.iscoroutinefunction(fn):

        async def call_async(arguments: Mapping[str, Any]) -> Any:
            return as_plain_shape(await fn(**check(arguments)))

        return call_async

    def call(arguments: Mapping[str, Any]) -> Any:
        return as_plain_shape(fn(**check(arguments)))

    return call


def _defaulted_fields(signature: inspect.Signature | None) -> dict[str, FieldInfo]:
    """The parameters written ``status: str = Field(default="open")``, whose default a call
    leaving them out is given: without it, a plain function had got the ``FieldInfo`` itself
    (pydantic's ``validate_call`` fills them; a bare call does not)."""
    if signature is None:
        return {}
    return {
        p.name: p.default
        for p in signature.parameters.values()
        if isinstance(p.default, FieldInfo) and not p.default.is_required()
    }


def as_plain_shape(output: Any) -> Any:
    """A function's output in the shape its outputs schema describes: a dataclass or a pydantic
    model as a dict of its fields, a tuple or a set as a list, an enum member as its value,
    recursively. Why: the schema is made from the return annotation in that shape, and later
    steps read fields by name; a ``Refund`` the function returned as its annotation says
    failed both. Other values (a ``Decimal``, a ``datetime``, a dict's int keys) are passed on
    as they are, for the functions after it to use; the executor checks their JSON form."""
    if isinstance(output, dict):
        return {key: as_plain_shape(value) for key, value in output.items()}
    if isinstance(output, list | tuple | set | frozenset):
        return [as_plain_shape(value) for value in output]
    if isinstance(output, Enum):
        return as_plain_shape(output.value)
    if isinstance(output, BaseModel):
        return {name: as_plain_shape(value) for name, value in output}
    if dataclasses.is_dataclass(output) and not isinstance(output, type):
        return {f.name: as_plain_shape(getattr(output, f.name)) for f in dataclasses.fields(output)}
    return output


def _passed(
    signature: inspect.Signature | None, parameters: frozenset[str], names: Collection[str]
) -> Collection[str]:
    """The ``names`` a function is called with. A function no skill describes (a node of a
    graph you gave) gets every input of the run, so it takes those its signature names (all,
    with ``**kwargs``); a skill's function gets its skill's parameters, checked as they are."""
    if parameters or signature is None:
        return names
    accepted = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted):
        return names
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    takes = {p.name for p in accepted if p.kind in keyword}
    return [n for n in names if n in takes]


def _signature(fn: ToolFunction) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have none: the call itself will tell
        return None


def _refusal(
    signature: inspect.Signature | None, parameters: frozenset[str], names: Collection[str]
) -> ArgumentRefusal | None:
    """Why a function of ``signature`` cannot be called with keyword arguments ``names`` (None
    when it can, or when there is no signature to tell), and which of the skill's
    ``parameters`` it lacks."""
    if signature is None:
        return None
    # ``owner: str = Field(description=...)``: required, though the signature shows a default
    # (the FieldInfo, which the function had been called with).
    unset = [
        p.name
        for p in signature.parameters.values()
        if isinstance(p.default, FieldInfo) and p.default.is_required() and p.name not in names
    ]
    if unset:
        missing = tuple(n for n in unset if n in parameters)
        return ArgumentRefusal(f"missing a required argument: {unset[0]!r}", missing)
    try:
        signature.bind(**dict.fromkeys(names))
    except TypeError as exc:
        keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        unfilled = (
            p.name
            for p in signature.parameters.values()
            if p.kind in keyword and p.default is p.empty and p.name not in names
        )
        return ArgumentRefusal(str(exc), tuple(n for n in unfilled if n in parameters))
    return None
