"""Read OTLP JSON-lines trace files and render each trace as an indented tree with timings and
the decisions (span events) made along the way: what ``orchestrator trace show`` prints.

Lines holding metrics or logs (the Collector writes all signals to one file) are skipped.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator._files import read_json_lines
from orchestrator.catalog._origin import describe_value, json_pointer
from orchestrator.errors import TelemetryError

__all__ = ["SpanRecord", "read_spans", "render_traces"]

# Attributes worth a glance in the tree, by the label shown; the rest stay in the file. The
# label is the name's last word unless that is ambiguous ("name=openai" was the provider).
_SHOWN_ATTRIBUTES = {
    "gen_ai.tool.call.id": "call_id",
    "orchestrator.attempt": "attempt",
    "error.type": "error",
    "gen_ai.request.model": "model",
    "gen_ai.provider.name": "provider",
    "gen_ai.usage.input_tokens": "input_tokens",
    "gen_ai.usage.output_tokens": "output_tokens",
    "orchestrator.reasoning_effort": "reasoning_effort",
    "orchestrator.effort": "effort",
    "orchestrator.tokens": "tokens",
    "orchestrator.task": "task",
    "orchestrator.outcome": "outcome",
    "orchestrator.silent_failures": "silent_failures",
    "gen_ai.retrieval.query.text": "query",
    "orchestrator.matches": "matches",
}


@dataclass
class SpanRecord:
    """One span as read back from a file."""

    trace_id: str
    span_id: str
    parent_id: str
    name: str
    start_ns: int
    end_ns: int
    status: str
    attributes: dict[str, Any]
    events: list[tuple[int, str, dict[str, Any]]]
    service: str = ""
    children: list[SpanRecord] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


# Said after a missing field, so the user knows which format the file was meant to be.
_OTLP = "expected OTLP JSON as the Collector file exporter writes"
_REQUIRED: Any = object()
_Pointer = tuple[str | int, ...]


def _is_integer(value: Any) -> bool:
    # OTLP/JSON writes 64-bit integers (timestamps, intValue) as decimal strings.
    if isinstance(value, str):
        return re.fullmatch(r"-?[0-9]+", value) is not None
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, str):  # "NaN", "Infinity" and decimal strings are valid doubles
        try:
            float(value)
        except ValueError:
            return False
        return True
    return isinstance(value, int | float) and not isinstance(value, bool)


_KINDS: dict[str, Callable[[Any], bool]] = {
    "an object": lambda value: isinstance(value, dict),
    "an array": lambda value: isinstance(value, list),
    "a string": lambda value: isinstance(value, str),
    "true or false": lambda value: isinstance(value, bool),
    "an integer": _is_integer,
    "a number": _is_number,
    "an integer or a status name": lambda value: isinstance(value, str) or _is_integer(value),
}


def _get(
    node: Mapping[str, Any], key: str, at: _Pointer, kind: str, default: Any = _REQUIRED
) -> Any:
    """``node[key]``, checked to be of ``kind`` (a key of ``_KINDS``); a missing key (or a
    null one: protobuf JSON writes unset fields so) is ``default``, or an error naming the
    object that lacks it."""
    if node.get(key) is None:
        if default is _REQUIRED:
            raise TelemetryError(f"{json_pointer(*at)}: missing {key} ({_OTLP})")
        return default
    value = node[key]
    if not _KINDS[kind](value):
        raise TelemetryError(
            f"{json_pointer(*at, key)}: expected {kind}, got {describe_value(value)}"
        )
    return value


def _objects(node: Mapping[str, Any], key: str, at: _Pointer) -> Iterator[tuple[_Pointer, Any]]:
    """The pointer and value of each object in the (optional) array ``node[key]``."""
    for i, item in enumerate(_get(node, key, at, "an array", [])):
        where = (*at, key, i)
        if not isinstance(item, dict):
            raise TelemetryError(
                f"{json_pointer(*where)}: expected an object, got {describe_value(item)}"
            )
        yield where, item


def _value(any_value: Mapping[str, Any], at: _Pointer) -> Any:
    """An OTLP/JSON ``AnyValue`` as a Python value."""
    if "stringValue" in any_value:
        return _get(any_value, "stringValue", at, "a string")
    if "boolValue" in any_value:
        return _get(any_value, "boolValue", at, "true or false")
    if "intValue" in any_value:
        return int(_get(any_value, "intValue", at, "an integer"))
    if "doubleValue" in any_value:
        return float(_get(any_value, "doubleValue", at, "a number"))
    if "arrayValue" in any_value:
        array = _get(any_value, "arrayValue", at, "an object")
        return [_value(v, where) for where, v in _objects(array, "values", (*at, "arrayValue"))]
    if "kvlistValue" in any_value:
        kvlist = _get(any_value, "kvlistValue", at, "an object")
        return _key_values(kvlist, "values", (*at, "kvlistValue"))
    return None


def _key_values(node: Mapping[str, Any], key: str, at: _Pointer) -> dict[str, Any]:
    """The (optional) array of OTLP ``KeyValue`` objects ``node[key]`` as a dict."""
    return {
        _get(item, "key", where, "a string"): _value(
            _get(item, "value", where, "an object", {}), (*where, "value")
        )
        for where, item in _objects(node, key, at)
    }


_STATUS = {
    0: "unset",
    1: "ok",
    2: "error",
    "STATUS_CODE_UNSET": "unset",
    "STATUS_CODE_OK": "ok",
    "STATUS_CODE_ERROR": "error",
}


def read_spans(path: str | Path) -> list[SpanRecord]:
    """Every span in an OTLP JSON-lines file, in file order.

    Raises
    ------
    TelemetryError
        The file cannot be read, or a line is not an OTLP/JSON export request; the message names
        the file, the line and the JSON pointer of the field that is missing or malformed.
    """
    source = Path(path)
    spans: list[SpanRecord] = []
    for number, request in read_json_lines(source, TelemetryError, "the trace file"):
        if not isinstance(request, dict):
            raise TelemetryError(
                f"{source}: line {number}: expected a JSON object with resourceSpans, "
                f"got {describe_value(request)}"
            )
        if not _OTLP_KEYS & request.keys():
            # Another program's JSON lines had read as a trace without spans.
            raise TelemetryError(
                f"{source}: line {number}: not an OTLP export: expected one of "
                f"{', '.join(sorted(_OTLP_KEYS))}, got keys {', '.join(sorted(request)) or 'none'}"
            )
        try:
            spans.extend(_request_spans(request))
        except TelemetryError as exc:
            raise TelemetryError(f"{source}: line {number}: {exc}") from exc
    return spans


# What the lines of a trace file are: OTLP/JSON export requests of spans, metrics or logs.
_OTLP_KEYS = frozenset({"resourceSpans", "resourceMetrics", "resourceLogs"})


def _request_spans(request: Mapping[str, Any]) -> list[SpanRecord]:
    """The spans of one export request; a metrics or logs request has no ``resourceSpans``."""
    spans = []
    for at, resource_spans in _objects(request, "resourceSpans", ()):
        resource = _get(resource_spans, "resource", at, "an object", {})
        service = _key_values(resource, "attributes", (*at, "resource")).get("service.name", "")
        for scope_at, scope_spans in _objects(resource_spans, "scopeSpans", at):
            for span_at, item in _objects(scope_spans, "spans", scope_at):
                spans.append(_span(item, span_at, str(service)))
    return spans


def _span(item: Mapping[str, Any], at: _Pointer, service: str) -> SpanRecord:
    status = _get(item, "status", at, "an object", {})
    code = _get(status, "code", (*at, "status"), "an integer or a status name", 0)
    code = int(code) if _is_integer(code) else code
    trace_id = _get(item, "traceId", at, "a string")
    span_id = _get(item, "spanId", at, "a string")
    parent_id = _get(item, "parentSpanId", at, "a string", "")
    name = _get(item, "name", at, "a string")
    start_ns = int(_get(item, "startTimeUnixNano", at, "an integer"))
    end_ns = int(_get(item, "endTimeUnixNano", at, "an integer"))
    if end_ns < start_ns:
        raise TelemetryError(f"{json_pointer(*at)}: endTimeUnixNano is before startTimeUnixNano")
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        name=name,
        start_ns=start_ns,
        end_ns=end_ns,
        status=_STATUS.get(code, str(code)),
        attributes=_key_values(item, "attributes", at),
        events=[
            (
                int(_get(event, "timeUnixNano", event_at, "an integer", 0)),
                _get(event, "name", event_at, "a string"),
                _key_values(event, "attributes", event_at),
            )
            for event_at, event in _objects(item, "events", at)
        ],
        service=service,
    )


def _event_text(name: str, attributes: Mapping[str, Any]) -> str:
    short = name.removeprefix("orchestrator.")
    if name == "exception":
        return f"exception {attributes.get('exception.type', '')}: " + str(
            attributes.get("exception.message", "")
        )
    parts = [short]
    tool = attributes.get("orchestrator.tool")
    if tool:
        parts.append(str(tool))
    reason = attributes.get("orchestrator.reason")
    text = " ".join(parts) + (f": {reason}" if reason else "")
    path = attributes.get("orchestrator.path")
    if isinstance(path, list) and path:
        text += f"  [path {' > '.join(map(str, path))}]"
    return text


def _format(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _in_the_loop(span: SpanRecord, by_id: Mapping[str, SpanRecord]) -> SpanRecord:
    """The earliest span of the loop ``span``'s parents lead into (``span`` may hang below
    the loop rather than be in it)."""
    seen: list[SpanRecord] = []
    visited: set[int] = set()
    node: SpanRecord | None = span
    while node is not None and id(node) not in visited:
        seen.append(node)
        visited.add(id(node))
        node = by_id.get(node.parent_id)
    if node is None:  # it reaches a root after all
        return span
    loop = seen[next(i for i, s in enumerate(seen) if s is node) :]
    return min(loop, key=lambda s: (s.start_ns, s.end_ns))


def render_traces(spans: list[SpanRecord], *, events: bool = True) -> list[str]:
    """Each trace as lines of an indented tree: offset from the trace start, duration, status,
    a few key attributes, and (``events``) the decisions recorded on each span."""
    by_trace: dict[str, list[SpanRecord]] = defaultdict(list)
    for s in spans:
        s.children = []
        by_trace[s.trace_id].append(s)
    out: list[str] = []
    for trace_id, members in by_trace.items():
        by_id = {s.span_id: s for s in members}
        roots = []
        ordered = sorted(members, key=lambda s: (s.start_ns, s.end_ns))
        for s in ordered:
            parent = by_id.get(s.parent_id)
            if parent is not None and parent is not s:
                parent.children.append(s)
            else:
                roots.append(s)
        t0 = min(s.start_ns for s in members)
        t1 = max(s.end_ns for s in members)
        service = members[0].service
        out.append(
            f"trace {trace_id}  {len(members)} spans  {(t1 - t0) / 1e6:.2f} ms"
            + (f"  service {service}" if service else "")
        )

        walked: set[int] = set()

        def walk(node: SpanRecord, depth: int, t0: int = t0, walked: set[int] = walked) -> None:
            walked.add(id(node))
            pad = "  " * depth
            status = "" if node.status in ("unset", "ok") else f"  [{node.status}]"
            shown = [
                f"{label}={_format(node.attributes[key])}"
                for key, label in _SHOWN_ATTRIBUTES.items()
                if key in node.attributes
            ]
            extra = ("  " + " ".join(shown)) if shown else ""
            out.append(
                f"{pad}{node.name}  +{(node.start_ns - t0) / 1e6:.2f} ms  "
                f"{node.duration_ms:.2f} ms{status}{extra}"
            )
            if events:
                for when, name, attributes in node.events:
                    offset = (when - t0) / 1e6 if when else 0.0
                    out.append(f"{pad}  · +{offset:.2f} ms {_event_text(name, attributes)}")
            for child in node.children:
                walk(child, depth + 1)

        for root in roots:
            walk(root, 1)
        # Spans whose parents form a loop reach no root (they had been dropped, under a
        # header counting them): each loop is cut at its earliest span, shown as a root with
        # the spans below it.
        for s in ordered:
            if id(s) not in walked:
                cut = _in_the_loop(s, by_id)
                parent = by_id.get(cut.parent_id)
                if parent is not None and parent is not cut:
                    parent.children.remove(cut)
                walk(cut, 1)
    return out
