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


# --- scenario commands (issue 3) ---
scenario_app = typer.Typer(help="Run fault-injection scenarios against the self-healing executor.")
app.add_typer(scenario_app, name="scenario")
_SCENARIO_FILES = typer.Argument(..., help="Scenario YAML files.")


@scenario_app.command("run")
def scenario_run(
    files: list[str] = _SCENARIO_FILES,
    as_json: bool = typer.Option(False, "--json", help="Print JSON (an object per scenario)."),
    controller: str = typer.Option(
        "router", help="router (the executor), or a baseline: react, static."
    ),
) -> None:
    """Run scenarios; exit 1 if any expectation fails, 2 on a malformed file."""
    import json as _json

    import anyio
    from rich.console import Console
    from rich.table import Table

    from orchestrator.errors import ScenarioError
    from orchestrator.scenarios import CONTROLLERS, run_scenario_files

    if controller not in CONTROLLERS:
        choices = ", ".join(CONTROLLERS)
        raise typer.BadParameter(f"expected one of {choices}", param_hint="--controller")
    try:
        results = anyio.run(run_scenario_files, files, controller)
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        payload = [r.to_dict() for r in results]
        typer.echo(_json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
    else:
        table = Table("id", "outcome", "path", "llm", "reroutes", "retries", "silent", "ok")
        for r in results:
            row = r.to_dict()
            table.add_row(
                row["id"],
                row["outcome"],
                " > ".join(row["path"]),
                str(row["llm_calls"]),
                str(row["reroutes"]),
                str(row["retries"]),
                str(row["silent_failures"]),
                "yes" if r.passed else "; ".join(r.mismatches),
            )
        Console().print(table)
    if not all(r.passed for r in results):
        raise typer.Exit(1)
