"""`orchestrator mcp status` and catalog commands on an mcpServers config."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from mcp_servers import (
    broken_server,
    faulty_server,
    free_port,
    ledger_lines,
    listing_server,
    time_server,
    write_config,
)
from typer.testing import CliRunner

from orchestrator.cli import app

runner = CliRunner()


def test_status_shows_each_servers_state_tool_count_and_last_error(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "servers.json", {"time_a": time_server(), "broken": broken_server()}
    )
    result = runner.invoke(app, ["mcp", "status", "--config", str(config), "--json"])
    assert result.exit_code == 1  # not every server is up
    rows = {row["server"]: row for row in json.loads(result.stdout)}
    assert rows["time_a"]["state"] == "up" and rows["time_a"]["tools"] == 2
    assert rows["time_a"]["last_error"] is None
    assert rows["broken"]["state"] in ("down", "open circuit") and rows["broken"]["tools"] == 0
    assert "fatal: no API key set" in rows["broken"]["last_error"]


def test_status_of_a_malformed_config_is_one_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "servers.json"
    config.write_text('{"mcpServers": {"x": {"command": "a", "url": "http://b"}}}')
    result = runner.invoke(app, ["mcp", "status", "--config", str(config)])
    assert result.exit_code == 2
    assert "/mcpServers/x" in result.stderr and "either 'command'" in result.stderr


def test_a_listing_the_sdk_refuses_is_one_line_naming_the_tool(tmp_path: Path) -> None:
    """A tool without inputSchema had put pydantic's multi-line dump, with a link to its docs,
    in the server's last error."""
    tools = [{"name": "ok", "inputSchema": {"type": "object"}}, {"name": "bare"}]
    config = write_config(tmp_path / "servers.json", {"odd": listing_server(tools)})
    result = runner.invoke(app, ["mcp", "status", "--config", str(config), "--json"])
    [row] = json.loads(result.stdout)
    assert row["state"] != "up" and "\n" not in row["last_error"]
    assert "is not valid MCP: tool 1 ('bare'): inputSchema: Field required" in row["last_error"]


def test_serve_refuses_a_port_out_of_range_or_taken_before_starting_any_server(
    tmp_path: Path,
) -> None:
    """Both had failed only after every server started and was indexed, in a traceback of
    90 to 200 lines, with exit code 1."""
    config = write_config(tmp_path / "servers.json", {"f": faulty_server(tmp_path / "ledger")})
    with socket.create_server(("127.0.0.1", 0)) as taken:
        busy = taken.getsockname()[1]
        for address, said in (
            ("127.0.0.1:99999", "a port from 0 (any free one) to 65535"),
            (f"127.0.0.1:{busy}", "cannot listen on"),
        ):
            command = ["mcp", "serve", "--config", str(config), "--http", address]
            result = runner.invoke(app, command)
            shown = " ".join(result.stderr.replace("│", " ").split())
            assert result.exit_code == 2 and said in shown, address
            assert "Traceback" not in result.output
    assert not psutil.Process().children(recursive=True)


def test_serve_checks_an_ipv6_host_and_any_free_port_in_their_own_terms() -> None:
    """The port check bound IPv4 only: "[::1]:8765" was refused as an unsupported address
    family, and port 0 (any free one) as out of range (a reviewer's)."""
    from orchestrator.integrations.mcp._cli import _host_port

    assert _host_port("127.0.0.1:0") == ("127.0.0.1", 0)
    if socket.has_ipv6:
        assert _host_port("[::1]:0") == ("::1", 0)


@pytest.mark.slow
def test_index_accepts_an_mcp_servers_config(tmp_path: Path) -> None:
    config = write_config(tmp_path / "servers.json", {"time_a": time_server()})
    result = runner.invoke(app, ["index", str(config), "--out", str(tmp_path / "index"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["skills"] == 2


@pytest.mark.slow
def test_run_over_an_mcp_servers_config_calls_its_live_servers(tmp_path: Path) -> None:
    config = write_config(tmp_path / "servers.json", {"time_a": time_server()})
    task = "get the current time in timezone 'Asia/Tokyo'"
    result = runner.invoke(app, ["run", task, "--catalog", str(config), "--index",
                                 str(tmp_path / "index"), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["path"] == ["time_a/get_current_time"]
    # The server's answer, not a simulation of its output schema.
    answer = report["outputs"]["time_a/get_current_time"]
    assert answer["timezone"] == "Asia/Tokyo" and answer["datetime"][:2] == "20"


def test_sigterm_stops_a_gateway_serving_http_as_it_stops_one_on_stdio(tmp_path: Path) -> None:
    """Over HTTP, uvicorn catches the signal and raises it again inside the server's task
    group: the gateway ended in an 86-line traceback with exit code 1."""
    config = write_config(tmp_path / "servers.json", {"f": faulty_server(tmp_path / "ledger")})
    port = free_port()
    command = [sys.executable, "-c", "from orchestrator.cli import main; main()", "mcp",
               "serve", "--config", str(config), "--index", str(tmp_path / "index"),
               "--http", f"127.0.0.1:{port}"]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as gateway:
        assert gateway.stderr is not None
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                assert gateway.poll() is None, gateway.stderr.read().decode()
                time.sleep(0.2)
            else:
                pytest.fail("the gateway never listened")
            gateway.terminate()
            assert gateway.wait(timeout=30) == 143
            assert b"Traceback" not in gateway.stderr.read()
        finally:
            if gateway.poll() is None:
                gateway.kill()


def test_sigterm_stops_a_run_and_the_mcp_servers_it_started(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    config = write_config(tmp_path / "servers.json", {"f": faulty_server(ledger)})
    inputs = json.dumps({"text": "hi", "seconds": 60})
    command = [sys.executable, "-c", "from orchestrator.cli import main; main()", "run",
               "wait some seconds then echo the text", "--catalog", str(config),
               "--index", str(tmp_path / "index"), "--inputs", inputs]  # fmt: skip
    # Started with Ctrl-C ignored, as a background job of a script is: SIGTERM still stops it.
    run = psutil.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    deadline = time.monotonic() + 60
    while not ledger_lines(ledger, "slow_echo") and time.monotonic() < deadline:
        time.sleep(0.2)  # until the server is in its call
    assert ledger_lines(ledger, "slow_echo"), "the slow call never started"
    children = run.children(recursive=True)
    server = next(p for p in children if "faulty_server" in " ".join(p.cmdline()))
    run.terminate()
    assert run.wait(timeout=20) == 143  # ended by SIGTERM, as a shell reports it (Ctrl-C: 130)
    server.wait(timeout=10)  # stopped with the run, not left to finish its call
