"""The end-to-end loop: task -> plan -> tool graph -> self-healing run.

``Orchestrator`` owns one routed catalog, its dependency graph and a policy. ``run`` plans the
task, turns the plan into a tool graph (alternatives become branches the executor can heal
across), binds each skill's arguments from the caller's inputs and upstream outputs, and executes
through the one executor. The LLM is asked only to decompose (when an LLM decomposer is given)
and to escalate when no path is left.
"""

from __future__ import annotations

import asyncio
import difflib
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio
import anyio.to_thread

from orchestrator._blocked import blocked_steps, missing_arguments, unserved_skills
from orchestrator._serving import Tool, serving, tools_invoker
from orchestrator.catalog import Skill
from orchestrator.catalog._langchain import is_langchain_tool
from orchestrator.catalog._modules import catalog_tools
from orchestrator.errors import EscalationError, UnknownInputError
from orchestrator.execution import (
    AbandonedCalls,
    CheckingInvoker,
    CircuitBreaker,
    Decision,
    DecisionLog,
    Escalation,
    EscalationRequest,
    Executor,
    Invoker,
    Provide,
    RunResult,
    ask_handler,
)
from orchestrator.graph import ToolGraph, ToolStats
from orchestrator.integrations.mcp._config import config_servers
from orchestrator.planning import (
    BindingInvoker,
    Decomposer,
    Planner,
    RuleDecomposer,
    TaskPlan,
    UsageModel,
)
from orchestrator.planning._plan import GOAL, given_input, split_input_key
from orchestrator.policy import Policy, load_policy
from orchestrator.telemetry import span, traced_run

if TYPE_CHECKING:
    from orchestrator.catalog import CatalogSource
    from orchestrator.effort import EffortRouter
    from orchestrator.integrations.mcp import ServerSpec
    from orchestrator.routing import Embedder, SkillRouter

__all__ = ["Orchestrator", "TaskResult"]

T = TypeVar("T")

TaskOutcome = Literal["completed", "demoted", "escalated", "failed"]


@dataclass
class TaskResult:
    """How a task ended: its plan, the run (None when nothing could be planned), the decision
    log, the LLM calls spent and what the tool calls cost."""

    task: str
    plan: TaskPlan
    outcome: TaskOutcome
    log: DecisionLog
    run: RunResult | None = None
    elapsed_ms: float = 0.0
    cost: float = 0.0
    # Times the escalation handler was asked for inputs the run could not start without; each
    # is one control-plane LLM call, as an escalation during the run is.
    input_requests: int = 0
    # The name of the tool graph that ran instead of the plan (``run(graph=...)``), if any.
    graph: str | None = None

    @property
    def outputs(self) -> dict[str, Any]:
        return dict(self.run.outputs) if self.run else {}

    @property
    def path(self) -> list[str]:
        return list(self.run.path) if self.run else []

    @property
    def llm_calls(self) -> int:
        run_calls = self.run.llm_calls if self.run else 0
        return self.plan.llm_calls + self.input_requests + run_calls

    def silent_failures(self) -> list[Decision]:
        return self.run.silent_failures() if self.run else []

    def to_dict(self) -> dict[str, Any]:
        # A run on your graph did not run the plan: only the values the task writes were used.
        ran_plan = self.graph is None
        return {
            "task": self.task,
            "outcome": self.outcome,
            "graph": self.graph,
            "plan": self.plan.contract() if ran_plan else None,
            "unplanned": list(self.plan.unplanned) if ran_plan else [],
            "stated_inputs": dict(self.plan.stated_inputs),
            "path": self.path,
            "llm_calls": self.llm_calls,
            "reroutes": self.log.count("reroute"),
            "retries": self.log.count("retry"),
            "cost": round(self.cost, 6),
            "elapsed_ms": round(self.elapsed_ms, 3),
            "outputs": self.outputs,
            "decisions": self.log.to_dicts(),
        }


