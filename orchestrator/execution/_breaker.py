"""A per-tool circuit breaker with pybreaker's states and defaults (5 failures, 60 s reset).

No maintained breaker supports anyio, and the executor needs only the state machine: it asks
``allows_call`` before routing to a tool and reports each call's outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["STATE_CLOSED", "STATE_HALF_OPEN", "STATE_OPEN", "CircuitBreaker"]

STATE_CLOSED = "closed"
STATE_OPEN = "open"
STATE_HALF_OPEN = "half-open"


class CircuitBreaker:
    """Closed until ``fail_max`` consecutive failures; open for ``reset_timeout`` seconds; then
    half-open, when one trial call (or recovery probe) closes it again or re-opens it."""

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
        self.fail_counter = 0

    @property
    def state(self) -> str:
        if self._state == STATE_OPEN and self._clock() - self._opened_at >= self.reset_timeout:
            self._state = STATE_HALF_OPEN
        return self._state

    def allows_call(self) -> bool:
        return self.state != STATE_OPEN

    def record_success(self) -> None:
        self.fail_counter = 0
        self._state = STATE_CLOSED

    def record_failure(self) -> None:
        self.fail_counter += 1
        if self.state == STATE_HALF_OPEN or self.fail_counter >= self.fail_max:
            self.open()

    def open(self) -> None:
        self._state = STATE_OPEN
        self._opened_at = self._clock()
