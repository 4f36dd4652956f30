"""The ``orchestrator`` command line: parse, call the public API, print.

Human tables by default, ``--json`` for machines. No logic lives here that the API lacks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, redirect_stdout
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from orchestrator._files import unwritable_because
from orchestrator._resources import data_path
from orchestrator.errors import OrchestratorError

app = typer.Typer(
    rich_markup_mode="markdown",
    name="orchestrator",
    help="Route tasks to tools, run them on a self-healing tool graph, and explain every decision.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

SAMPLE_CATALOG = data_path("skills", "sample.jsonl")

CatalogOption = Annotated[
    Path | None,
    typer.Option(
        "--catalog",
        "-c",
        help="Catalog file or folder: function lists (JSON, JSONL), OpenAPI, SKILL.md folders, "
        "an MCP config, or a Python file whose functions are the skills (default: the catalog "
        "indexed in --index, else the shipped sample catalog).",
        show_default=False,
    ),
]
PolicyOption = Annotated[
    Path | None, typer.Option("--policy", help="Policy YAML merged over the embedded default.")
]
EmbedderOption = Annotated[
    Path | None,
    typer.Option("--embedder", help="Local path of a sentence-transformers model."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
DedupeOption = Annotated[
    bool,
    typer.Option(
        "--dedupe", help="Keep the first of skills sharing an id, instead of failing on them."
    ),
]
IndexOption = Annotated[
    Path | None,
    typer.Option("--index", help="Index directory (default: a per-catalog cache folder)."),
]
TraceFileOption = Annotated[
    Path | None, typer.Option("--trace-file", help="Write the trace as OTLP JSON lines here.")
]
UsageOption = Annotated[
    Path | None,
    typer.Option(
        "--usage",
        help="A usage model of past successful runs (JSON, see UsageModel): plans add what "
        "those runs show.",
    ),
]


def main() -> None:
    """Console-script entry point. SIGTERM (what ``timeout``, systemd and ``docker stop`` send)
    stops a command as Ctrl-C does, so the MCP servers it started are stopped with it (also
    where Ctrl-C is ignored, as in a background job of a script). Only from the main thread,
    where Python handles signals; the handler before is restored after. The exit status is
    then 143 (128 + SIGTERM), as a process ended by the signal reports, not Ctrl-C's 130."""
    if threading.current_thread() is not threading.main_thread():
        app()
        return
    terminated = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal terminated
        terminated = True
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, stop)
    try:
        app()
    except SystemExit:
        if terminated:
            raise SystemExit(128 + signal.SIGTERM) from None
        raise
    finally:
        signal.signal(signal.SIGTERM, before)


def _after_output(ctx: typer.Context) -> Callable[[Callable[[], None]], None]:
    """Where ``tracing(defer_otlp=...)`` hands the OTLP exporters' final export: to run once the
    command has printed its result, so a collector that is slow or gone holds up the exit, not
    the answer (a dead one took 14-21 s with the default ``OTEL_EXPORTER_OTLP_TIMEOUT``)."""

    def later(export: Callable[[], None]) -> None:
        def run() -> None:
            sys.stdout.flush()  # a piped result waits in the buffer until then
            sys.stderr.flush()
            export()

        ctx.call_on_close(run)

    return later


@contextmanager
def _errors_exit() -> Iterator[None]:
    """Turn our own errors into one clear line and exit code 2, instead of a traceback."""
    try:
        yield
    except OrchestratorError as exc:
        # Rich reads "[...]" as markup: a catalog's "[/]" crashed the error line itself.
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(code=2) from exc


