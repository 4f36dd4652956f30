"""Near-duplicate grouping: functionally equal skills (the same tool from several providers or
community copies) form one group, so they take one slot of the top-k instead of all of them.

Two skills are taken to be functionally equal when they promise the same contract — the same
operation name, or overlapping inputs and outputs — and say similar things. Text similarity
alone does not separate them: two providers' refund tools are worded further apart than a
refund tool and a refund-status tool are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from orchestrator.catalog import Skill
from orchestrator.routing._policy import DuplicatePolicy
from orchestrator.routing._text import identifier_words, stems

__all__ = ["Contract", "contract_of", "group_duplicates", "is_duplicate"]


@dataclass(frozen=True, slots=True)
class Contract:
    """What a skill promises, reduced to comparable token sets."""

    name: frozenset[str]
    parameters: frozenset[str]
    outputs: frozenset[str]
    # Whether it changes nothing, when its catalog says (MCP annotations, the HTTP method).
    read_only: bool | None = None
    # Its HTTP method, for an OpenAPI operation: a resource's POST (create) and PATCH (update)
    # are two operations, not two providers of one.
    method: str | None = None
    # Its MCP server's replica group and program (``metadata["launch"]``, ``["program"]``): one
    # program started otherwise (another folder, another account) answers for other data.
    launch: str | None = None
    program: str | None = None
    # Marked as deprecated (``Skill.deprecated``): it leads no group holding its replacement.
    deprecated: bool = False
    # The words of its name and the first of its description, stemmed, stopwords kept ("on",
    # "off"): what opposite operations (start / stop, encrypt / decrypt) differ by.
    actions: frozenset[str] = frozenset()


def _property_tokens(schema: object) -> frozenset[str]:
    """The stemmed words of a schema's property names, one-letter ones kept: ``x`` and ``y``
    are other inputs, where routing's tokens drop them."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    return stems(" ".join(props)) if isinstance(props, dict) else frozenset()


# Output names that say nothing about what a tool returns: every tool of an MCP filesystem
# server answers ``{content: string}``, yet a directory listing is no file's metadata.
_GENERIC_OUTPUTS = stems(
    "content contents result results text output data response value message status"
)


def _output_tokens(schema: object) -> frozenset[str]:
    """The names of a result's fields and of its records' fields (``results[].url``), but the
    generic ones: what the result is made of."""
    tokens = set(_property_tokens(schema))
    props = schema.get("properties") if isinstance(schema, dict) else None
    for spec in props.values() if isinstance(props, dict) else ():
        record = spec.get("items") if isinstance(spec, dict) else None
        tokens |= _property_tokens(record if isinstance(record, dict) else spec)
    return frozenset(tokens) - _GENERIC_OUTPUTS


# Operations that undo or mirror each other: the same parameters, outputs and nearly the same
# words, yet one must never stand in for the other. Negating prefixes ("lock" / "unlock",
# "connect" / "disconnect", "activate" / "deactivate") are found without a list.
_OPPOSITES = (
    "start stop",
    "start end",
    "begin end",
    "open close",
    "enable disable",
    "encrypt decrypt",
    "encode decode",
    "compress extract",
    "add remove",
    "add delete",
    "create delete",
    "create destroy",
    "insert delete",
    "upload download",
    "import export",
    "buy sell",
    "deposit withdraw",
    "credit debit",
    "grant revoke",
    "approve reject",
    "accept decline",
    "accept reject",
    "allow deny",
    "increase decrease",
    "increment decrement",
    "raise lower",
    "show hide",
    "push pull",
    "on off",
    "up down",
    "in out",
    "login logout",
    "attach detach",
    "join leave",
    "enter exit",
    "next previous",
    "promote demote",
    "upgrade downgrade",
    "maximize minimize",
    "expand collapse",
    "include exclude",
    "undo redo",
    "pause resume",
    "suspend resume",
    "archive restore",
    "freeze thaw",
)
_OPPOSITE_PAIRS = frozenset(
    (a, b) for words in map(stems, _OPPOSITES) for a in words for b in words if a != b
)
_NEGATIONS = ("un", "dis", "de")


