"""Serve an MCP server over this process's stdin and stdout without a thread per message.

The SDK's ``stdio_server`` reads and writes through ``anyio.wrap_file``: every line read, every
write and every flush is a hand-off to a worker thread, three per ``call_tool``. For the gateway,
whose whole job is one more hop in front of other servers, that cost about 0.5 ms of the 2.2 ms
of CPU its process spent per call (measured on a 2-core machine). Here the SDK's own transport
(``stdio_server``: framing, JSON-RPC parsing, its streams) runs over two small adapters that
wait on the pipes through the event loop (``anyio.wait_readable`` / ``wait_writable``) and use
non-blocking reads and writes. Where that cannot work (stdin or stdout is a regular file, which
cannot be polled, or Windows), the SDK's threaded transport is used as is.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any, cast

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server

__all__ = ["serve_stdio"]

_READ_SIZE = 1 << 16


class PipeLines:
    """The lines arriving on a non-blocking pipe, decoded as UTF-8 (what ``stdio_server`` reads
    from ``stdin``). A last line without its newline is still delivered at end of input."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer known to hold no newline

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        while True:
            newline = self._buffer.find(b"\n", self._scanned)
            if newline >= 0:
                return self._take(newline + 1)
            self._scanned = len(self._buffer)
            try:
                chunk = os.read(self._fd, _READ_SIZE)
            except BlockingIOError:
                await anyio.wait_readable(self._fd)
                continue
            if not chunk:
                if self._buffer:
                    return self._take(len(self._buffer))
                raise StopAsyncIteration
            self._buffer += chunk

    def _take(self, end: int) -> str:
        line = bytes(self._buffer[:end])
        del self._buffer[:end]
        self._scanned = 0
        return line.decode("utf-8", errors="replace")


class PipeWriter:
    """Writes text to a non-blocking pipe, waiting for room instead of blocking the loop (what
    ``stdio_server`` writes to ``stdout``). Nothing is buffered, so ``flush`` has nothing to do."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    async def write(self, text: str) -> None:
        data = memoryview(text.encode("utf-8"))
        while data:
            try:
                written = os.write(self._fd, data)
            except BlockingIOError:
                await anyio.wait_writable(self._fd)
                continue
            data = data[written:]

    async def flush(self) -> None:
        return None


def _pollable(fd: int) -> bool:
    """A pipe, socket or terminal: the event loop can wait on it (a regular file it cannot)."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


@contextmanager
def _claimed_wire() -> Iterator[tuple[int, int]]:
    """Private duplicates of fds 0 and 1 for the protocol; meanwhile fd 0 reads the null device
    and fd 1 goes to stderr, so a stray print (ours, a library's) cannot corrupt the wire, just
    as the SDK's transport does. Both are restored, in blocking mode, on exit."""
    sys.stdout.flush()
    wire_in, wire_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
        os.dup2(2, 1)
        os.set_blocking(wire_in, False)
        os.set_blocking(wire_out, False)
        yield wire_in, wire_out
    finally:
        os.close(null)
        os.set_blocking(wire_in, True)
        os.set_blocking(wire_out, True)
        os.dup2(wire_in, 0)
        os.dup2(wire_out, 1)
        os.close(wire_in)
        os.close(wire_out)


async def serve_stdio(server: MCPServer) -> None:
    """Run ``server`` over stdin/stdout until the client closes stdin."""
    if sys.platform == "win32" or not (_pollable(0) and _pollable(1)):
        await server.run_stdio_async()
        return
    with _claimed_wire() as (wire_in, wire_out):
        # stdio_server only iterates its stdin and calls write/flush on its stdout.
        stdin = cast(Any, PipeLines(wire_in))
        stdout = cast(Any, PipeWriter(wire_out))
        async with stdio_server(stdin, stdout) as (read, write):
            # The SDK's own in-memory Client runs a server the same way (the low-level server is
            # not public yet: a TODO in mcp.client._memory).
            lowlevel = server._lowlevel_server
            await lowlevel.run(read, write, lowlevel.create_initialization_options())