def _default_index_dir(catalog: Path, embedder: str | Path | None = None) -> Path:
    """The cached index of ``catalog`` embedded by ``embedder`` (the packaged model when None):
    one per model, since an index keeps routing with the model it was built with, and one
    ``--embedder`` run had made every later run on the catalog use that model, unsaid."""
    root = Path(os.environ.get("ORCHESTRATOR_CACHE") or Path.home() / ".cache" / "orchestrator")
    key = str(catalog.resolve())
    if embedder is not None:
        key += f"\0{Path(embedder).expanduser().resolve()}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return root / "indexes" / f"{catalog.stem}-{digest}"


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("embedding skills"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("embed", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _open_router(
    catalog: Path | None,
    index: Path | None,
    policy: Any,
    embedder: Path | None,
    cross_encoder: Path | None,
    *,
    show_progress: bool,
    dedupe: bool = False,
) -> Any:
    """The catalog's router; ``policy`` is a policy file or a ``Policy`` already loaded. What
    a Python catalog prints as it is imported goes to stderr: stdout is the command's output.

    Without a catalog, an index given by ``--index`` is routed as it is, and a folder holding
    no index is a usage error (a mistyped path had routed over the sample catalog, built
    there); with neither, the sample catalog."""
    from orchestrator.policy import Policy, load_policy
    from orchestrator.routing import SkillRouter

    if catalog is None and index is not None:
        if not (index / "manifest.json").is_file():
            raise typer.BadParameter(
                f"{index} holds no index (no manifest.json); give --catalog CATALOG to build "
                "one there, or build it with `orchestrator index CATALOG --out DIR`",
                param_hint="--index",
            )
        return SkillRouter.from_index(
            index, policy=policy, embedder=embedder, cross_encoder=cross_encoder
        )
    catalog = catalog or SAMPLE_CATALOG
    if index is None:
        # Read once here, for the model the cache is kept by, and handed on as read.
        policy = policy if isinstance(policy, Policy) or policy is None else load_policy(policy)
        named = embedder or (policy.routing.index.embedder if policy is not None else None)
        index = _default_index_dir(catalog, named)
    with redirect_stdout(sys.stderr), _progress_bar(show_progress) as progress:
        return SkillRouter.from_catalog(
            catalog,
            policy=policy,
            index_dir=index,
            embedder=embedder,
            cross_encoder=cross_encoder,
            progress=progress,
            dedupe=dedupe,
        )


@app.command()
def index(
    catalog: Annotated[Path, typer.Argument(help="Catalog file or folder to index.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Index directory to write.")],
    policy: PolicyOption = None,
    embedder: EmbedderOption = None,
    dedupe: DedupeOption = False,
    json_out: JsonOption = False,
) -> None:
    """Index a catalog into the --out folder (atomically, with a manifest). An existing index
    there is updated incrementally: only new or changed skills are embedded."""
    from orchestrator.routing import SkillIndex

    with _errors_exit():
        router = _open_router(
            catalog, out, policy, embedder, None, show_progress=not json_out, dedupe=dedupe
        )
        manifest = SkillIndex.read_manifest(out)
    # What this run did: the same line after a full build, an update and no change had left
    # a user unable to tell that only changed skills are embedded.
    embedded = router.index.embedded
    if json_out:
        print(json.dumps({**manifest, "embedded": embedded}))
        return
    skills = len(router.skills)
    done = "unchanged" if embedded is None else f"{embedded} embedded, {skills - embedded} reused"
    console.print(
        f"indexed [bold]{skills}[/] skills ({done}; {manifest['vectors']} vectors, "
        f"{manifest['dense_index']} faiss index, model {escape(manifest['model'])}) into "
        f"{escape(str(out))}"
    )


def _result_line(result: Any, query_id: Any | None) -> dict[str, Any]:
    line: dict[str, Any] = {} if query_id is None else {"id": query_id}
    if query_id is None:
        line["query"] = result.query
    line["fits"] = result.fits
    line["results"] = [
        {
            "id": m.skill.id,
            "name": m.skill.name,
            "score": round(m.score, 6),
            # None for a filler past the rerank, whose fit was not judged.
            "fit": round(m.scores["fit"], 6) if "fit" in m.scores else None,
            "duplicates": [d.id for d in m.duplicates],
        }
        for m in result.matches
    ]
    return line


def _read_queries(path: Path) -> list[tuple[Any, str]]:
    from orchestrator._files import read_json_lines
    from orchestrator.errors import CatalogError

    out = []
    seen: dict[str, int] = {}
    for number, item in read_json_lines(path, CatalogError, "queries file"):
        where = f"line {number}"
        if not isinstance(item, dict):
            raise CatalogError(
                'expected an object {"id": ..., "query": "text"}', source=str(path), where=where
            )
        if "id" not in item:
            # Each output line is matched to its query by the id: without one it is lost.
            raise CatalogError('missing field "id"', source=str(path), where=where)
        if isinstance(item["id"], bool) or not isinstance(item["id"], str | int | float):
            # A null id came back as no id at all; an object is no key to match lines by.
            raise CatalogError(
                f'field "id": expected a string or a number, got {json.dumps(item["id"])}',
                source=str(path),
                where=where,
            )
        if not isinstance(item.get("query"), str) or not item["query"].strip():
            raise CatalogError(
                'field "query": expected the task text (a non-empty string)',
                source=str(path),
                where=where,
            )
        key = json.dumps(item["id"])
        if key in seen:
            raise CatalogError(
                f"duplicate id {key}, first on line {seen[key]}", source=str(path), where=where
            )
        seen[key] = number
        out.append((item["id"], item["query"]))
    return out


@app.command()
def route(
    query: Annotated[str | None, typer.Argument(help="The task text.")] = None,
    catalog: CatalogOption = None,
    index_dir: IndexOption = None,
    k: Annotated[int, typer.Option("-k", min=1, help="How many skills to return.")] = 5,
    queries: Annotated[
        Path | None,
        typer.Option("--queries", help='JSONL file of {"id": ..., "query": ...} lines.'),
    ] = None,
    policy: PolicyOption = None,
    embedder: EmbedderOption = None,
    cross_encoder: Annotated[
        Path | None,
        typer.Option("--cross-encoder", help="Local path of a CrossEncoder used to rerank."),
    ] = None,
    plan: Annotated[
        bool,
        typer.Option(
            "--plan", help="Also plan each task: the skills to run, in order, with what they need."
        ),
    ] = False,
    usage: UsageOption = None,
    dedupe: DedupeOption = False,
    json_out: JsonOption = False,
) -> None:
    """Route a task (or a JSONL file of tasks) to the best-fitting skills."""
    if (query is None) == (queries is None):
        raise typer.BadParameter(
            "give a task text or --queries FILE"
            if query is None
            else "give either a task text or --queries FILE, not both"
        )
    if query is not None and not query.strip():
        raise _empty_task()
    if usage is not None and not plan:
        raise typer.BadParameter(
            "a usage model only changes plans: add --plan", param_hint="--usage"
        )
    with _errors_exit():
        batch = _read_queries(queries) if queries is not None else [(None, query or "")]
        past = _load_usage(usage)
        router = _open_router(
            catalog,
            index_dir,
            policy,
            embedder,
            cross_encoder,
            show_progress=not json_out,
            dedupe=dedupe,
        )
        results = router.route_batch([text for _, text in batch], k=k)
        plans = _plans(router, policy, [text for _, text in batch], past) if plan else None
    for n, ((query_id, _), result) in enumerate(zip(batch, results, strict=True)):
        if json_out:
            line = _result_line(result, query_id)
            if plans is not None:
                line.update(_plan_fields(plans[n]))
            sys.stdout.write(json.dumps(line) + "\n")
            continue
        _print_route(result, query_id)
        if plans is not None:
            _print_plan(plans[n])
            if not result.fits and plans[n].steps:
                # The verdict reads the first match; the planner weighs the top few on their own.
                console.print(
                    "note: the first match does not fit, but the plan's steps do on their own "
                    "fit (see why); a run would call them",
                    highlight=False,
                )


def _load_usage(path: Path | None) -> Any:
    """The usage model saved at ``path``; None without a path."""
    from orchestrator.errors import UsageFormatError
    from orchestrator.planning import UsageModel

    if path is None:
        return None
    if not path.exists():
        raise UsageFormatError(f"{path}: no usage model there ('run --learn' starts one)")
    return UsageModel.load(path)


def _plans(router: Any, policy: Path | None, tasks: list[str], usage: Any = None) -> list[Any]:
    from orchestrator.planning import Planner
    from orchestrator.policy import load_policy

    planner = Planner.from_router(router, load_policy(policy), usage=usage)
    return [planner.plan(task) for task in tasks]


def _plan_fields(plan: Any) -> dict[str, Any]:
    """What ``--plan`` adds to a JSON line: the plan (``{"id", "name", "needs"}`` per step, in
    order), the values the task writes for its inputs, by ``"skill_id.input"``, the sub-goals
    nothing fits (left out of the plan) and each step's inputs nothing supplies."""
    return {
        "plan": plan.contract(),
        "stated_inputs": dict(plan.stated_inputs),
        "unplanned": list(plan.unplanned),
        "open_inputs": {s.id: list(s.open_inputs) for s in plan.steps if s.open_inputs},
    }


def _print_plan(plan: Any) -> None:
    if plan.steps:
        table = Table(title=f"plan: {escape(plan.task)}")
        table.add_column("#", justify="right")
        table.add_column("skill", overflow="fold")  # ids are copied into --tool: wrap, never cut
        table.add_column("needs", overflow="fold")
        table.add_column("alternatives", overflow="fold")
        table.add_column("why", overflow="fold")
        for n, step in enumerate(plan.steps, start=1):
            stated = [f"{name}={value!r}" for name, value in plan.stated_for(step.id).items()]
            needs = [*step.needs, *stated, *(f"input {name}" for name in step.open_inputs)]
            alternatives = ", ".join(step.alternatives)
            cells = (step.id, ", ".join(needs), alternatives, step.reason)
            table.add_row(str(n), *map(escape, cells))
        console.print(table)
    else:  # an empty table says less than a line
        console.print(f"plan: {escape(plan.task)}: no step", highlight=False)
    if plan.unplanned:
        console.print("no skill fits: " + "; ".join(repr(g) for g in plan.unplanned), markup=False)


def _print_route(result: Any, query_id: Any | None) -> None:
    verdict = "[green]fits[/]" if result.fits else "[yellow]no skill fits[/]"
    title = escape(f"{query_id}: " if query_id is not None else "")
    table = Table(
        title=f"{title}{escape(result.query)}  ({verdict}, threshold {result.threshold:.2f})"
    )
    # The stage evidence only where it fits beside whole ids: ids are copied, never cut.
    evidence = ("bm25", "dense") if console.width >= 100 else ()
    table.add_column("#", justify="right")
    table.add_column("skill", overflow="fold")
    table.add_column("fit", justify="right")  # what the title's threshold applies to
    table.add_column("score", justify="right")
    for column in evidence:
        table.add_column(column, justify="right")
    table.add_column("near-duplicates", overflow="fold")
    for rank, m in enumerate(result.matches, start=1):
        table.add_row(
            str(rank),
            escape(m.skill.id),
            f"{m.scores['fit']:.2f}" if "fit" in m.scores else "-",
            f"{m.score:.3f}",
            *(f"{m.scores.get(column, 0.0):.2f}" for column in evidence),
            escape(", ".join(d.id for d in m.duplicates)),
        )
    console.print(table)


def _import_tool(spec: str) -> tuple[str, Any]:
    """``SKILL=module:function`` -> (skill id, the function or LangChain tool). Modules in the
    working directory import as with ``python -m`` (a console script's ``sys.path`` does not
    hold it)."""
    import importlib

    from orchestrator.catalog._langchain import is_langchain_tool

    skill, sep, target = spec.partition("=")
    module_name, colon, attribute = target.partition(":")
    if not sep or not colon or not skill or not module_name or not attribute:
        raise typer.BadParameter(
            f"expected SKILL=module:function, got {spec!r}", param_hint="--tool"
        )
    if not {"", os.getcwd()} & set(sys.path):
        sys.path.insert(0, os.getcwd())
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise typer.BadParameter(f"cannot import {target}: {exc}", param_hint="--tool") from exc
    except (Exception, SystemExit) as exc:  # the module's own code failed as it was imported
        raise typer.BadParameter(
            f"importing {module_name} failed: {type(exc).__name__}: {exc}", param_hint="--tool"
        ) from exc
    if not callable(function) and not is_langchain_tool(function):
        raise typer.BadParameter(
            f"{target} is neither a function nor a LangChain tool", param_hint="--tool"
        )
    return skill, function


def _empty_task() -> typer.BadParameter:
    """The usage error of a task with no text (route and run): routed, it had matched whatever
    the empty query met first."""
    return typer.BadParameter("the task text is empty: say what the task is", param_hint="TASK")


# The fault kinds --fail takes (the others need more than TIMES: scenario files).
_FAULT_KINDS = ("down", "error", "timeout", "malformed", "rate_limited")


def _parse_fault(spec: str) -> Any:
    """``TOOL:KIND[:TIMES]`` -> an injected fault (kinds as in scenario files)."""
    from pydantic import TypeAdapter, ValidationError

    from orchestrator.scenarios import Fault

    tool, _, rest = spec.partition(":")
    kind, _, times = rest.partition(":")
    expected = (
        f"expected TOOL:KIND[:TIMES], KIND one of {', '.join(_FAULT_KINDS)}, "
        "TIMES (failing calls, then it recovers) for all but down; other faults go in scenario "
        "files"
    )
    if kind in ("latency", "flaky", "missing_input"):
        raise typer.BadParameter(
            f"{spec!r}: a {kind} fault takes more than TIMES; declare it in a scenario file "
            f"({expected})",
            param_hint="--fail",
        )
    if kind not in _FAULT_KINDS:  # pydantic's own list names kinds this option does not take
        raise typer.BadParameter(
            f"{spec!r}: no fault kind {kind!r} ({expected})", param_hint="--fail"
        )
    if kind == "down" and times:
        raise typer.BadParameter(
            f"{spec!r}: a down tool stays down ({expected})", param_hint="--fail"
        )
    data: dict[str, Any] = {"tool": tool, "kind": kind}
    if times:
        data["times"] = times
    try:
        return TypeAdapter(Fault).validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise typer.BadParameter(
            f"{spec!r}: {first['msg']} ({expected})", param_hint="--fail"
        ) from exc


def _run_task(
    orchestrator: Any,
    task: str,
    *,
    graph: Any = None,
    bound: dict[str, Any] | None = None,
    faults: list[Any] | None = None,
    inputs: dict[str, Any] | None = None,
    servers: list[Any] | None = None,
) -> tuple[Any, dict[str, tuple[str, ...]]]:
    """Plan and run ``task``: catalog tools (with ``graph``, its tool nodes) are simulated from
    their outputs schema unless bound to a real function, or called on their live MCP
    ``servers`` (an ``mcpServers`` config's, started for the run and stopped after it);
    ``faults`` are injected around all of them. Returns the result and the required arguments
    simulated tools ran without."""
    import anyio

    from orchestrator._serving import serving
    from orchestrator.scenarios import FaultInjector, SimulatedInvoker

    simulated = None
    if servers is None:
        simulated = SimulatedInvoker(graph if graph is not None else orchestrator.skills.values())

    async def run() -> Any:
        async with serving(
            bound or {},
            orchestrator.skills,
            servers=servers,
            policy=orchestrator.policy.mcp,
            others=simulated,
        ) as invoker:
            if faults:
                invoker = FaultInjector(invoker, faults)
            return await orchestrator.run(task, tools=invoker, inputs=inputs, graph=graph)

    return anyio.run(run), simulated.lacking if simulated is not None else {}


def _note_lacking(lacking: dict[str, tuple[str, ...]]) -> None:
    """Say which required arguments simulated tools ran without: a dry run goes on, a real
    tool would refuse."""
    for skill, missing in lacking.items():
        err_console.print(
            f"note: simulated {escape(skill)} ran without {escape(', '.join(missing))}, which a "
            "real tool needs: "
            "give it with --inputs or write it in the task",
            highlight=False,
        )


def _note_simulated_steps(simulated: Sequence[str]) -> None:
    """Say which steps of a run with real tools were simulations (an alternative of a real tool
    that failed, a skill nobody bound): the run's outcome is not all real."""
    if simulated:
        err_console.print(
            f"note: {escape(', '.join(simulated))} {'was' if len(simulated) == 1 else 'were'} "
            "simulated, "
            "not called: bind with --tool what should really run",
            highlight=False,
        )


def _warn_unplanned_bindings(plan: Any, bound: dict[str, Any], skills: Any) -> None:
    """Say so when a skill bound to a real function is not a step of the plan: the run used
    simulations (or its alternative) instead, which a user binding a real tool would not guess."""
    from orchestrator._keyword_tools import skill_ids

    chosen = {step.id for step in plan.steps}
    for key, skill_id in skill_ids(bound, skills).items():
        if skill_id in chosen:
            continue
        step = next((s for s in plan.steps if skill_id in s.alternatives), None)
        where = (
            f"only an alternative of step {escape(step.id)}, run if that fails"
            if step is not None
            else "not in the plan"
        )
        err_console.print(
            f"[yellow]note:[/] --tool {escape(key)} is {where}; bind the step's skill to run your "
            "function first (see the plan)",
            highlight=False,
            soft_wrap=True,
        )


LLM_APIS = ("openai", "gpt-oss", "qwen", "anthropic")


def _llm_escalation(
    url: str | None, model: str | None, api: str, api_key: str | None, policy: Any
) -> Any:
    """The escalation handler ``--llm`` names (None without it): an LLM asked, in one traced
    call each, when no path is left or a step lacks inputs."""
    from orchestrator.execution import LLMEscalation
    from orchestrator.llm import AnthropicClient, GptOssClient, OpenAICompatibleClient, QwenClient
    from orchestrator.telemetry import TracedLLMClient

    if url is None:
        if model is not None:
            raise typer.BadParameter("needs --llm URL to ask", param_hint="--llm-model")
        return None
    if model is None:
        raise typer.BadParameter("needs --llm-model NAME", param_hint="--llm")
    if api not in LLM_APIS:
        raise typer.BadParameter(f"expected one of {', '.join(LLM_APIS)}", param_hint="--llm-api")
    options = {"api_key": api_key, "policy": policy.llm}
    if api == "anthropic":
        client: Any = AnthropicClient(model, base_url=url, **options)
    else:
        kind = {"openai": OpenAICompatibleClient, "gpt-oss": GptOssClient, "qwen": QwenClient}
        client = kind[api](url, model, **options)
    return LLMEscalation(TracedLLMClient(client))


def _hint_missing_inputs(result: Any, given: dict[str, Any], *, asked: bool) -> None:
    """After a run that ended escalated for want of arguments, say how to give them."""
    if result.outcome != "escalated":
        return
    last = next((d for d in reversed(result.log.entries) if d.action == "escalate"), None)
    missing = last.data.get("missing") if last is not None else None  # none of them given
    if not missing:
        return
    example = json.dumps({**given, **dict.fromkeys(missing, "...")})
    also = "" if asked else ", or have a chat model provide what the task says (--llm, --llm-model)"
    err_console.print(
        f"[yellow]hint:[/] the run lacks {escape(', '.join(missing))}: give "
        f"{'it' if len(missing) == 1 else 'them'} with --inputs '{escape(example)}'{also}",
        highlight=False,
        soft_wrap=True,
    )


def _print_decisions(result: Any) -> None:
    table = Table(title=f"{result.outcome}: {escape(result.task)}")
    table.add_column("ms", justify="right")
    table.add_column("decision")
    table.add_column("tool / goal")
    table.add_column("why")
    for d in result.log:
        table.add_row(f"{d.t_ms:.1f}", d.action, escape(d.tool), escape(d.reason))
    console.print(table)
    console.print(
        f"path: {escape(' > '.join(result.path)) or '-'}   llm calls: {result.llm_calls}   "
        f"reroutes: {result.log.count('reroute')}   retries: {result.log.count('retry')}   "
        f"cost: {result.cost:.4g}   {result.elapsed_ms:.0f} ms"
    )
    if result.path:  # what the run produced: the last step's output (all of them with --json)
        last = result.path[-1]
        shown = _json_text(result.outputs.get(last))
        if len(shown) > _RESULT_CHARS:
            shown = shown[: _RESULT_CHARS - 3] + "..."
        console.print(f"result of {last}: {shown}", markup=False, highlight=False)


# How much of the last step's output the run's table shows.
_RESULT_CHARS = 400


def _json_text(value: Any) -> str:
    """``value`` as strict JSON, whatever the tools returned: keys as text (a tuple key made
    ``json.dumps`` raise after the run had done its work), NaN and infinities as null (strict
    parsers refuse ``NaN``), anything else JSON has no word for as its ``str``."""
    return json.dumps(_jsonable(value), allow_nan=False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {_json_key(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)  # as json.dumps writes such keys: 1 -> "1", True -> "true"
    return str(key)  # ("a", "b") -> "('a', 'b')"


@app.command("run")
def run_command(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="The task text.")],
    catalog: CatalogOption = None,
    index_dir: IndexOption = None,
    graph: Annotated[
        Path | None,
        typer.Option("--graph", help="Run this tool-graph definition instead of the plan's."),
    ] = None,
    tool: Annotated[
        list[str] | None,
        typer.Option(
            "--tool",
            help="Bind a skill to a real function or LangChain tool: SKILL=module:function "
            "(repeatable). Unbound skills are simulated from their outputs schema, except in a "
            "Python catalog (--catalog tools.py), whose own tools run, and an mcpServers "
            "config, whose servers are called.",
        ),
    ] = None,
    fail: Annotated[
        list[str] | None,
        typer.Option(
            "--fail",
            help="Inject a fault: TOOL:KIND[:TIMES] (repeatable), KIND one of "
            f"{', '.join(_FAULT_KINDS)}; TIMES failing calls before it recovers.",
        ),
    ] = None,
    inputs: Annotated[
        str | None,
        typer.Option("--inputs", help='Values the task already has, as JSON: {"param": value}.'),
    ] = None,
    policy: PolicyOption = None,
    embedder: EmbedderOption = None,
    usage: UsageOption = None,
    learn: Annotated[
        bool,
        typer.Option(
            "--learn",
            help="Count the run in the --usage file if it completes (the file is created if "
            "missing, and written atomically).",
        ),
    ] = False,
    llm: Annotated[
        str | None,
        typer.Option(
            "--llm",
            help="Base URL of a chat model asked when no path is left or a step lacks inputs "
            "(to demote the goal, give up, or provide inputs the task states), e.g. a local "
            "server at http://localhost:8000/v1. Without it such runs end escalated.",
        ),
    ] = None,
    llm_model: Annotated[
        str | None, typer.Option("--llm-model", help="The model --llm serves.")
    ] = None,
    llm_api: Annotated[
        str,
        typer.Option("--llm-api", help=f"The wire format --llm speaks: {', '.join(LLM_APIS)}."),
    ] = "openai",
    llm_api_key: Annotated[
        str | None,
        typer.Option(
            "--llm-api-key",
            envvar="ORCHESTRATOR_LLM_API_KEY",
            help="API key for --llm (default: $ORCHESTRATOR_LLM_API_KEY).",
            show_default=False,
        ),
    ] = None,
    trace_file: TraceFileOption = None,
    dedupe: DedupeOption = False,
    json_out: JsonOption = False,
) -> None:
    """Plan a task, build its tool graph and run it with self-healing; exit 1 unless it
    completed (or was demoted to a fallback goal)."""
    from orchestrator import Orchestrator
    from orchestrator._orchestrator import check_tools
    from orchestrator.catalog._modules import catalog_tools
    from orchestrator.graph import load_graph
    from orchestrator.integrations.mcp._config import config_servers
    from orchestrator.policy import load_policy
    from orchestrator.telemetry import tracing

    if not task.strip():
        raise _empty_task()
    values: dict[str, Any] | None = None
    if inputs is not None:
        try:
            values = json.loads(inputs)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"not valid JSON: {exc.msg}", param_hint="--inputs") from exc
        if not isinstance(values, dict):
            raise typer.BadParameter("expected a JSON object", param_hint="--inputs")
    if learn and usage is None:
        raise typer.BadParameter("needs --usage FILE to count the run in", param_hint="--learn")
    with redirect_stdout(sys.stderr):  # what modules print as they are imported
        chosen = dict(_import_tool(spec) for spec in tool or [])
    faults = [_parse_fault(spec) for spec in fail or []]
    with _errors_exit():
        # A Python catalog's functions are its tools and an mcpServers config's servers serve
        # its tools (--tool may replace some); any other catalog is simulated.
        with redirect_stdout(sys.stderr):
            own = catalog_tools(catalog)  # none for no catalog (routing from --index)
        servers = config_servers(catalog)
        if learn and graph is not None:  # the first reason: binding tools would not help
            raise typer.BadParameter(
                "counts plans of the catalog; a run on your --graph is not one",
                param_hint="--learn",
            )
        if learn and not (own or chosen or servers):
            # A dry run shows what would happen; counting it as a past success would teach
            # plans from calls that never ran.
            raise typer.BadParameter(
                "counts real runs, and every tool of this catalog is simulated: bind tools with "
                "--tool, or use a Python catalog or an mcpServers config",
                param_hint="--learn",
            )
        policy_used = load_policy(policy)
        escalation = _llm_escalation(llm, llm_model, llm_api, llm_api_key, policy_used)
        # Without --learn the file must hold a model (checked before indexing); with it, the
        # Orchestrator reads the file, or starts an empty model there, and the run is counted
        # there below if it completed with real tools only.
        past = None if learn else _load_usage(usage)
        tool_graph = load_graph(graph) if graph is not None else None  # before the slow part
        router = _open_router(
            catalog,
            index_dir,
            policy_used,
            embedder,
            None,
            show_progress=not json_out,
            dedupe=dedupe,
        )
        orchestrator = Orchestrator(
            router,
            policy=policy_used,
            usage=usage if learn else past,
            escalation=escalation,
        )
        known = len(orchestrator.usage) if orchestrator.usage is not None else 0
        try:  # a skill name mistyped would leave its function unused and the skill simulated
            check_tools(chosen, orchestrator.skills, tool_graph)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--tool") from exc
        tools = set(tool_graph.tools()) if tool_graph is not None else set(orchestrator.skills)
        for fault in faults:
            if fault.tool not in tools:
                err_console.print(
                    f"note: --fail {escape(fault.tool)}: no such tool in the "
                    f"{'graph' if tool_graph is not None else 'catalog'}; nothing is injected",
                    highlight=False,
                )
        # What the tools print goes to stderr with --json: stdout is one JSON line.
        printed = redirect_stdout(sys.stderr) if json_out else nullcontext()
        with tracing(trace_file, defer_otlp=_after_output(ctx)), printed:
            result, lacking = _run_task(
                orchestrator,
                task,
                graph=tool_graph,
                bound=own | chosen,
                faults=faults,
                inputs=values,
                servers=servers,
            )
    simulated: list[str] = []
    if (own or chosen) and servers is None:
        from orchestrator._keyword_tools import skill_ids

        real = set(skill_ids(own | chosen, orchestrator.skills).values())
        simulated = [tool for tool in result.path if tool not in real]
        _note_simulated_steps(simulated)
    # Only a run whose every call was real teaches plans.
    learned = (
        learn
        and result.outcome == "completed"
        and not simulated
        and orchestrator.count_run(task, result.log.entries)
    )
    if tool_graph is None:  # with --graph the graph's tools run, not the plan's
        _warn_unplanned_bindings(result.plan, chosen, orchestrator.skills)
    if json_out:
        report = result.to_dict()
        if learn:
            report["learned"] = learned
        sys.stdout.write(_json_text(report) + "\n")
    else:
        if tool_graph is None:  # with --graph, the plan is not what ran
            _print_plan(result.plan)
        _print_decisions(result)
        _hint_missing_inputs(result, values or {}, asked=llm is not None)
        if learn:
            console.print(
                f"learned: the run is counted in {usage} ({known + 1} in all)"
                if learned
                else f"not learned: only runs that reach their own goal with real tools only "
                f"are counted in {usage}"
            )
    _note_lacking(lacking)
    if result.outcome not in ("completed", "demoted"):
        raise typer.Exit(1)


DEMO_TASKS = (
    "refund the customer's last card payment",
    "look up the customer by email jane@example.com and open a support ticket about the "
    "double charge",
    "what will the weather be like in Lisbon over the next five days?",
    "order me a large pepperoni pizza",
)
# The run the demo heals: the tool chosen for the refund is down (rerouted to an alternative),
# and another step fails once (retried): the first one, or the alternative the run turns to.
DEMO_RUN = DEMO_TASKS[0]


def _demo_faults(plan: Any) -> list[Any]:
    healable = next((s for s in plan.steps if s.alternatives), None)
    if healable is None:
        return [_parse_fault(f"{plan.steps[0].id}:error:1")] if plan.steps else []
    first = plan.steps[0]
    flaky = first.id if first is not healable else healable.alternatives[0]
    return [_parse_fault(f"{flaky}:error:1"), _parse_fault(f"{healable.id}:down")]


@app.command()
def demo(
    ctx: typer.Context,
    catalog: Annotated[
        Path | None,
        typer.Option(
            "--catalog",
            "-c",
            help="Catalog file or folder (default: the shipped sample catalog, which the demo's "
            "tasks are written for).",
            show_default=False,
        ),
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, help="Matches listed per task.")] = 3,
    trace_file: TraceFileOption = None,
    json_out: JsonOption = False,
) -> None:
    """The whole loop on the sample catalog, offline, with embedded defaults: a few tasks
    routed and planned, then one run whose failures are healed, with its decisions."""
    from orchestrator import Orchestrator
    from orchestrator.telemetry import tracing

    catalog = catalog or SAMPLE_CATALOG
    with _errors_exit():
        router = _open_router(catalog, None, None, None, None, show_progress=not json_out)
        orchestrator = Orchestrator(router)
        results = router.route_batch(list(DEMO_TASKS), k=k)
        plans = [orchestrator.planner.plan(task) for task in DEMO_TASKS]
        faults = _demo_faults(plans[0])
        with tracing(trace_file, defer_otlp=_after_output(ctx)):
            run, lacking = _run_task(orchestrator, DEMO_RUN, faults=faults)
    if json_out:
        for result, plan in zip(results, plans, strict=True):
            line = _result_line(result, None)
            line.update(_plan_fields(plan))
            sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.write(_json_text({"run": run.to_dict()}) + "\n")
        return
    skills_in = f"{len(router.skills)} skills in {escape(catalog.name)}"
    console.print(f"[bold]orchestrator demo[/]: {skills_in}\n")
    for result, plan in zip(results, plans, strict=True):
        _print_route(result, None)
        _print_plan(plan)
    injected = ", ".join(f"{f.tool} {f.kind}" for f in faults)
    console.print(f"\n[bold]run with injected faults[/] ({escape(injected)}):")
    _print_plan(run.plan)
    _print_decisions(run)
    _note_lacking(lacking)