class Orchestrator:
    """Plan and run tasks over one catalog.

    Parameters
    ----------
    catalog
        A catalog file, folder or list of skills (indexed on first use), or a ready
        ``SkillRouter``.
    policy
        A ``Policy`` or a policy file merged over the embedded default.
    index_dir
        Where the routing index and the dependency graph are cached.
    embedder
        A local sentence-transformers model path or an ``Embedder`` (default: packaged MiniLM).
    escalation
        Asked when no healthy path is left (to demote the goal, give up, or provide the
        arguments failed steps lacked), and once before a run for the inputs it cannot start
        without, where the tools can tell (``run``). One LLM call each.
    decomposer
        Splits tasks into sub-goals; the rule-based one (no LLM) by default.
    effort
        Sets each step's reasoning effort (and raises it on retries), seeing each step's fit
        and alternatives; it observes every call that reports its tokens (``Reasoned``; a refusal's
        only logged), to be fitted between runs. None by default.
    usage
        What past successful runs did (a ``UsageModel`` or its file): plans add the
        prerequisites those runs show and the tools of similar past tasks (see
        ``policies/default.yaml``, ``planning.usage``). A file that does not exist yet starts an
        empty model.
    learn
        Count each completed run in ``usage`` (one is created when none is given), and save it
        to the ``usage`` file, if one was given, after each.
    dedupe
        Keep the first of skills (functions) sharing an id instead of refusing the catalog, as
        the CLI's ``--dedupe`` does (a ``SkillRouter`` given as ``catalog`` was built already,
        with or without it).

    Tool health outlives a run: each tool's circuit breaker and its observed latency, failure
    rate and rate-limit pressure (``breakers``, ``stats``, by skill id) are shared by every run
    of this orchestrator, so a tool that kept failing in one run is not called by the next while
    its breaker is open, and a flaky provider costs more when the next plan's path is chosen.

    Examples
    --------
    >>> orch = Orchestrator("skills/sample.jsonl")                    # doctest: +SKIP
    >>> result = orch.run_sync("refund order 42 and email the customer",
    ...                        tools={"stripe_refund": refund, ...})  # doctest: +SKIP
    >>> result.outcome, result.path                                   # doctest: +SKIP
    """

    def __init__(
        self,
        catalog: CatalogSource | SkillRouter,
        *,
        policy: Policy | str | Path | None = None,
        index_dir: str | Path | None = None,
        embedder: Embedder | str | Path | None = None,
        escalation: Escalation | None = None,
        decomposer: Decomposer | None = None,
        effort: EffortRouter | None = None,
        usage: UsageModel | str | Path | None = None,
        learn: bool = False,
        dedupe: bool = False,
    ) -> None:
        from orchestrator.routing import SkillRouter

        self.policy = policy if isinstance(policy, Policy) else load_policy(policy)
        # What the catalog brings to run its skills: its functions, or its MCP servers.
        self.tools: Mapping[str, Tool] = {}
        self.servers: list[ServerSpec] | None = None
        if isinstance(catalog, SkillRouter):
            self.router = catalog
        else:
            self.router = SkillRouter.from_catalog(
                catalog, policy=self.policy, index_dir=index_dir, embedder=embedder, dedupe=dedupe
            )
            self.tools = catalog_tools(catalog)
            self.servers = config_servers(catalog)
        self.usage_file: Path | None = None
        if isinstance(usage, str | Path):
            self.usage_file = Path(usage)
            usage = UsageModel.load(usage) if self.usage_file.exists() else UsageModel()
        elif usage is None and learn:
            usage = UsageModel()
        self.usage = usage
        self.learn = learn
        self.planner = Planner.from_router(self.router, self.policy, usage=usage)
        self.escalation = escalation
        self.decomposer = decomposer
        self.effort = effort
        self.breakers: dict[str, CircuitBreaker] = {}
        self.stats: dict[str, ToolStats] = {}
        # Function calls a run abandoned that still run: the next runs must not start them again.
        self.abandoned = AbandonedCalls()

    @property
    def skills(self) -> Mapping[str, Skill]:
        return self.planner.skills

    # -- planning -------------------------------------------------------------------------------

    async def aplan(self, task: str, *, inputs: Mapping[str, Any] | None = None) -> TaskPlan:
        """Plan ``task``; a decomposer (if given) is awaited here, and counted as an LLM call
        unless it is the rule-based one."""
        check_inputs(inputs, self.skills)
        return await self._aplan(task, inputs)

    async def _aplan(self, task: str, inputs: Mapping[str, Any] | None) -> TaskPlan:
        subgoals = None
        llm_calls = 0
        if self.decomposer is not None:
            subgoals = await self.decomposer.decompose(task)
            llm_calls = 0 if isinstance(self.decomposer, RuleDecomposer) else 1
        return await anyio.to_thread.run_sync(
            partial(self.planner.plan, task, subgoals=subgoals, inputs=inputs, llm_calls=llm_calls)
        )

    def plan(self, task: str, *, inputs: Mapping[str, Any] | None = None) -> TaskPlan:
        """``aplan`` for scripts and notebooks. With the rule-based decomposer (or none) no
        event loop is needed, so it also works where one runs (Jupyter); an LLM decomposer's
        plan is awaited in a loop of its own (``aplan`` inside a running one)."""
        check_inputs(inputs, self.skills)
        rules = self.decomposer
        if isinstance(rules, RuleDecomposer) and type(rules).decompose is RuleDecomposer.decompose:
            # Its own split, not a subclass's decompose, which only aplan awaits.
            return self.planner.plan(task, subgoals=rules.split(task), inputs=inputs)
        if self.decomposer is None:
            return self.planner.plan(task, inputs=inputs)
        return _run_in_new_loop("plan", "aplan", partial(self.aplan, task, inputs=inputs))

    # -- running --------------------------------------------------------------------------------

    def _invoker(self, tools: Mapping[str, Tool] | Invoker | None) -> Invoker:
        if isinstance(tools, Invoker):
            return tools
        if tools is None and not self.tools:
            raise TypeError(
                "run() needs tools=: functions by skill id or name, or an Invoker (only a "
                "catalog of functions, a Python file or an mcpServers config brings its own)"
            )
        return tools_invoker({**self.tools, **(tools or {})}, self.skills, abandoned=self.abandoned)

    async def run(
        self,
        task: str,
        *,
        tools: Mapping[str, Tool] | Invoker | None = None,
        inputs: Mapping[str, Any] | None = None,
        plan: TaskPlan | None = None,
        graph: ToolGraph | None = None,
        log: DecisionLog | None = None,
    ) -> TaskResult:
        """Plan ``task`` and run the plan with the self-healing executor.

        ``tools`` are plain functions by skill id or name (called with keyword arguments) or any
        ``Invoker``. A catalog of functions (a Python file, or a list of callables) runs its own
        functions, and an ``mcpServers`` config its servers' tools (the servers started for the
        run); ``tools`` replace or add some. Other catalogs need ``tools``.
        ``inputs`` are values the task already has, by parameter name (or
        ``"skill_id.param"``); one no skill of the catalog takes is refused
        (``UnknownInputError``) unless a ``graph`` is run. The values the task writes
        (``plan.stated_inputs``) join them, the caller's winning. ``plan`` reuses a plan made
        earlier (``aplan``) for this task; ``graph`` runs a tool graph you defined instead of
        the plan's.
        A task that nothing in the catalog fits ends ``escalated`` without running anything; so
        does a plan with a step none of whose skills can be called with the inputs and what the
        steps before it produce (``blocked_steps``), where the invoker can tell before any call:
        plain functions (by their signatures), MCP tools (by their input schemas), simulated
        ones (``CheckingInvoker``). With an escalation handler, the missing inputs are first
        asked for, once.
        """
        if tools is not None and not isinstance(tools, Invoker):
            check_tools(tools, self.skills, graph)
        if graph is None:  # a graph's own tools take whatever inputs their functions name
            check_inputs(inputs, self.skills)
        if self.servers is not None and not isinstance(tools, Invoker):
            # An mcpServers config: its servers run for this task, and serve what tools do not.
            own = {**self.tools, **(tools or {})}
            async with serving(
                own,
                self.skills,
                servers=self.servers,
                policy=self.policy.mcp,
                abandoned=self.abandoned,
            ) as served:
                return await self.run(
                    task, tools=served, inputs=inputs, plan=plan, graph=graph, log=log
                )
        started = time.perf_counter()
        tool_invoker = self._invoker(tools)
        input_requests = 0
        log = DecisionLog() if log is None else log
        first = len(log.entries)  # a log passed in may hold earlier runs
        # One trace per task (when tracing is on): planning and every decision below its root.
        with traced_run(log, task) as traced:
            if plan is None:
                with span("plan", {"gen_ai.operation.name": "plan"}) as plan_span:
                    plan = await self._aplan(task, inputs)  # inputs checked above
                    plan_span.set_attribute("orchestrator.plan.steps", plan.ids)
                    plan_span.set_attribute("orchestrator.plan.unplanned", list(plan.unplanned))
                    plan_span.set_attribute(
                        "orchestrator.plan.stated_inputs", sorted(plan.stated_inputs)
                    )
            if not plan.steps and graph is None:
                log.record(
                    "escalate",
                    task,
                    "no skill in the catalog fits the task; handed back to the agent",
                    unplanned=list(plan.unplanned),
                )
                traced.set_outcome("escalated")
                elapsed = (time.perf_counter() - started) * 1000.0
                return TaskResult(task, plan, "escalated", log.since(first), elapsed_ms=elapsed)
            inputs = _with_stated(plan, inputs or {}, by_skill=graph is None)
            unserved: tuple[str, ...] = ()
            if graph is None and isinstance(tool_invoker, CheckingInvoker):
                # Known before any call: the steps before would take effect for nothing.
                ready, asked, ended = await self._inputs_to_start(
                    task, plan, tool_invoker, inputs or {}, log
                )
                if ready is None:
                    traced.set_outcome(ended, llm_calls=asked)
                    elapsed = (time.perf_counter() - started) * 1000.0
                    this_run = log.since(first)
                    return TaskResult(
                        task, plan, ended, this_run, elapsed_ms=elapsed, input_requests=asked
                    )
                inputs, input_requests = ready, asked
                # Alternatives nothing can call are not tried (each would fail as "not served").
                unserved = unserved_skills(plan, tool_invoker)
                traced.span.set_attribute("orchestrator.plan.unserved", list(unserved))
            if graph is None:
                run_graph = plan.to_graph(self.skills, name="task", leave_out=unserved)
            else:
                run_graph = graph
            invoker = BindingInvoker(
                tool_invoker, plan, self.skills, self.planner.dependencies, given=inputs or {}
            )
            executor = Executor(
                run_graph,
                invoker,
                policy=self.policy,
                escalation=self.escalation,
                effort=self.effort,
                breakers=self.breakers,
                stats=self.stats,
            )
            if traced.recorder is not None:
                traced.recorder.executor = executor  # breaker states on step spans
            # The task and each step's routing ride along for the effort router's view of it.
            context: dict[str, Any] = {"task": task}
            if self.effort is not None:
                context["routing"] = _routing_signals(plan)
            result = await executor.run({**context, **(inputs or {})}, log=log)
            traced.set_result(result)
        this_run = log.since(first)
        # A run on a graph you gave is not a plan of the catalog: its tools teach plans nothing.
        if self.learn and graph is None and result.outcome == "completed":
            self.count_run(task, this_run.entries)
        return TaskResult(
            task,
            plan,
            result.outcome,
            this_run,
            run=result,
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
            cost=self._cost(this_run, run_graph),
            input_requests=input_requests,
            graph=None if graph is None else graph.name or "graph",
        )

    def run_sync(
        self,
        task: str,
        *,
        tools: Mapping[str, Tool] | Invoker | None = None,
        inputs: Mapping[str, Any] | None = None,
        plan: TaskPlan | None = None,
        graph: ToolGraph | None = None,
    ) -> TaskResult:
        """``run`` for scripts (starts its own event loop; inside a running one, await
        ``run``)."""
        return _run_in_new_loop(
            "run_sync",
            "run",
            partial(self.run, task, tools=tools, inputs=inputs, plan=plan, graph=graph),
        )

    async def _inputs_to_start(
        self,
        task: str,
        plan: TaskPlan,
        invoker: CheckingInvoker,
        inputs: Mapping[str, Any],
        log: DecisionLog,
    ) -> tuple[dict[str, Any] | None, int, TaskOutcome]:
        """The inputs the run can start with (None when some step still has no skill that can
        be called: logged as an escalation, nothing ran), the escalation calls spent on them,
        and how the task ends if it cannot start (``failed`` when the handler answered
        nonsense, as during a run).

        A blocked step's missing arguments are asked of the escalation handler once, with the
        task: what it ``Provide``s (say, a payment id the task states) joins the inputs.
        """
        dependencies = self.planner.dependencies
        blocked = blocked_steps(plan, invoker, self.skills, inputs, dependencies)
        if not blocked:
            return dict(inputs), 0, "escalated"
        missing = missing_arguments(blocked)
        why = "; ".join(b.describe() for b in blocked)
        handler, asked = self.escalation, 0
        if handler is not None and missing and self.policy.execution.escalation.max_escalations:
            asked = 1
            request = EscalationRequest(
                graph="task",
                goal=GOAL,
                done=(),
                failed=(),
                fallbacks=(),
                reason=f"not started: {why}",
                task=task,
                missing=missing,
            )
            try:
                decision = await ask_handler(handler, request)
            except EscalationError as err:
                log.record("escalate", task, f"not started: {why}; handler failed: {err}")
                return None, asked, "failed"
            if isinstance(decision, Provide):
                inputs = {**inputs, **decision.inputs}
                given = ", ".join(sorted(decision.inputs))
                log.record(
                    "escalate",
                    task,
                    f"asked for {', '.join(missing)}; the handler provided {given}",
                    provided=sorted(decision.inputs),
                )
                blocked = blocked_steps(plan, invoker, self.skills, inputs, dependencies)
                if not blocked:
                    return dict(inputs), asked, "escalated"
                why = "; ".join(b.describe() for b in blocked)
            else:
                why += f"; the handler: {decision.reason}"
        log.record(
            "escalate",
            task,
            f"not started: no skill of step(s) {why} can be called with the inputs given and "
            "what the steps before produce",
            blocked=[b.step for b in blocked],
            missing=list(missing_arguments(blocked)),
        )
        return None, asked, "escalated"

    def count_run(self, task: str, decisions: Sequence[Decision]) -> bool:
        """Count a completed run of ``task`` (the decisions it logged) in the usage model and
        its file, so the next plans learn from it; False when nothing was counted (no usage
        model, or no tool ran). ``learn=True`` does this after every completed run; a caller
        that knows more (which tools were real) can decide itself."""
        tools = UsageModel.tools_run(list(decisions))
        if self.usage is None or not tools:
            return False
        self.usage.add(task, tools)
        if self.usage_file is not None:
            self.usage.save(self.usage_file)
        return True

    @staticmethod
    def _cost(log: DecisionLog, graph: ToolGraph) -> float:
        """The declared price of every call made, failed ones included (they are billed too):
        the price of its node in the graph run (a plan's nodes carry their skills' prices)."""
        tools = set(graph.tools())
        total = 0.0
        for decision in log:
            called = decision.action in ("execute", "fail") and "duration_ms" in decision.data
            if called and decision.tool in tools:
                total += graph.node(decision.tool).price
        return total


