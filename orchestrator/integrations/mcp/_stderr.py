"""A stdio server's stderr, kept as a bounded tail: the last lines say why a start failed or a
connection dropped, and a server that logs every request must not fill a disk or memory over a
long session (a temporary file holding all of it did).

Each start of the server writes into a pipe of its own, read through the event loop (no thread)
into one ring buffer that outlives restarts, so the tail after a failed restart still shows what
the previous run said. POSIX only, as ``anyio.wait_readable`` on a pipe is.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from typing import TextIO

import anyio

__all__ = ["StderrTail"]

_READ_SIZE = 1 << 16


class StderrTail:
    """The last ``keep`` bytes a server wrote to stderr, across its restarts."""

    def __init__(self, keep: int = 8192) -> None:
        self.keep = keep
        self._buffer = bytearray()

    def __len__(self) -> int:
        return len(self._buffer)

    def add(self, chunk: bytes) -> None:
        self._buffer += chunk
        if len(self._buffer) > self.keep:
            del self._buffer[: len(self._buffer) - self.keep]

    def text(self, chars: int) -> str:
        """The last ``chars`` characters on one line, its non-blank lines joined by `` | ``."""
        tail = self._buffer.decode("utf-8", errors="replace")
        return " | ".join(line.strip() for line in tail.splitlines() if line.strip())[-chars:]

    async def capture(self, stack: AsyncExitStack) -> TextIO:
        """A pipe for one server process's stderr, read into the tail until ``stack`` closes.

        Enter it before the transport, so it closes after the process is gone: what the process
        wrote last (why it exited) is read from the pipe before the pipe is closed."""
        writer, read_fd = stack.enter_context(_pipe(self))
        readers = await stack.enter_async_context(anyio.create_task_group())
        readers.start_soon(self._read, read_fd)
        stack.callback(readers.cancel_scope.cancel)
        return writer

    async def _read(self, fd: int) -> None:
        while _read_ready(fd, self):
            await anyio.wait_readable(fd)


@contextmanager
def _pipe(tail: StderrTail) -> Iterator[tuple[TextIO, int]]:
    """A pipe whose write end a child process inherits; on exit, what is left in it is read
    into ``tail`` and both ends are closed."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    writer = open(write_fd, "w", encoding="utf-8", errors="replace")  # noqa: SIM115
    try:
        yield writer, read_fd
    finally:
        writer.close()
        _read_ready(read_fd, tail)
        os.close(read_fd)


def _read_ready(fd: int, tail: StderrTail) -> bool:
    """Read what the pipe holds now into ``tail``; False at end of input."""
    while True:
        try:
            chunk = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        tail.add(chunk)
