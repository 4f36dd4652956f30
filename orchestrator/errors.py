"""Every exception orchestrator raises, under one base class.

Messages name the file, the field (line number or JSON pointer) and what was expected, so a user
can fix their input without reading our source.

    OrchestratorError
    ├── CatalogError            a catalog file or object is malformed
    │   └── DuplicateSkillError two skills share an id and deduplication was not asked for
    ├── IndexFormatError        an on-disk index is missing, corrupt or from another version
    ├── PolicyError             a policy file is malformed
    ├── ModelLoadError          an embedding or reranking model cannot be loaded offline
    ├── TrainingError           labelled training data is malformed, or too little to train on
    ├── GraphError              a tool-graph definition is malformed
    ├── NoPathError             no healthy path from the current state to the goal
    ├── PlanningError           a task cannot be planned (nothing fits, or a bad decomposition)
    │   ├── UsageFormatError    a saved usage model (past runs) is malformed
    │   └── UnknownInputError   an input given names no input of any skill in the catalog
    ├── ScenarioError           a scenario file is malformed
    ├── EscalationError         the escalation handler failed or answered nonsense
    │   └── LLMError            an LLM call failed or its answer is malformed
    │       └── UnmappedEffortError the policy has no knob for the effort asked: not sent
    ├── EffortError             an effort replay file or a saved effort router is malformed
    ├── TelemetryError          tracing cannot be set up, or a trace file cannot be read
    ├── McpServerError          an MCP server did not start or list its tools
    └── ToolFailure             one call of a tool failed; the executor classifies and heals it
        ├── ToolUnavailableError    the tool is down or unreachable
        │   ├── ConnectionLostError the connection dropped mid-call; it may have taken effect
        │   ├── ToolNotServedError  nothing in this run can call the tool (no function given)
        │   └── ToolBusyError       its earlier, abandoned call still runs (a thread): not called
        ├── ToolCallError           the tool ran and reported an error
        │   ├── ToolAnswerError     its answer is an error (MCP isError): the same if called again
        │   ├── AnswerCutShortError an LLM step's answer hit the token limit: not a higher effort
        │   └── ProviderError       the service behind it failed (HTTP 5xx): same effort again
        ├── ToolArgumentError       the arguments do not fit the tool (one missing, one unknown)
        ├── ToolTimeoutError        the call outlived its step timeout
        ├── MalformedOutputError    the output does not match the tool's outputs schema
        ├── RateLimitedError        the tool refused the call for now (may carry retry_after)
        └── CircuitOpenError        the tool's breaker is open, so it was not called
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

__all__ = [
    "AnswerCutShortError",
    "CatalogError",
    "CircuitOpenError",
    "ConnectionLostError",
    "DuplicateSkillError",
    "EffortError",
    "EscalationError",
    "GraphError",
    "IndexFormatError",
    "LLMError",
    "MalformedOutputError",
    "McpServerError",
    "ModelLoadError",
    "NoPathError",
    "OrchestratorError",
    "PlanningError",
    "PolicyError",
    "ProviderError",
    "RateLimitedError",
    "ScenarioError",
    "TelemetryError",
    "ToolAnswerError",
    "ToolArgumentError",
    "ToolBusyError",
    "ToolCallError",
    "ToolFailure",
    "ToolNotServedError",
    "ToolTimeoutError",
    "ToolUnavailableError",
    "TrainingError",
    "UnknownInputError",
    "UnmappedEffortError",
    "UsageFormatError",
]


class OrchestratorError(Exception):
    """Base class of every error orchestrator raises on purpose."""


def _located(source: str | None, where: str | None, message: str) -> str:
    parts = [p for p in (source, where) if p]
    return f"{': '.join(parts)}: {message}" if parts else message


class CatalogError(OrchestratorError):
    """A catalog file or object is malformed.

    ``source`` is the file (or a description of the object), ``where`` a line number ("line 12")
    or a JSON pointer ("/paths/~1pets/get/operationId").
    """

    def __init__(self, message: str, *, source: str | None = None, where: str | None = None):
        self.source = source
        self.where = where
        self.reason = message
        super().__init__(_located(source, where, message))


class DuplicateSkillError(CatalogError):
    """Two skills share an id and deduplication was not asked for."""


class IndexFormatError(OrchestratorError):
    """An on-disk index is missing, corrupt or was written by an incompatible version."""


class PolicyError(OrchestratorError):
    """A policy file is malformed."""


class ModelLoadError(OrchestratorError):
    """An embedding or reranking model cannot be loaded from local files."""


class TrainingError(OrchestratorError):
    """Labelled training data is malformed, names unknown skills, or is too little to train on."""


class GraphError(OrchestratorError):
    """A tool-graph definition is malformed."""


class NoPathError(OrchestratorError):
    """No healthy path leads from the current state to the goal."""


class PlanningError(OrchestratorError):
    """A task cannot be planned: no skill fits it, or the decomposer answered nonsense."""


class ScenarioError(OrchestratorError):
    """A scenario file is malformed."""


class EscalationError(OrchestratorError):
    """The escalation handler failed or returned an answer that cannot be applied."""


class ToolFailure(OrchestratorError):
    """One call of a tool failed; ``tool`` names it. The executor classifies, retries, reroutes.

    ``tokens`` is what a reasoning call spent before failing (a wrong or shallow answer), when it
    says: the executor's effort router learns from it (see ``EffortInvoker``).
    ``effort_may_help`` says whether the executor's effort router may retry it at a higher
    reasoning effort (for a failure of the kind more reasoning can mend: an error, a malformed
    answer); a kind set false is retried at the same effort.
    """

    effort_may_help: ClassVar[bool] = True

    def __init__(self, message: str, *, tool: str | None = None, tokens: float | None = None):
        self.tool = tool
        self.tokens = tokens
        self.reason = message
        super().__init__(f"{tool}: {message}" if tool else message)


class ToolUnavailableError(ToolFailure):
    """The tool is down or unreachable; retrying now will not help."""


class ToolNotServedError(ToolUnavailableError):
    """Nothing the run was given can call the tool (no function registered for it, no invoker
    serving it): the run goes on without it, and the tool's health is not blamed, since no
    call reached it."""


class ToolBusyError(ToolUnavailableError):
    """The tool's earlier call, abandoned by a timeout or no longer needed, still runs in a
    thread that cannot be stopped: it is not called again meanwhile (the step is rerouted), and
    its health is not blamed, since no call reached it."""


class ToolCallError(ToolFailure):
    """The tool ran and reported an error; it may succeed if called again."""


class ToolAnswerError(ToolCallError):
    """The tool answered the call with an error of its own (an MCP ``isError`` result, a
    LangChain tool's error message): a missing file, a record not found. The same arguments
    get the same answer, so it is not retried, and the tool works, so its health is not
    blamed; the step is rerouted to its alternatives."""


class AnswerCutShortError(ToolCallError):
    """A step's LLM answer was cut at the token limit, so it is not the whole answer. Retried,
    but not at a higher effort: a higher one spends more of the same limit on reasoning before
    it answers, and made the cut likelier. ``before_answer`` says the limit was spent before
    any answer text (all of it on reasoning): that is retried one effort lower, where there is
    one, since the same effort had spent it the same way again."""

    effort_may_help = False

    def __init__(
        self,
        message: str,
        *,
        tool: str | None = None,
        tokens: float | None = None,
        before_answer: bool = False,
    ):
        super().__init__(message, tool=tool, tokens=tokens)
        self.before_answer = before_answer


class ProviderError(ToolCallError):
    """The service behind a step failed to serve the call: an LLM provider answered with a
    server error (HTTP 500, 502, 504, ...) or dropped the connection before answering. Retried,
    at the same effort: the fault is the server's, and thinking harder does not mend it."""

    effort_may_help = False


class ToolArgumentError(ToolFailure):
    """The call's arguments do not fit the tool (a required one missing, an unknown one given):
    the same call would fail again, so it is not retried, and the tool's health is not blamed.

    ``missing`` names the required arguments the call lacked, where the tool says which: the
    values an escalation handler may provide, after which the step is called again. ``sent``
    is false when the arguments were refused before any call went out (checked against the
    function's signature or the tool's schema): nothing reached the tool, so nothing is billed.
    """

    def __init__(
        self,
        message: str,
        *,
        tool: str | None = None,
        missing: Iterable[str] = (),
        sent: bool = True,
    ):
        self.missing = tuple(missing)
        self.sent = sent
        super().__init__(message, tool=tool)


class ToolTimeoutError(ToolFailure):
    """The call outlived its step timeout and was cancelled."""


class MalformedOutputError(ToolFailure):
    """The tool answered, but its output does not match the tool's ``outputs`` schema."""


class RateLimitedError(ToolFailure):
    """The tool refused the call for now; ``retry_after`` (seconds) says when to try again."""

    def __init__(self, message: str, *, tool: str | None = None, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(message, tool=tool)


class CircuitOpenError(ToolFailure):
    """The tool's circuit breaker is open, so the call was refused without reaching the tool."""


class TelemetryError(OrchestratorError):
    """Tracing cannot be set up (exporter, protocol, file), or a trace file cannot be read."""


# --- MCP (issue 8) ---


class ConnectionLostError(ToolUnavailableError):
    """The connection to the tool dropped mid-call, so the call may already have taken effect."""


class McpServerError(OrchestratorError):
    """An MCP server did not start or list its tools; the message names it, its command and the
    tail of its stderr."""

    def __init__(self, server: str, command: str, reason: str, stderr_tail: str = ""):
        self.server = server
        self.command = command
        self.reason = reason
        self.stderr_tail = stderr_tail
        tail = f"; stderr: {stderr_tail}" if stderr_tail else ""
        super().__init__(f"MCP server {server!r} ({command}): {reason}{tail}")


class LLMError(EscalationError):
    """An LLM call failed (HTTP, timeout) or answered something unreadable.

    A subclass of ``EscalationError`` because escalation was the first LLM caller and handles it
    as a failed escalation; other callers catch ``LLMError`` itself. What went wrong is kept for
    the executor, which treats a step calling an LLM as any tool: ``status`` (the HTTP status
    answered), ``retry_after`` (seconds, from the answer's ``Retry-After``), ``timed_out`` (no
    answer in time: the request may have been served), ``unreachable`` (no connection was
    made) and ``dropped`` (the connection broke before the answer was read). ``answer`` is the
    ``Completion`` read before failing, when the model did answer but refused, was cut at the
    token limit or gave no usable text: its tokens were billed, and tracing records them.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        timed_out: bool = False,
        unreachable: bool = False,
        dropped: bool = False,
        answer: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.timed_out = timed_out
        self.unreachable = unreachable
        self.dropped = dropped
        self.answer = answer  # an orchestrator.llm.Completion (not imported: llm imports us)


class UnmappedEffortError(LLMError):
    """The call was not sent: the client's ``llm`` policy section has no knob for the effort
    asked. A configuration error, so the same call fails again at that effort: a step failing
    so is not retried, and the model's health is not blamed, since no request reached it."""


class EffortError(OrchestratorError):
    """An effort replay file or a saved effort router is malformed or from another version."""


class UsageFormatError(PlanningError):
    """A saved usage model (what past runs called, in which order) is malformed or missing."""


class UnknownInputError(PlanningError):
    """An input given to ``plan`` or ``run`` names no input of any skill in the catalog (a
    misspelled ``order_idd``, a ``skill.param`` of no such skill): it would be bound to
    nothing, so a step would run without it or the run would stop for want of it."""
