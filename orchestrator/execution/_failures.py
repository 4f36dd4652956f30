"""Classify a failed call: down, error, timeout, malformed output, rate-limited or bad arguments."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from orchestrator.errors import (
    CircuitOpenError,
    ConnectionLostError,
    MalformedOutputError,
    RateLimitedError,
    ToolAnswerError,
    ToolArgumentError,
    ToolBusyError,
    ToolNotServedError,
    ToolTimeoutError,
    ToolUnavailableError,
)

__all__ = [
    "BROKEN_CONNECTION_ERRORS",
    "Failure",
    "FailureKind",
    "classify",
    "missing_inputs",
    "satisfied",
]

# Python's errors for a connection that broke once made (reset, aborted, a pipe closed under a
# write), unlike one refused: the call may have reached the tool and acted, as with
# ``ConnectionLostError``, so it is not repeated unless the tool is safe to repeat.
BROKEN_CONNECTION_ERRORS = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


class FailureKind(StrEnum):
    DOWN = "down"
    ERROR = "error"
    TIMEOUT = "timeout"
    MALFORMED = "malformed"
    RATE_LIMITED = "rate_limited"
    BAD_ARGUMENTS = "bad_arguments"
    TOOL_ERROR = "tool_error"  # the tool's own answer is an error (ToolAnswerError)


@dataclass(frozen=True)
class Failure:
    """What went wrong with one call, as data the retry and reroute decisions read.

    ``ambiguous`` failures (a timeout, a connection lost mid-call) leave open whether the call took
    effect, so only a tool safe to repeat may be retried or rerouted after one. ``missing`` are
    the required arguments a ``bad_arguments`` call lacked, when the tool named them.
    ``reached`` is false when no call reached the tool (nothing in the run serves it, or its
    arguments were refused before the call went out).
    """

    kind: FailureKind
    message: str
    retry_after: float | None = None
    ambiguous: bool = False
    missing: tuple[str, ...] = ()
    reached: bool = True

    @property
    def blames_tool(self) -> bool:
        """Whether the failure says something about the tool's health: not when the call never
        reached it, nor when the arguments did not fit it, nor when it answered with an error
        of its own (it works; the call's arguments or the world are at fault)."""
        return self.reached and self.kind not in (FailureKind.BAD_ARGUMENTS, FailureKind.TOOL_ERROR)

    def describe(self) -> str:
        """What the log says: the kind, the message, and the wait the tool asked for (which
        decides whether the call is waited for and retried, or rerouted)."""
        said = self.retry_after is None or "retry after" in self.message.lower()
        wait = "" if said else f" (retry after {self.retry_after:.3g} s)"
        return f"{self.kind}: {self.message}{wait}"


def classify(exc: BaseException) -> Failure:
    """Map an exception raised by (or on behalf of) a tool call to a ``Failure``."""
    message = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    if isinstance(exc, RateLimitedError):
        return Failure(FailureKind.RATE_LIMITED, message, exc.retry_after)
    if isinstance(exc, ToolNotServedError | ToolBusyError):
        return Failure(FailureKind.DOWN, message, reached=False)
    if isinstance(exc, ToolUnavailableError | CircuitOpenError | ConnectionError):
        lost = isinstance(exc, (ConnectionLostError, *BROKEN_CONNECTION_ERRORS))
        return Failure(FailureKind.DOWN, message, ambiguous=lost)
    if isinstance(exc, ToolTimeoutError | TimeoutError):
        return Failure(FailureKind.TIMEOUT, message, ambiguous=True)
    if isinstance(exc, MalformedOutputError):
        return Failure(FailureKind.MALFORMED, message)
    if isinstance(exc, ToolAnswerError):
        return Failure(FailureKind.TOOL_ERROR, message)
    if isinstance(exc, ToolArgumentError):
        return Failure(FailureKind.BAD_ARGUMENTS, message, missing=exc.missing, reached=exc.sent)
    return Failure(FailureKind.ERROR, message)


def missing_inputs(failures: Iterable[Failure], inputs: Collection[str]) -> tuple[str, ...]:
    """The arguments ``bad_arguments`` failures named that ``inputs`` still lack, once each, in
    the order they failed: what an escalation handler may provide."""
    names = (
        name
        for failure in failures
        if failure.kind is FailureKind.BAD_ARGUMENTS
        for name in failure.missing
        if name not in inputs
    )
    return tuple(dict.fromkeys(names))


def satisfied(failures: Mapping[str, Failure], inputs: Collection[str]) -> list[str]:
    """The tools (sorted) whose ``bad_arguments`` failure named arguments ``inputs`` now all
    hold: they may be called again."""
    return sorted(
        tool
        for tool, failure in failures.items()
        if failure.kind is FailureKind.BAD_ARGUMENTS
        and failure.missing
        and all(name in inputs for name in failure.missing)
    )
