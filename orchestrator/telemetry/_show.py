"""Read OTLP JSON-lines trace files and render each trace as an indented tree with timings and
the decisions (span events) made along the way: what ``orchestrator trace show`` prints.

Lines holding metrics or logs (the Collector writes all signals to one file) are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator._files import read_json_lines
from orchestrator.errors import TelemetryError

__all__ = ["SpanRecord", "read_spans", "render_traces"]

# Attributes worth a glance in the tree; the rest stay in the file.
_SHOWN_ATTRIBUTES = (
    "gen_ai.tool.call.id",
    "orchestrator.attempt",
    "error.type",
    "gen_ai.request.model",
    "gen_ai.provider.name",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "orchestrator.reasoning_effort",
    "orchestrator.effort",
    "orchestrator.tokens",
    "orchestrator.task",
    "orchestrator.outcome",
    "orchestrator.silent_failures",
    "gen_ai.retrieval.query.text",
    "orchestrator.matches",
)


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


def _value(any_value: Mapping[str, Any]) -> Any:
    """An OTLP/JSON ``AnyValue`` as a Python value."""
    if "stringValue" in any_value:
        return any_value["stringValue"]
    if "boolValue" in any_value:
        return bool(any_value["boolValue"])
    if "intValue" in any_value:
        return int(any_value["intValue"])
    if "doubleValue" in any_value:
        return float(any_value["doubleValue"])
    if "arrayValue" in any_value:
        return [_value(v) for v in any_value["arrayValue"].get("values", [])]
    if "kvlistValue" in any_value:
        return _attributes(any_value["kvlistValue"].get("values", []))
    return None


def _attributes(items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {item["key"]: _value(item.get("value", {})) for item in items}


_STATUS = {0: "unset", 1: "ok", 2: "error", "STATUS_CODE_OK": "ok", "STATUS_CODE_ERROR": "error"}


def read_spans(path: str | Path) -> list[SpanRecord]:
    """Every span in an OTLP JSON-lines file, in file order.

    Raises
    ------
    TelemetryError
        The file cannot be read, or a line is not an OTLP/JSON export request.
    """
    source = Path(path)
    spans: list[SpanRecord] = []
    for number, request in read_json_lines(source, TelemetryError, "the trace file"):
        try:
            for resource_spans in request.get("resourceSpans", []):
                resource = _attributes(resource_spans.get("resource", {}).get("attributes", []))
                for scope_spans in resource_spans.get("scopeSpans", []):
                    for item in scope_spans.get("spans", []):
                        spans.append(_span(item, str(resource.get("service.name", ""))))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise TelemetryError(
                f"{source}: line {number}: expected an OTLP/JSON export request "
                f"(one per line, as the Collector file exporter writes): {exc}"
            ) from exc
    return spans


def _span(item: Mapping[str, Any], service: str) -> SpanRecord:
    status = item.get("status", {}).get("code", 0)
    return SpanRecord(
        trace_id=item["traceId"],
        span_id=item["spanId"],
        parent_id=item.get("parentSpanId", ""),
        name=item["name"],
        start_ns=int(item["startTimeUnixNano"]),
        end_ns=int(item["endTimeUnixNano"]),
        status=_STATUS.get(status, str(status)),
        attributes=_attributes(item.get("attributes", [])),
        events=[
            (int(e.get("timeUnixNano", 0)), e["name"], _attributes(e.get("attributes", [])))
            for e in item.get("events", [])
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
        for s in sorted(members, key=lambda s: (s.start_ns, s.end_ns)):
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

        def walk(node: SpanRecord, depth: int, t0: int = t0) -> None:
            pad = "  " * depth
            status = "" if node.status in ("unset", "ok") else f"  [{node.status}]"
            shown = [
                f"{key.split('.')[-1]}={_format(node.attributes[key])}"
                for key in _SHOWN_ATTRIBUTES
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
    return out