def _routing_signals(plan: TaskPlan) -> dict[str, dict[str, Any]]:
    """What routing knew of each step, by tool (the step's skill and its alternatives): the
    effort router's ``confidence`` (the step's fit, when it was routed to) and the number of
    ``alternatives``."""
    signals: dict[str, dict[str, Any]] = {}
    for step in plan.steps:
        known: dict[str, Any] = {"alternatives": len(step.alternatives)}
        if step.fit is not None:
            known["confidence"] = step.fit
        for tool in (step.id, *step.alternatives):
            signals.setdefault(tool, known)
    return signals


def _with_stated(
    plan: TaskPlan, inputs: Mapping[str, Any], *, by_skill: bool = True
) -> dict[str, Any]:
    """The caller's ``inputs`` and the values the task writes for the plan's skills, except
    where the caller gave that input (for any skill or this one). Without ``by_skill`` (a run
    on a graph of other tools than the plan's) they go by input name alone, where the task
    writes one value for that name: "refund order 123" gives the graph's tools ``order_id``."""
    stated = {
        key: value
        for key, value in plan.stated_inputs.items()
        if not given_input(inputs, *split_input_key(key))
    }
    if not by_skill:
        by_name: dict[str, list[Any]] = {}
        for key, value in stated.items():
            by_name.setdefault(split_input_key(key)[1], []).append(value)
        stated = {name: vs[0] for name, vs in by_name.items() if all(v == vs[0] for v in vs)}
    return {**stated, **inputs}