# --- scenario commands (issue 3) ---
scenario_app = typer.Typer(help="Run fault-injection scenarios against the self-healing executor.")
app.add_typer(scenario_app, name="scenario")
_SCENARIO_FILES = typer.Argument(..., help="Scenario YAML files.")


@scenario_app.command("run")
def scenario_run(
    ctx: typer.Context,
    files: list[str] = _SCENARIO_FILES,
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON lines: one object per scenario, as route does."
    ),
    controller: str = typer.Option(
        "router", help="router (the executor), or a baseline: react, static."
    ),
    trace_file: TraceFileOption = None,
) -> None:
    """Run scenarios; exit 1 if any expectation fails, 2 on a malformed file."""
    import json as _json

    import anyio
    from rich.console import Console
    from rich.table import Table

    from orchestrator.errors import ScenarioError, TelemetryError
    from orchestrator.scenarios import CONTROLLERS, ScenarioResult, load_scenario, run_scenario

    if controller not in CONTROLLERS:
        choices = ", ".join(CONTROLLERS)
        raise typer.BadParameter(f"expected one of {choices}", param_hint="--controller")
    from orchestrator.telemetry import tracing

    async def run_all() -> list[ScenarioResult]:
        return [await run_scenario(s, controller) for s in scenarios]

    try:
        # Every file is read first: a bad one stops the command before the trace file is
        # opened, so an earlier trace there is kept.
        scenarios = [load_scenario(f) for f in files]
        # One trace per scenario; also to OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
        with tracing(trace_file, defer_otlp=_after_output(ctx)):
            results = anyio.run(run_all)
    except (ScenarioError, TelemetryError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        for r in results:
            typer.echo(_json.dumps(r.to_dict()))
    else:
        table = Table()
        # Ids and mismatches are read off CI logs: wrap, never cut.
        for column in ("id", "outcome", "path", "llm", "reroutes", "retries", "silent", "ok"):
            table.add_column(column, overflow="fold")
        for r in results:
            row = r.to_dict()
            table.add_row(
                escape(row["id"]),
                row["outcome"],
                escape(" > ".join(row["path"])),
                str(row["llm_calls"]),
                str(row["reroutes"]),
                str(row["retries"]),
                str(row["silent_failures"]),
                "yes" if r.passed else escape("; ".join(r.mismatches)),
            )
        Console().print(table)
    if not all(r.passed for r in results):
        raise typer.Exit(1)


# --- trace commands (issue 6) ---
trace_app = typer.Typer(help="Read traces written with --trace-file (OTLP JSON lines).")
app.add_typer(trace_app, name="trace")


@trace_app.command("show")
def trace_show(
    file: Annotated[Path, typer.Argument(help="An OTLP JSON-lines trace file.")],
    events: Annotated[
        bool, typer.Option("--events/--no-events", help="List each span's decisions.")
    ] = True,
) -> None:
    """Print each trace in FILE as an indented tree with timings and decisions."""
    from orchestrator.telemetry import read_spans, render_traces

    with _errors_exit():
        spans = read_spans(file)
    if not spans:
        err_console.print(f"{file}: no spans", highlight=False, markup=False)
        raise typer.Exit(1)
    for line in render_traces(spans, events=events):
        typer.echo(line)


# --- MCP commands (issue 8): `orchestrator mcp serve|status`; the logic lives in the subpackage ---
from orchestrator.integrations.mcp._cli import mcp_app  # noqa: E402

app.add_typer(mcp_app, name="mcp")
# --- effort commands (issue 5) ---
effort_app = typer.Typer(help="Per-step reasoning effort: evaluate the effort router offline.")
app.add_typer(effort_app, name="effort")


@effort_app.command("replay")
def effort_replay(
    test: Annotated[Path, typer.Argument(help="Replay JSONL to walk (outcomes hidden).")],
    train: Annotated[Path, typer.Option("--train", help="Replay JSONL to fit on.")],
    choices: Annotated[
        Path, typer.Option("--choices", help="Where to write each step's tried efforts (JSONL).")
    ],
    policy: PolicyOption = None,
    save: Annotated[
        Path | None, typer.Option("--save", help="Also save the fitted router to this file.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Fit the effort router on TRAIN, walk TEST step by step, compare with fixed levels."""
    from orchestrator.effort import EffortRouter, fit_and_replay
    from orchestrator.policy import load_policy

    # Checked before the fit, which may take a while: these failed only after it.
    for option, target in (("--choices", choices), ("--save", save)):
        problem = unwritable_because(target) if target is not None else None
        if problem is not None:
            raise typer.BadParameter(problem, param_hint=option)
    with _errors_exit():
        router = EffortRouter(load_policy(policy).effort)
        report = fit_and_replay(test, train, router, choices)
        if save is not None:
            router.save(save)
    summary = report.to_dict()
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    table = Table("policy", "tokens", f"vs fixed-{report.top}", "episode success")
    table.add_column("step success")
    table.add_column("tries")
    for row in summary["results"]:
        # Against a top level that spent nothing there is no ratio (JSON: null).
        ratio = row["tokens_vs_high"]
        table.add_row(
            row["policy"],
            f"{row['tokens']:,.0f}",
            f"{ratio:.1%}" if ratio is not None else "-",
            f"{row['episode_success']:.1%}",
            f"{row['step_success']:.1%}",
            f"{row['attempts_per_step']:.2f}",
        )
    console.print(table)
    console.print(f"choices written to {choices}", soft_wrap=True, highlight=False)
    if save is not None:
        console.print(f"router saved to {save}", soft_wrap=True, highlight=False)


# --- training ---
train_app = typer.Typer(help="Train routing models on your own labelled queries (CPU, offline).")
app.add_typer(train_app, name="train")


@train_app.command("embedder")
def train_embedder(
    queries: Annotated[
        Path,
        typer.Option(
            "--queries",
            "-q",
            help='Labelled queries, JSON lines {"query": ..., "gold": ["skill id", ...]}.',
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the model to.")],
    catalog: CatalogOption = None,
    base: Annotated[
        Path | None,
        typer.Option(
            "--base",
            help="Model to start from (default: the policy's routing.index.embedder, else the "
            "packaged MiniLM).",
        ),
    ] = None,
    epochs: Annotated[int, typer.Option(help="Passes over the examples.")] = 2,
    batch_size: Annotated[int, typer.Option(help="Examples per step (in-batch negatives).")] = 32,
    hard_negatives: Annotated[
        int, typer.Option(min=0, help="Mined look-alike skills per example that do not fit.")
    ] = 1,
    seed: Annotated[int, typer.Option(help="Seed for shuffling and initialisation.")] = 0,
    index_dir: IndexOption = None,
    policy: PolicyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Fine-tune the embedder on queries labelled with the CATALOG skills that fit them. Hard
    negatives are mined by routing each query with the base model. The result is a local
    sentence-transformers directory: route with it by --embedder OUT (the catalog is embedded
    again with it), and judge it on queries it was not trained on."""
    from orchestrator.policy import load_policy
    from orchestrator.routing import fine_tune_embedder, read_labelled_queries, training_examples

    # Checked before minutes of training, which had been lost to a traceback after them.
    problem = unwritable_because(out, folder=True)
    if problem is not None:
        raise typer.BadParameter(problem, param_hint="--out")
    with _errors_exit():
        labelled = read_labelled_queries(queries)
        if base is None and (configured := load_policy(policy).routing.index.embedder):
            base = Path(configured).expanduser()  # go on from the model routing uses now
        router = _open_router(catalog, index_dir, policy, base, None, show_progress=not json_out)
        examples = training_examples(router, labelled, hard_negatives=hard_negatives)
        with _steps_bar(not json_out, "training") as progress:
            report = fine_tune_embedder(
                examples,
                out,
                base=base,
                epochs=epochs,
                batch_size=batch_size,
                seed=seed,
                progress=progress,
            )
    if json_out:
        sys.stdout.write(json.dumps({"out": str(out), **dataclasses.asdict(report)}) + "\n")
        return
    console.print(
        f"trained on [bold]{report.examples}[/] examples for {report.steps} steps "
        f"(loss {report.first_loss:.3f} -> {report.last_loss:.3f}); "
        f"route with it: --embedder {out}",
        highlight=False,
    )


@train_app.command("no-fit")
def train_no_fit(
    queries: Annotated[
        Path,
        typer.Option(
            "--queries",
            "-q",
            help='Labelled queries, JSON lines {"query": ..., "gold": ["skill id", ...]}; '
            '"gold": [] for a query nothing in the catalog fits.',
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Policy file (YAML) to write.")],
    catalog: CatalogOption = None,
    embedder: EmbedderOption = None,
    keep: Annotated[
        float,
        typer.Option(help="Share of the queries some skill fits that must keep fits=true."),
    ] = 0.97,
    refit_weights: Annotated[
        bool | None,
        typer.Option(
            "--refit-weights/--keep-weights",
            help="Fit the model's weights anew, or keep the policy's and set only the "
            "threshold (default: refit with at least 50 queries nothing fits).",
            show_default=False,
        ),
    ] = None,
    index_dir: IndexOption = None,
    policy: PolicyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Calibrate "nothing fits" on queries labelled with the CATALOG skills that fit them,
    some with none. Writes OUT, a policy to route with (--policy OUT): the --policy file's
    settings, the --embedder, and the calibrated routing.no_fit section. Calibrate again after
    training an embedder: the fit model weighs that embedder's cosines. The shares printed are
    on these same queries; judge the policy on others."""
    import yaml

    from orchestrator._files import write_text_atomic
    from orchestrator.policy import read_policy_overlay
    from orchestrator.routing import calibrate_no_fit, read_labelled_queries

    problem = unwritable_because(out)  # before the routing of every query, not after it
    if problem is not None:
        raise typer.BadParameter(problem, param_hint="--out")
    with _errors_exit():
        labelled = read_labelled_queries(queries)
        show = not json_out
        router = _open_router(catalog, index_dir, policy, embedder, None, show_progress=show)
        calibration = calibrate_no_fit(router, labelled, keep=keep, refit_weights=refit_weights)
        overlay = read_policy_overlay(policy) if policy is not None else {}
        routing = overlay.setdefault("routing", {})
        # The model the shares were measured with: the one asked for, or the one the index
        # named by --index was built with (a policy naming none would route with another).
        used = embedder.absolute() if embedder is not None else router.index.embedder_path
        if used is not None:
            routing.setdefault("index", {})["embedder"] = str(used)
        routing["no_fit"] = calibration.policy.model_dump()
        header = f"# No-fit model calibrated on {queries} by `orchestrator train no-fit`.\n"
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out, header + yaml.safe_dump(overlay, sort_keys=False))
    summary = {
        "out": str(out),
        "threshold": calibration.policy.threshold,
        "refitted": calibration.refitted,
        "relevant": calibration.relevant,
        "relevant_fit": calibration.relevant_fit,
        "unrelated": calibration.unrelated,
        "unrelated_flagged": calibration.unrelated_flagged,
    }
    if json_out:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    table = Table("queries", "count", "share", title="on the calibration queries (in-sample)")
    c = calibration
    table.add_row("some skill fits: keep fits", str(c.relevant), f"{c.relevant_fit:.3f}")
    flagged = "n/a" if c.unrelated_flagged is None else f"{c.unrelated_flagged:.3f}"
    table.add_row("nothing fits: flagged", str(c.unrelated), flagged)
    console.print(table)
    how = "weights refitted" if c.refitted else "the policy's weights kept"
    console.print(
        f"threshold {c.policy.threshold} ({how}); route with it: --policy {out}", highlight=False
    )


@contextmanager
def _steps_bar(enabled: bool, label: str) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=None, loss=float("nan"))

        def update(step: int, total: int, loss: float) -> None:
            progress.update(task, completed=step, total=total, loss=loss)

        yield update
