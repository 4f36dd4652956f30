"""Spans built from the decision log: one trace per task, a span per executed step, and the
reroutes, retries, escalations and demotions as events carrying their reason and new path.

The executor knows nothing of tracing: ``traced_run`` subscribes a listener to the run's
``DecisionLog`` and turns each decision into spans as it is recorded.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from orchestrator.execution._log import is_escalation_retry
from orchestrator.telemetry._metrics import Instruments, instruments
from orchestrator.telemetry._state import attribute_value, current_tracer

if TYPE_CHECKING:
    # Types only: routing imports this package, and must not pull the executor in with it.
    from orchestrator.execution import Decision, DecisionLog, Executor, RunResult

__all__ = ["DecisionSpans", "TracedRun", "span", "traced_run"]

# GenAI semantic-convention attribute names (opentelemetry-semantic-conventions, gen_ai_attributes).
OPERATION = "gen_ai.operation.name"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_TYPE = "gen_ai.tool.type"
ERROR_TYPE = "error.type"

# The exception class each failure kind is raised as (orchestrator.errors), for exception events.
_EXCEPTION_TYPES = {
    "down": "orchestrator.errors.ToolUnavailableError",
    "error": "orchestrator.errors.ToolCallError",
    "timeout": "orchestrator.errors.ToolTimeoutError",
    "malformed": "orchestrator.errors.MalformedOutputError",
    "rate_limited": "orchestrator.errors.RateLimitedError",
    "bad_arguments": "orchestrator.errors.ToolArgumentError",
    "tool_error": "orchestrator.errors.ToolAnswerError",
}
_CIRCUIT_OPEN = "orchestrator.errors.CircuitOpenError"


def _attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: attribute_value(v) for k, v in values.items() if v is not None}


def _orchestrator_attributes(data: Mapping[str, Any]) -> dict[str, Any]:
    return _attributes({f"orchestrator.{k}": v for k, v in data.items()})


@contextmanager
def span(
    name: str,
    attributes: Mapping[str, Any] | None = None,
    /,
    *,
    kind: trace.SpanKind = trace.SpanKind.INTERNAL,
    **short: Any,
) -> Iterator[Span]:
    """A span around a block, child of the current span; a no-op when tracing is off.

    ``attributes`` are set under their own names (``{"gen_ai.operation.name": "retrieval"}``);
    other keyword arguments are shorthand for ``orchestrator.<name>`` attributes; ``kind`` is
    the span kind (``CLIENT`` for a call to a remote model). An exception leaving the block is
    recorded on the span and sets its status to error.

    Examples
    --------
    >>> with span("plan", steps=3) as s:  # attribute orchestrator.steps = 3
    ...     s.set_attribute("orchestrator.plan.cost", 1.5)
    """
    tracer = current_tracer()
    if tracer is None:
        yield trace.INVALID_SPAN
        return
    merged = _attributes(attributes or {})
    merged.update(_orchestrator_attributes(short))
    with tracer.start_as_current_span(name, kind=kind, attributes=merged) as current:
        yield current


class TracedRun:
    """The root span of one traced run; ``set_result`` adds how it ended."""

    def __init__(self, root: Span, recorder: DecisionSpans | None) -> None:
        self.span = root
        self.recorder = recorder

    def set_result(self, result: RunResult) -> None:
        self.set_outcome(
            result.outcome, goal=result.goal, path=result.path, llm_calls=result.llm_calls
        )

    def set_outcome(
        self,
        outcome: str,
        *,
        goal: str | None = None,
        path: Sequence[str] = (),
        llm_calls: int = 0,
    ) -> None:
        """How the run ended, also when it ended before running anything (nothing fits, an
        input is missing): such a root had looked like a healthy run."""
        if not self.span.is_recording():
            return
        self.span.set_attributes(
            _attributes(
                {
                    "orchestrator.outcome": outcome,
                    "orchestrator.goal": goal,
                    "orchestrator.path": list(path),
                    "orchestrator.llm_calls": llm_calls,
                }
            )
        )
        if outcome in ("escalated", "failed"):
            self.span.set_status(Status(StatusCode.ERROR, f"run {outcome}"))


@contextmanager
def traced_run(
    log: DecisionLog,
    task: str = "",
    *,
    workflow: str = "orchestrator",
    new_trace: bool = False,
    call_id: str | None = None,
    executor: Executor | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[TracedRun]:
    """Trace one task: a root span ``invoke_workflow {workflow}``, current for the block (so
    routing, planning and LLM spans made inside nest under it), with every decision recorded on
    ``log`` during the block turned into spans and events below it.

    The root is a child of the current span, if any, so a task stays one trace; ``new_trace``
    starts a fresh trace regardless. ``call_id`` is the ``gen_ai.tool.call.id`` of every step
    (the model's tool call the run answers); otherwise each attempt gets its own. Given the
    ``executor``, each step span also carries its tool's breaker state after the call. Off (no
    work, no listener) when tracing is off.
    """
    tracer = current_tracer()
    if tracer is None:
        yield TracedRun(trace.INVALID_SPAN, None)
        return
    parent = otel_context.Context() if new_trace else None
    root_attributes = {OPERATION: "invoke_workflow", "orchestrator.task": task or None}
    root_attributes.update(attributes or {})
    root = tracer.start_span(
        f"invoke_workflow {workflow}", context=parent, attributes=_attributes(root_attributes)
    )
    recorder = DecisionSpans(tracer, root, instruments(), call_id=call_id, executor=executor)
    log.subscribe(recorder)
    run = TracedRun(root, recorder)
    try:
        with trace.use_span(root, end_on_exit=False):
            yield run
    except BaseException as exc:
        # Stopped mid-run (Ctrl-C, SIGTERM, a cancelled task): the root had looked like a run
        # that was still fine, without an outcome. (An error is recorded by use_span.)
        interrupted = not isinstance(exc, Exception)
        if interrupted and root.is_recording():
            root.set_attribute("orchestrator.outcome", "interrupted")
            root.set_status(Status(StatusCode.ERROR, f"run interrupted: {type(exc).__name__}"))
        recorder.close(ended=not interrupted)
        raise
    finally:
        recorder.close()
        root.end()


class DecisionSpans:
    """A ``DecisionLog`` listener that writes each decision as spans under one root span.

    ``execute`` and ``fail`` entries carry ``duration_ms``, and so does a ``cancel`` that stopped
    a call mid-way, so each attempt's span is opened after the fact at its true start. A failed
    step's span stays open until the failure is answered (retry, reroute, escalation,
    demotion), which is added to it as an event before it ends.
    """

    def __init__(
        self,
        tracer: trace.Tracer,
        root: Span,
        metrics: Instruments | None,
        *,
        call_id: str | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.tracer = tracer
        self.call_id = call_id
        self.executor = executor
        self.root = root
        self.metrics = metrics
        self.context = trace.set_span_in_context(root)
        # A failed attempt's span, kept open for the answer to its failure, and when the
        # attempt itself ended: the span ends then, not when the answer (an LLM asked, say) came.
        self.open_failures: dict[str, tuple[Span, int]] = {}
        self.attempts: Counter[str] = Counter()
        self.calls = 0
        self.decisions: list[Decision] = []
        self.closed = False

    def __call__(self, decision: Decision) -> None:
        if self.closed:
            return
        self.decisions.append(decision)
        action = decision.action
        if action in ("execute", "fail"):
            self._step(decision)
            return
        if action == "cancel" and "duration_ms" in decision.data:
            self._step(decision)  # a call stopped mid-way: its span, then the decision below
        attributes = _orchestrator_attributes(
            {"tool": decision.tool, "reason": decision.reason, **decision.data}
        )
        event = f"orchestrator.{action}"
        if action == "reroute":
            self.attempts[decision.tool] = 0
        elif action == "complete":
            self.attempts.clear()
        pending = self.open_failures.pop(decision.tool, None)
        if pending is not None:
            pending[0].add_event(event, attributes)
            pending[0].end(end_time=pending[1])
        if action in ("escalate", "demote", "complete"):
            # Every failure is now answered (or the run is over): close what is still open.
            for other, ended in self.open_failures.values():
                other.add_event(event, attributes)
                other.end(end_time=ended)
            self.open_failures.clear()
        if pending is None or action not in ("retry", "reroute"):
            # A step's own answer stays on its span; run-level decisions go on the root.
            self.root.add_event(event, attributes)
        if self.metrics is not None:
            if action in ("reroute", "retry") and not is_escalation_retry(decision):
                counter = self.metrics.reroutes if action == "reroute" else self.metrics.retries
                counter.add(1, {TOOL_NAME: decision.tool})
            elif action == "escalate":
                # A run-level count: an escalation names a goal or the whole task, and a label
                # per task text made a series per task (and put what users wrote in metrics).
                self.metrics.escalations.add(1)

    def _step(self, decision: Decision) -> None:
        tool = decision.tool
        previous = self.open_failures.pop(tool, None)
        if previous is not None:  # tried again without a logged answer: close the old attempt
            previous[0].end(end_time=previous[1])
        self.attempts[tool] += 1
        self.calls += 1
        data = dict(decision.data)
        duration_ms = float(data.pop("duration_ms", 0.0) or 0.0)
        call_id = data.pop("call_id", None) or self.call_id or f"call_{self.calls}"
        kind = data.pop("kind", None)  # written as error.type below
        end_ns = time.time_ns()
        start_ns = end_ns - int(duration_ms * 1e6)
        attributes = {
            OPERATION: "execute_tool",
            TOOL_NAME: tool,
            TOOL_CALL_ID: call_id,
            TOOL_TYPE: "function",
            "orchestrator.attempt": self.attempts[tool],
        }
        attributes.update(_orchestrator_attributes(data))
        breaker = self.executor.breakers.get(tool) if self.executor is not None else None
        if breaker is not None:
            # The listener runs right after the executor updated the breaker for this call.
            attributes["orchestrator.breaker.state"] = breaker.state
        step = self.tracer.start_span(
            f"execute_tool {tool}",
            context=self.context,
            kind=trace.SpanKind.INTERNAL,
            attributes=_attributes(attributes),
            start_time=start_ns,
        )
        error_type = None
        if decision.action == "cancel":
            # Stopped by the run (no longer needed, or the run itself stopped): not the tool's
            # error, so no error status; the span shows what ran, for how long, and why it ended.
            attributes = {"orchestrator.reason": decision.reason}
            step.add_event("orchestrator.cancel", attributes, timestamp=end_ns)
            step.end(end_time=end_ns)
            self.attempts[tool] = 0
            return  # a cut call's duration is not the tool's: kept out of the histogram
        if decision.action == "execute":
            step.set_status(Status(StatusCode.OK))
            step.end(end_time=end_ns)
            # A later call of this tool (a later run on the same log) is a new step.
            self.attempts[tool] = 0
        else:
            error_type = str(kind) if kind else "circuit_open"
            step.set_attribute(ERROR_TYPE, error_type)
            step.add_event(
                "exception",
                {
                    "exception.type": _EXCEPTION_TYPES.get(error_type, _CIRCUIT_OPEN),
                    "exception.message": decision.reason,
                },
                timestamp=end_ns,
            )
            step.set_status(Status(StatusCode.ERROR, decision.reason))
            self.open_failures[tool] = (step, end_ns)
        if self.metrics is not None:
            metric_attributes = {TOOL_NAME: tool}
            if error_type is not None:
                metric_attributes[ERROR_TYPE] = error_type
            self.metrics.step_duration.record(duration_ms / 1000.0, metric_attributes)

    def close(self, *, ended: bool = True) -> None:
        """End what is still open and put the run's totals on the root span; ``ended`` is false
        for a run stopped mid-way, whose last failures were still awaiting their answers."""
        if self.closed:
            return
        self.closed = True
        for pending, end_ns in self.open_failures.values():
            pending.end(end_time=end_ns)
        self.open_failures.clear()
        from orchestrator.execution import silent_failures

        silent = silent_failures(self.decisions, ended=ended)
        counts = Counter(d.action for d in self.decisions if not is_escalation_retry(d))
        self.root.set_attributes(
            {
                "orchestrator.steps": self.calls,
                "orchestrator.reroutes": counts["reroute"],
                "orchestrator.retries": counts["retry"],
                "orchestrator.escalations": counts["escalate"],
                "orchestrator.silent_failures": len(silent),
            }
        )
        if self.metrics is not None:
            # Added even when 0, so the series exists and "must stay 0" can be alerted on.
            self.metrics.silent_failures.add(len(silent))
