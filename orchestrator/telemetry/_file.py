"""The file exporter: OTLP JSON lines, one export request per line, as the OpenTelemetry
Collector's file exporter writes them (so ``otelcol`` and our ``trace show`` read the same files).

Lines go to a temporary file beside the target, which replaces it only when the exporters shut
down: a reader never sees a half-written trace.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from orchestrator._files import keep_mode, unwritable_because
from orchestrator.errors import TelemetryError

__all__ = ["OtlpJsonLines", "OtlpJsonMetricExporter", "OtlpJsonSpanExporter", "otlp_json"]

# OTLP/JSON writes trace and span ids as hex, not as protobuf JSON's base64.
_HEX_ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId"})


def _hex_ids(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: base64.b64decode(value).hex()
            if key in _HEX_ID_FIELDS and isinstance(value, str)
            else _hex_ids(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids(v) for v in node]
    return node


def otlp_json(message: Message) -> str:
    """One OTLP export request as a line of OTLP/JSON: lowerCamelCase keys, hex ids and enums
    as integers, as the OTLP specification requires."""
    as_dict = MessageToDict(message, preserving_proto_field_name=False, use_integers_for_enums=True)
    return json.dumps(_hex_ids(as_dict), separators=(",", ":"))


class OtlpJsonLines:
    """One output file shared by the span and metric exporters: lines go to a temporary file in
    the same folder, which ``commit`` renames onto the target once both exporters are done."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        directory = self.path.parent
        problem = unwritable_because(self.path)
        if problem is not None:
            # Found out only at commit, the run's result was lost after its tools had run; and
            # a file where a folder should be read as "File exists".
            raise TelemetryError(f"cannot write the trace file: {problem}")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise TelemetryError(
                f"{self.path}: cannot write the trace file ({exc.strerror})"
            ) from exc
        self._temp = Path(temp)
        self._file = os.fdopen(fd, "w", encoding="utf-8")

    def write(self, message: Message) -> None:
        line = otlp_json(message) + "\n"
        with self._lock:
            if not self._file.closed:
                self._file.write(line)

    def commit(self) -> None:
        """Move the finished file into place (the exporters must be shut down first)."""
        with self._lock:
            if self._file.closed:
                return
            try:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
                keep_mode(self.path, self._temp)
                os.replace(self._temp, self.path)
            except OSError as exc:
                self._file.close()
                self._temp.unlink(missing_ok=True)
                raise TelemetryError(
                    f"{self.path}: cannot write the trace file ({exc.strerror})"
                ) from exc


class OtlpJsonSpanExporter(SpanExporter):
    """Writes each batch of spans as one ``ExportTraceServiceRequest`` line."""

    def __init__(self, lines: OtlpJsonLines) -> None:
        self.lines = lines

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if spans:
            self.lines.write(encode_spans(spans))
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self) -> None:
        pass  # the file is committed by tracing() once metrics are written too


class OtlpJsonMetricExporter(MetricExporter):
    """Writes each metrics collection as one ``ExportMetricsServiceRequest`` line."""

    def __init__(self, lines: OtlpJsonLines) -> None:
        super().__init__()
        self.lines = lines

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        if metrics_data.resource_metrics:
            self.lines.write(encode_metrics(metrics_data))
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass  # the file is committed by tracing() once spans are written too