def _opposed(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether one skill's action words hold a word whose opposite only the other's hold."""
    ours, theirs = a - b, b - a
    for x in ours:
        for y in theirs:
            if (x, y) in _OPPOSITE_PAIRS:
                return True
            longer, shorter = (x, y) if len(x) > len(y) else (y, x)
            if len(shorter) >= 3 and any(longer == n + shorter for n in _NEGATIONS):
                return True
    return False


def contract_of(skill: Skill) -> Contract:
    first_word = next(iter(skill.description.split()), "")
    return Contract(
        name=_name_words(skill.name),
        parameters=_property_tokens(skill.parameters),
        outputs=_output_tokens(skill.outputs),
        read_only=skill.read_only,
        method=_http_method(skill),
        launch=_text_or_none(skill.metadata.get("launch")),
        program=_text_or_none(skill.metadata.get("program")),
        deprecated=skill.deprecated,
        actions=stems(skill.name) | stems(first_word),
    )


def _name_words(name: str) -> frozenset[str]:
    """A name's words as written, lower-cased: neither stemmed nor short ones dropped, since
    ``rotate_x`` and ``rotate_y``, ``get_user`` and ``get_users`` name other tools, while
    ``getUser`` and ``get_user`` are one name."""
    return frozenset(identifier_words(name).lower().split())


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _http_method(skill: Skill) -> str | None:
    http = skill.metadata.get("openapi")
    method = http.get("method") if isinstance(http, dict) else None
    return method if isinstance(method, str) else None


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def is_duplicate(similarity: float, a: Contract, b: Contract, policy: DuplicatePolicy) -> bool:
    """Whether two skills with text similarity ``similarity`` are near-duplicates.

    Any of: nearly the same text; the same name and the same parameters (one tool served from
    two places); similar text with the same parameters; or the same output contract with
    overlapping parameters and related text (two providers of one operation). Never a skill
    that changes something and one said to change nothing, nor two operations of other HTTP
    methods: a REST resource's ``GET``, ``POST`` and ``PATCH`` share parameters, outputs and
    words, but one cannot stand in for another. Nor opposite operations (``start_vm`` and
    ``stop_vm``, ``encrypt_text`` and ``decrypt_text``), which a failed step healed to. Nor
    siblings of one family (``rotate_x`` and ``rotate_y``; see :func:`_siblings`). Nor
    tools of one MCP program's servers that are not replicas (a filesystem server on another
    folder): they answer for other data.
    """
    for hint in ("read_only", "method"):
        ours, theirs = getattr(a, hint), getattr(b, hint)
        if ours is not None and theirs is not None and ours != theirs:
            return False
    same_program = a.program is not None and a.program == b.program
    if same_program and None not in (a.launch, b.launch) and a.launch != b.launch:
        return False  # one program's servers that are not replicas: other data
    # Opposites are looked for last, in the few pairs otherwise alike: the word comparison
    # costs more than the rest, and grouping runs on every route.
    return (
        _alike(similarity, a, b, policy)
        and not _siblings(a.name, b.name)
        and not _opposed(a.actions, b.actions)
    )


def _siblings(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two names differ in one word each, one letter or digit (``rotate_x`` and
    ``rotate_y``, ``step_1`` and ``step_2``) or one word and its plural (``get_user`` and
    ``get_users``): members of one family, each for its own case. Their descriptions differ
    by as little ("around the X axis"), so text similarity alone groups them."""
    ours, theirs = a - b, b - a
    if len(ours) != 1 or len(theirs) != 1:
        return False
    (x,), (y,) = ours, theirs
    shorter, longer = sorted((x, y), key=len)
    return len(x) == len(y) == 1 or longer in (shorter + "s", shorter + "es")


def _alike(similarity: float, a: Contract, b: Contract, policy: DuplicatePolicy) -> bool:
    """Whether two skills promise the same contract and say similar things (see
    :func:`is_duplicate`), before the hints that keep them apart."""
    if similarity >= policy.similarity:
        return True
    same_parameters = a.parameters == b.parameters
    if same_parameters and a.name == b.name:
        return True
    if same_parameters and similarity >= policy.same_parameters_similarity:
        return True
    return (
        bool(a.outputs and b.outputs)
        and _overlap(a.outputs, b.outputs) >= policy.output_overlap
        and _overlap(a.parameters, b.parameters) >= policy.parameter_overlap
        and similarity >= policy.contract_similarity
    )


def group_duplicates(
    head_vectors: npt.NDArray[np.float32],
    contracts: Sequence[Contract],
    policy: DuplicatePolicy,
) -> list[list[int]]:
    """Group ranked items (best first) into near-duplicate groups, best first within each.

    Item ``i`` joins the first group whose leader it duplicates (see :func:`is_duplicate`), so
    every group is led by its best-ranked member that is not deprecated: a deprecated tool never
    leads a group holding its replacement. ``head_vectors`` must be L2-normalised, one row per
    item in rank order.
    """
    groups: list[list[int]] = []
    leaders: list[int] = []
    for item in range(len(head_vectors)):
        sims = head_vectors[leaders] @ head_vectors[item] if leaders else np.zeros(0)
        for g, leader in enumerate(leaders):
            if is_duplicate(float(sims[g]), contracts[leader], contracts[item], policy):
                groups[g].append(item)
                break
        else:
            leaders.append(item)
            groups.append([item])
    return [sorted(group, key=lambda i: contracts[i].deprecated) for group in groups]
