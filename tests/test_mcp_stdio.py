"""The gateway's stdio transport: the SDK's framing over pipes the event loop waits on, with
stray prints kept off the wire, and the SDK's own transport where stdout cannot be polled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from orchestrator.integrations.mcp._stdio import PipeLines, PipeWriter

pytestmark = pytest.mark.anyio
REPO = Path(__file__).resolve().parent.parent
NOISY = REPO / "tests" / "mcp_servers" / "noisy_server.py"
ENV = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}


def _pipe() -> tuple[int, int]:
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    return read, write


async def test_lines_split_across_reads_are_reassembled_and_a_last_unterminated_line_kept() -> None:
    read, write = _pipe()
    lines = PipeLines(read)
    received: list[str] = []

    async def collect() -> None:
        async for line in lines:
            received.append(line)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(collect)
            for chunk in [b'{"a": 1', b'}\n{"b"', b": 2}\n\n", '{"c": "\u00e9"}'.encode()]:
                os.write(write, chunk)
                await anyio.sleep(0.01)
            os.close(write)
            write = -1
    finally:
        os.close(read)
        if write >= 0:
            os.close(write)
    assert received == ['{"a": 1}\n', '{"b": 2}\n', "\n", '{"c": "\u00e9"}']


async def test_a_message_larger_than_the_pipe_buffer_is_written_whole_without_blocking() -> None:
    read, write = _pipe()
    message = "x" * (1 << 20) + "\n"  # 1 MiB; a Linux pipe holds 64 KiB
    got: list[str] = []

    async def reader() -> None:
        async for line in PipeLines(read):
            got.append(line)
            return

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            await PipeWriter(write).write(message)
    finally:
        os.close(read)
        os.close(write)
    assert got == [message]


@pytest.mark.slow
async def test_a_tool_printing_to_stdout_does_not_corrupt_the_wire() -> None:
    """A real server process served over pipes, driven by the SDK's client; its tool prints to
    stdout and answers with a 300 KB message."""
    params = StdioServerParameters(command=sys.executable, args=[str(NOISY)], env=ENV)
    garbled: list[Exception] = []

    async def on_message(message: object) -> None:
        if isinstance(message, Exception):  # a line on the wire that is not JSON-RPC
            garbled.append(message)

    async with (
        stdio_client(params) as (read, write),
        ClientSession(read, write, message_handler=on_message) as session,
    ):
        await session.initialize()
        for times in (1, 150_000):
            result = await session.call_tool("shout", {"text": "ab", "times": times})
            assert not result.is_error
            assert result.content[0].text == "ab" * times  # type: ignore[union-attr]
    assert garbled == []


@pytest.mark.slow
def test_stdout_to_a_regular_file_still_gets_every_answer(tmp_path: Path) -> None:
    """A file cannot be polled, so the SDK's threaded transport serves it: every answer arrives."""
    out = tmp_path / "out.jsonl"
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "shout", "arguments": {"text": "ok"}},
        },
    ]
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, str(NOISY)],
            stdin=subprocess.PIPE,
            stdout=sink,
            stderr=subprocess.PIPE,
            env=ENV,
        )
        assert process.stdin is not None
        process.stdin.write(b"".join(json.dumps(r).encode() + b"\n" for r in requests))
        process.stdin.flush()
        deadline = time.monotonic() + 30
        while out.read_text().count("\n") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        _, stderr = process.communicate(timeout=30)
    responses = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in responses] == [1, 2], stderr.decode()
    assert responses[1]["result"]["content"][0]["text"] == "ok"
    assert b"stray output" in stderr
