"""The ``orchestrator mcp`` commands: ``serve`` the gateway, show each server's ``status``.

Thin: parse, call this package's API, print. The MCP SDK is imported only when a command runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.errors import OrchestratorError

__all__ = ["default_index_dir", "mcp_app"]

mcp_app = typer.Typer(
    help="Serve orchestrator as an MCP tool-search gateway; inspect configured MCP servers.",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path, typer.Option("--config", help='An MCP client config: {"mcpServers": {...}}.')
]
PolicyOption = Annotated[
    Path | None, typer.Option("--policy", help="Policy YAML merged over the embedded default.")
]


def default_index_dir(config: Path) -> Path:
    """Where the gateway caches its per-server indexes for this config file."""
    root = Path(os.environ.get("ORCHESTRATOR_CACHE") or Path.home() / ".cache" / "orchestrator")
    digest = hashlib.sha256(str(config.resolve()).encode()).hexdigest()[:16]
    return root / "mcp" / f"{config.stem}-{digest}"


def _host_port(value: str) -> tuple[str, int]:
    """HOST:PORT, checked before any server starts: a port out of range or taken had failed
    only once every server ran and its tools were indexed, in a traceback of 90-200 lines."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise typer.BadParameter(
            "expected HOST:PORT with a port from 0 (any free one) to 65535, e.g. "
            "127.0.0.1:8765 or [::1]:8765",
            param_hint="--http",
        )
    try:
        # Bound and let go: the gateway binds it again once its servers are up. The family is
        # the host's own, so an IPv6 host ("[::1]") binds too.
        family, *_, address = socket.getaddrinfo(
            host.strip("[]"), int(port), type=socket.SOCK_STREAM
        )[0]
        socket.create_server(address[:2], family=family).close()
    except OSError as exc:
        raise typer.BadParameter(f"cannot listen on {value}: {exc}", param_hint="--http") from exc
    return host.strip("[]"), int(port)


def _fail(exc: OrchestratorError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=2)


def _require_sdk() -> None:
    """One clear line instead of a traceback when the optional MCP SDK is missing."""
    try:
        import mcp  # noqa: F401
    except ImportError as exc:
        typer.echo(
            f"error: the mcp commands need the MCP SDK ({exc}); "
            "install it with: pip install 'orchestrator[mcp]'",
            err=True,
        )
        raise typer.Exit(code=2) from exc


@mcp_app.command("serve")
def serve_command(
    config: ConfigOption,
    policy: PolicyOption = None,
    http: Annotated[
        str | None,
        typer.Option("--http", help="Serve streamable HTTP at HOST:PORT instead of stdio."),
    ] = None,
    index: Annotated[
        Path | None,
        typer.Option("--index", help="Index cache folder (default: a per-config cache folder)."),
    ] = None,
    embedder: Annotated[
        Path | None, typer.Option("--embedder", help="Local path of a sentence-transformers model.")
    ] = None,
) -> None:
    """Start the configured servers and serve search_tools, call_tool and plan_task (stdio by
    default)."""
    import anyio

    _require_sdk()
    from orchestrator.integrations.mcp._gateway import serve

    address = _host_port(http) if http is not None else None
    try:
        anyio.run(
            lambda: serve(
                config,
                policy_file=policy,
                http=address,
                index_dir=index if index is not None else default_index_dir(config),
                embedder=embedder,
            )
        )
    except OrchestratorError as exc:
        raise _fail(exc) from exc
    except BaseExceptionGroup as group:
        # Over HTTP, uvicorn catches SIGTERM and Ctrl-C and raises them again once it has
        # stopped, inside the server's task group: the stop arrives wrapped, and had ended in
        # an 86-line traceback with exit code 1 instead of the stop it is.
        stopped, rest = group.split(KeyboardInterrupt)
        if stopped is not None and rest is None:
            raise KeyboardInterrupt from None
        raise


@mcp_app.command("status")
def status_command(
    config: ConfigOption,
    policy: PolicyOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")] = False,
) -> None:
    """Start each configured server once and show its state, tool count and last error."""
    import anyio
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    _require_sdk()
    from orchestrator.integrations.mcp._config import load_servers_config
    from orchestrator.integrations.mcp._servers import McpServers, ServerStatus
    from orchestrator.policy import load_policy

    async def collect() -> list[ServerStatus]:
        async with McpServers(load_servers_config(config), policy=load_policy(policy).mcp) as pool:
            return pool.status()

    try:
        rows = anyio.run(collect)
    except OrchestratorError as exc:
        raise _fail(exc) from exc
    if json_out:
        typer.echo(json.dumps([r.to_dict() for r in rows]))
    else:
        table = Table("server", "state", "tools", "command / url", "last error")
        for r in rows:
            colour = {"up": "green", "down": "red"}.get(r.state, "yellow")
            table.add_row(
                escape(r.server),
                f"[{colour}]{r.state}[/]",
                str(r.tools),
                escape(r.target),
                escape(r.last_error or ""),
            )
        Console().print(table)
    if any(r.state != "up" for r in rows):
        raise typer.Exit(1)
