"""Calls of blocking code in a thread an event loop can give up on, without the thread keeping
the interpreter alive (a tool that never returns must not keep a finished script running)."""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel

__all__ = ["in_daemon_thread"]


async def in_daemon_thread(call: Callable[[], Any], *, name: str) -> Any:
    """``call()`` in a new daemon thread (with the caller's context variables), awaited;
    cancelling the wait abandons the thread.

    Why not ``anyio.to_thread``: its worker threads are not daemons, so the interpreter waits
    for them at exit, and one abandoned call that never returns kept a finished script (or the
    CLI, its result printed) from exiting.
    """
    await anyio.lowlevel.checkpoint_if_cancelled()  # a call already cancelled never starts
    done = anyio.Event()
    token = anyio.lowlevel.current_token()
    context = contextvars.copy_context()
    outcome: list[tuple[bool, Any]] = []

    def target() -> None:
        try:
            outcome.append((True, context.run(call)))
        except BaseException as exc:
            outcome.append((False, exc))
        # When the event loop has ended, nobody waits for this call any more.
        with contextlib.suppress(Exception):
            anyio.from_thread.run_sync(done.set, token=token)

    threading.Thread(target=target, name=name, daemon=True).start()
    await done.wait()
    succeeded, value = outcome[0]
    if succeeded:
        return value
    raise value
