"""The ``orchestrator`` command line: parse, call the public API, print.

Human tables by default, ``--json`` for machines. No logic lives here that the API lacks.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="orchestrator",
    help="Route tasks to tools, run them on a self-healing tool graph, and explain every decision.",
    no_args_is_help=True,
    add_completion=False,
)


def main() -> None:
    """Console-script entry point."""
    app()