def check_tools(
    tools: Mapping[str, Tool], skills: Mapping[str, Skill], graph: ToolGraph | None
) -> None:
    """Refuse, before anything runs, a tool that is not callable or a key naming no skill (nor
    a tool of the ``graph`` run): a typo would otherwise leave the function unused, silently."""
    names = {*skills, *(s.name for s in skills.values())}
    if graph is not None:
        names |= set(graph.tools())
    for key, tool in tools.items():
        if not callable(tool) and not is_langchain_tool(tool):
            expected = "expected a function or a LangChain tool"
            raise TypeError(f"tools[{key!r}]: {expected}, got {tool!r}")
        if key not in names:
            near = difflib.get_close_matches(key, sorted(names), n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise ValueError(f"tools[{key!r}]: no skill has that id or name{hint}")


def check_inputs(inputs: Mapping[str, Any] | None, skills: Mapping[str, Skill]) -> None:
    """Refuse an input that no skill of the catalog takes, by name (``order_id``) or as
    ``"skill_id.name"``: it would be bound to nothing, silently, and the step it was meant for
    would run without it (or the run would stop for want of it)."""
    if not inputs:
        return  # every plan and run asks: a 100K-skill catalog's names took 70 ms to gather
    names: set[str] | None = None
    for key in inputs:
        skill_id, name = split_input_key(key)
        skill = skills.get(skill_id)
        if skill is not None and name in skill.parameter_names():
            continue
        if names is None:
            names = {n for s in skills.values() for n in s.parameter_names()}
        if key in names:
            continue
        raise UnknownInputError(f"inputs[{key!r}]: {_unknown_input(skill_id, name, skills, names)}")


def _unknown_input(
    skill_id: str, name: str, skills: Mapping[str, Skill], names: Collection[str]
) -> str:
    """Why no skill takes input ``name`` (of ``skill_id``, when the key named one), and the
    nearest key that one does."""

    def nearest(word: str, known: Collection[str], shown: Callable[[str], str] = str) -> str:
        near = difflib.get_close_matches(word, sorted(known), n=3)
        return f"; did you mean {', '.join(shown(n) for n in near)}?" if near else ""

    if not skill_id:
        return f"no skill in the catalog takes an input of that name{nearest(name, names)}"
    skill = skills.get(skill_id)
    if skill is not None:
        known = skill.parameter_names()
        said = f"skill {skill_id!r} has no input {name!r}"
        hint = nearest(name, known, lambda n: f"{skill_id}.{n}")
        return said + (hint or f"; it takes {', '.join(known) or 'none'}")
    by_name = [s.id for s in skills.values() if s.name == skill_id and name in s.parameter_names()]
    if by_name:
        return f"an input of one skill is keyed by the skill's id: {by_name[0]}.{name}"
    return f"no skill has the id {skill_id!r}{nearest(skill_id, skills)}"


def _run_in_new_loop(name: str, awaited: str, call: Callable[[], Awaitable[T]]) -> T:
    """Run ``call`` in an event loop of its own, as the sync methods do; inside a running loop
    (async code, Jupyter) anyio's bare "Already running asyncio in this thread" had said
    nothing of what to do instead."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.run(call)
    raise RuntimeError(
        f"{name}() starts an event loop of its own, and one is running here: "
        f"use `await orchestrator.{awaited}(...)` instead"
    )
