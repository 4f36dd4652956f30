"""Turn skills and queries into the text each retriever indexes.

Tool names are identifiers (``getCurrentWeather``, ``stripe.refunds.create``), so tokens are split
on case and punctuation before stemming; otherwise BM25 never matches "current weather" to them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

from orchestrator.catalog import Skill

__all__ = ["SkillText", "field_tokens", "identifier_words", "skill_text", "stems", "tokenize"]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORDS = frozenset(STOPWORDS_EN_PLUS)
_STEMMER = Stemmer.Stemmer("english")


def identifier_words(identifier: str) -> str:
    """``"ChaDri.change_drink"`` -> ``"Cha Dri change drink"``."""
    spaced = _CAMEL.sub(" ", identifier)
    return " ".join(_WORD.findall(spaced))


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    stemmed: str = _STEMMER.stemWord(word)
    return stemmed


# Letters and digits mixed in three or more runs ("8f2a", "123e4567", "dQw4w9WgXcQ"); ASCII
# classes, as made-up ids are, because the Unicode ones made tokenizing twice as slow.
_VALUE_PART = re.compile(r"\d[a-zA-Z]+\d|[a-zA-Z]\d+[a-zA-Z]")
# A run joined by "_", "-" or "." ("svc_8f2a", "pi_3MtwBw."): a value goes whole.
_JOINED = re.compile(r"[\w.-]+", re.UNICODE)
# A number of two digits or more with a unit ("440Hz", "10cm"; "3d" and "4k" stay words).
_NUMBER_UNIT = re.compile(r"(?<![^\W_])(\d{2,})([a-zA-Z]+)(?![^\W_])")


def _without_values(match: re.Match[str]) -> str:
    joined = match.group(0)
    return " " if _VALUE_PART.search(joined) else joined


def _words(text: str) -> list[str]:
    """The words of ``text`` in lower case, split on case and punctuation, without made-up
    values: an id like ``svc_8f2a`` (in a query, or as an example in a parameter's description)
    matches no word of what a tool does, and when a description's example id met the same id in
    a query, BM25's weight for the rare token ranked that tool first. The whole joined run goes,
    so its prefix ("svc") is not left to match either. Letters then digits ("sha256", "ipv6")
    still read as words. A number with a unit ("440Hz", "10cm") is split into the number and the
    unit, as descriptions write them."""
    if _VALUE_PART.search(text):
        text = _JOINED.sub(_without_values, text)
    text = _NUMBER_UNIT.sub(r"\1 \2", text)
    return _WORD.findall(_CAMEL.sub(" ", text).lower())


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed word tokens without stopwords, identifiers split into words."""
    return [_stem(w) for w in _words(text) if w not in _STOPWORDS and len(w) > 1]


def stems(text: str) -> frozenset[str]:
    """The stemmed words of ``text``, stopwords kept ("turn on" and "turn off" differ)."""
    return frozenset(_stem(w) for w in identifier_words(text).lower().split())


def field_tokens(text: str) -> list[str]:
    """As :func:`tokenize`, but a person noun stays apart from what it does: the stemmer makes
    "interviewer" "interview" and "approver" "approv", and an ``interviewer_id`` is no
    ``interview_id``. Such a noun (plural too) is its stem marked ``_er``. For comparing field
    names and the task words that name them; routing keeps :func:`tokenize`."""
    tokens = []
    for word in _words(text):
        if word in _STOPWORDS or len(word) <= 1:
            continue
        stem = _stem(word)
        single = word[:-1] if word.endswith(("ers", "ors")) else word
        if single.endswith(("er", "or")) and not stem.endswith(("er", "or")):
            stem += "_er"
        tokens.append(stem)
    return tokens


def _schema_lines(schema: dict[str, Any] | None, prefix: str = "") -> Iterable[str]:
    if not isinstance(schema, dict):
        return
    props = schema.get("properties")
    if not isinstance(props, dict):
        return
    for name, spec in props.items():
        spec = spec if isinstance(spec, dict) else {}
        desc = str(spec.get("description", "")).strip()
        enum = spec.get("enum")
        extra = f" (one of {', '.join(map(str, enum[:12]))})" if isinstance(enum, list) else ""
        yield f"{prefix}{identifier_words(str(name))}: {desc}{extra}".rstrip(": ")
        if spec.get("type") == "object" or "properties" in spec:
            yield from _schema_lines(spec, prefix=f"{prefix}{name}.")


@dataclass(frozen=True, slots=True)
class SkillText:
    """The texts of one skill: ``head`` says what it is; ``signature`` adds its parameters;
    ``passages`` are what the dense index embeds (the signature first, then chunks of the output
    schema and body); ``full`` is every field, body included."""

    head: str
    signature: str
    passages: tuple[str, ...]
    full: str


def _chunks(words: Sequence[str], size: int, overlap: int, limit: int) -> list[str]:
    step = max(1, size - overlap)
    out = []
    for start in range(0, len(words), step):
        out.append(" ".join(words[start : start + size]))
        if start + size >= len(words) or len(out) >= limit:
            break
    return out


def skill_text(skill: Skill, *, chunk_words: int, chunk_overlap: int, max_chunks: int) -> SkillText:
    """Cut a skill into indexed text. Long bodies become several chunks rather than being
    truncated, each prefixed with the skill's name so a chunk still says whose it is."""
    name = identifier_words(skill.name)
    head = f"{name}. {skill.description}".strip()
    params = "; ".join(_schema_lines(skill.parameters))
    outputs = "; ".join(_schema_lines(skill.outputs))
    tags = ", ".join(skill.tags)
    detail_parts = [
        f"Parameters: {params}" if params else "",
        f"Returns: {outputs}" if outputs else "",
        f"Tags: {tags}" if tags else "",
        skill.body,
    ]
    detail = "\n".join(p for p in detail_parts if p)
    signature = f"{head} {('Parameters: ' + params) if params else ''}".strip()
    passages = [signature]
    if skill.body or outputs:
        body_words = "\n".join(
            p for p in (f"Returns: {outputs}" if outputs else "", skill.body) if p
        )
        passages.extend(
            f"{name}: {chunk}"
            for chunk in _chunks(body_words.split(), chunk_words, chunk_overlap, max_chunks)
        )
    full = f"{name} {name} {skill.description}\n{detail}"
    return SkillText(head=head, signature=signature, passages=tuple(passages), full=full)
