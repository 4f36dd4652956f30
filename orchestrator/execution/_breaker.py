"""A per-tool circuit breaker with pybreaker's states and defaults (5 failures, 60 s reset).

No maintained breaker supports anyio, and the executor needs only the state machine: it asks
``allows_call`` before routing to a tool and reports each call's outcome.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["STATE_CLOSED", "STATE_HALF_OPEN", "STATE_OPEN", "CircuitBreaker"]

STATE_CLOSED = "closed"
STATE_OPEN = "open"
STATE_HALF_OPEN = "half-open"


class CircuitBreaker:
    """Closed until ``fail_max`` consecutive failures; open for ``reset_timeout`` seconds; then
    half-open, when one trial call (or recovery probe) closes it again or re-opens it.

    Half-open lets through one call at a time: the caller claims it with ``begin_call`` and
    gives it back with ``end_call``. Until the trial ends, ``allows_call`` is false for every
    other caller, so concurrent runs sharing the breaker route around the tool rather than all
    calling a tool that may still be down. Safe to share across threads (LangGraph runs sync
    tool calls in worker threads, each with its own event loop).
    """

    def __init__(
        self,
        fail_max: int = 5,
        reset_timeout: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fail_max = fail_max
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._state = STATE_CLOSED
        self._opened_at = 0.0
        self._trial = False  # the one half-open call is in flight
        self._lock = threading.Lock()
        self.fail_counter = 0
        self.opened_because = ""  # what opened it, last time it opened

    @property
    def state(self) -> str:
        if self._state == STATE_OPEN and self._clock() - self._opened_at >= self.reset_timeout:
            self._state = STATE_HALF_OPEN
        return self._state

    @property
    def trial_in_flight(self) -> bool:
        """Half-open, and its one trial call is being made."""
        return self._trial and self.state == STATE_HALF_OPEN

    def allows_call(self) -> bool:
        """Whether a call may be made now (so a route may use the tool): closed, or half-open
        with no trial in flight."""
        state = self.state
        return state == STATE_CLOSED or (state == STATE_HALF_OPEN and not self._trial)

    def begin_call(self) -> bool:
        """Claim a call: false when none may be made now; half-open, the claim is the trial,
        and every other caller is refused until ``end_call``."""
        with self._lock:
            if not self.allows_call():
                return False
            if self._state == STATE_HALF_OPEN:
                self._trial = True
            return True

    def end_call(self) -> None:
        """A claimed call is over, whatever was recorded of it (a rate limit or a cancelled
        call records nothing, and must not hold the trial for ever)."""
        self._trial = False

    def record_success(self) -> None:
        self.fail_counter = 0
        self._state = STATE_CLOSED
        self._trial = False

    def record_failure(self) -> None:
        self.fail_counter += 1
        if self.state == STATE_HALF_OPEN or self.fail_counter >= self.fail_max:
            self.open()

    def open(self, why: str | None = None) -> None:
        """Open now; ``why`` says so when something other than this breaker's own failures
        opened it (the server behind the tool is known down)."""
        self._state = STATE_OPEN
        self._opened_at = self._clock()
        self._trial = False
        self.opened_because = why or f"breaker open after {self.fail_counter} consecutive failures"
