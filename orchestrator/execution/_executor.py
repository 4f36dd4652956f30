"""The executor: run a task along the cheapest healthy plan, healing failures as it goes.

Each step goes through one ``Invoker`` with a timeout, output validation and bounded retries of
transient failures. A step that still fails is masked (its edges weigh ``None``) and the plan is
recomputed from everything already done, so completed steps never run twice. When no plan is left
the escalation handler may demote the goal to a declared fallback or give up, or, when a step was
called without arguments it requires, provide them, and the step is called again. Every decision
lands in one ``DecisionLog``.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from pydantic_core import PydanticSerializationError, to_jsonable_python
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    stop_after_attempt,
)

from orchestrator._json_schema import schema_validator
from orchestrator.effort import EffortRouter, Step
from orchestrator.errors import (
    AnswerCutShortError,
    CircuitOpenError,
    ConnectionLostError,
    EscalationError,
    LLMError,
    MalformedOutputError,
    NoPathError,
    ProviderError,
    RateLimitedError,
    ToolAnswerError,
    ToolCallError,
    ToolFailure,
    ToolNotServedError,
    ToolTimeoutError,
    ToolUnavailableError,
    UnmappedEffortError,
)
from orchestrator.execution._breaker import STATE_HALF_OPEN, CircuitBreaker
from orchestrator.execution._escalation import (
    Demote,
    Escalation,
    EscalationDecision,
    EscalationRequest,
    Provide,
    ask_handler,
    has_choice,
)
from orchestrator.execution._failures import (
    BROKEN_CONNECTION_ERRORS,
    Failure,
    FailureKind,
    classify,
    missing_inputs,
    satisfied,
)
from orchestrator.execution._invoker import (
    EffortInvoker,
    Invoker,
    ProbingInvoker,
    Reasoned,
    takes_effort_of,
)
from orchestrator.execution._log import Decision, DecisionLog, silent_failures
from orchestrator.execution._monitors import DEFAULT_MONITORS, Condition, HealthMonitor, assess
from orchestrator.graph import Fallback, Plan, ToolGraph, ToolStats, Weights, plan_route
from orchestrator.llm import Completion

if TYPE_CHECKING:
    from orchestrator.execution._policy import RetryPolicy
    from orchestrator.policy import Policy

__all__ = ["RUN_CONTEXT_KEYS", "Executor", "Outcome", "RunResult", "calling_tool"]

# The tool whose call this task (and what it starts: tasks, threads) is making. An LLM call made
# inside it (an LLM-backed tool) is traced with the tool's name, as the step's own span is
# written only once the call is over and cannot be its parent.
_CALLING: ContextVar[str | None] = ContextVar("orchestrator_calling_tool", default=None)


def calling_tool() -> str | None:
    """The tool the executor is calling in this context, if any."""
    return _CALLING.get()


# Run inputs that describe the run to the control plane (the task's text, routing signals for
# the effort router) rather than feed a tool: never passed on as a tool's arguments by name.
RUN_CONTEXT_KEYS = frozenset({"task", "routing"})

Outcome = Literal["completed", "demoted", "escalated", "failed"]
# A finished step: the tool, its failure (None on success) and its output.
_StepResult = tuple[str, Failure | None, Any]


@dataclass
class RunResult:
    """How one run ended, the tools that succeeded in order, their outputs and the decision log."""

    outcome: Outcome
    goal: str
    path: list[str]
    outputs: dict[str, Any]
    log: DecisionLog
    llm_calls: int = 0
    conditions: list[Condition] = field(default_factory=list)

    @property
    def reroutes(self) -> int:
        return self.log.count("reroute")

    @property
    def retries(self) -> int:
        return self.log.count("retry")

    def silent_failures(self) -> list[Decision]:
        return silent_failures(self.log)

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable summary the CLI prints with ``--json``."""
        return {
            "outcome": self.outcome,
            "goal": self.goal,
            "path": list(self.path),
            "llm_calls": self.llm_calls,
            "reroutes": self.reroutes,
            "retries": self.retries,
            "decisions": self.log.to_dicts(),
        }


def _as_tool_failure(exc: Exception | SystemExit, tool: str) -> ToolFailure:
    if isinstance(exc, ToolFailure):
        if exc.tool is None:
            exc.tool = tool
        return exc
    if isinstance(exc, LLMError):
        return _llm_failure(exc, tool)
    said = _said(exc)
    if isinstance(exc, TimeoutError):
        # The tool's own (the step's timeout raises ToolTimeoutError): its words say what timed
        # out. Still a timeout: what it waited for may have acted.
        return ToolTimeoutError(said, tool=tool)
    if isinstance(exc, BROKEN_CONNECTION_ERRORS):
        return ConnectionLostError(said, tool=tool)
    if isinstance(exc, ConnectionError):
        return ToolUnavailableError(said, tool=tool)
    return ToolCallError(said, tool=tool)


def _said(exc: BaseException) -> str:
    """``Class: message``, or the class alone: an exception whose ``__str__`` itself fails
    (a library's bug) had crashed the whole run from inside its own failure handling."""
    try:
        text = str(exc)
    except Exception:
        text = ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _more_effort_may_mend(failure: Failure, exc: BaseException) -> bool:
    """Whether a retry at a higher effort may mend a failure: an error of the step's own or an
    answer that did not fit its schema may; a rate limit is not lifted by thinking harder, a
    timeout made likelier, and an answer cut at the token limit or a provider's server error
    is not mended either (``ToolFailure.effort_may_help``)."""
    if failure.kind not in (FailureKind.ERROR, FailureKind.MALFORMED):
        return False
    return not isinstance(exc, ToolFailure) or exc.effort_may_help


# Statuses by which a provider refuses a call for its load, not for what the call asked: 429
# (this caller's rate limit), 503 (service unavailable) and Anthropic's 529 (overloaded_error).
# The same request succeeds once the load passes, and no effort makes it pass sooner.
_LOAD_REFUSALS = frozenset({429, 503, 529})


def _llm_failure(exc: LLMError, tool: str) -> ToolFailure:
    """A step that calls an LLM failed as its HTTP call did: a refusal for load (429, 503,
    Anthropic's 529 overloaded) is a rate limit with its ``Retry-After`` (waited for up to the
    policy's cap, retried at the same effort, the breaker untouched), a timeout may have been
    served (a step not safe to repeat is not sent again), a refused connection is a provider
    down, any other 4xx is the provider's answer to this request (not retried: the same
    request gets the same answer), any other server error (500, 502, 504, ...) or a connection
    dropped before the answer is the provider's fault (retried at the same effort), and an
    effort the client's policy does not map is a call never sent (not retried). A 503 or 529
    had been a generic error, retried after a backoff of milliseconds whatever the server's
    ``Retry-After``, at a higher effort; a 500 had been too, and, with an effort router whose
    plan started at its top effort, not retried at all.

    When the model did answer, the failure carries the output tokens it was billed, for the
    effort router: a refusal is its answer to this request (not retried, rerouted, the model
    not blamed), as is a turn paused for the client to continue (Anthropic's ``pause_turn``,
    which this client does not), and an answer cut at the token limit is not retried at a
    higher effort."""
    message = str(exc)
    answer = exc.answer if isinstance(exc.answer, Completion) else None
    tokens = answer.usage.output_tokens if answer is not None else None
    if answer is not None and (answer.refusal is not None or answer.stop_reason == "pause_turn"):
        # The model declined this request, or paused a turn the client cannot continue: asked
        # again, it answers the same, and it works.
        return ToolAnswerError(message, tool=tool, tokens=tokens)
    if answer is not None and answer.truncated:
        before = not answer.text.strip()
        return AnswerCutShortError(message, tool=tool, tokens=tokens, before_answer=before)
    if isinstance(exc, UnmappedEffortError):
        # Nothing was sent, and the same effort is refused the same way: a configuration error,
        # reported once (not retried, nor escalated to an effort the policy may map no better),
        # and not blamed on the model's health.
        return ToolNotServedError(message, tool=tool)
    if exc.status in _LOAD_REFUSALS:
        return RateLimitedError(message, tool=tool, retry_after=exc.retry_after)
    if exc.timed_out:
        return ToolTimeoutError(message, tool=tool)
    if exc.unreachable:
        return ToolUnavailableError(message, tool=tool)
    if exc.status is not None and 400 <= exc.status < 500 and exc.status != 408:
        return ToolAnswerError(message, tool=tool)
    if exc.dropped or (exc.status is not None and exc.status >= 500):
        return ProviderError(message, tool=tool)
    return ToolCallError(message, tool=tool)


def _ask_again_after(err: LLMError, attempt: int, retry: RetryPolicy) -> float | None:
    """How long to wait before asking an escalation's model again, or None not to: the LLM
    failure read as a step's call is (``_llm_failure``), asked again only for a kind the
    policy retries and, of errors, only for the provider's own (a 5xx, a dropped
    connection): a refusal for load within ``max_retry_after_s``, a timeout."""
    failed = _llm_failure(err, "escalation")
    failure = classify(failed)
    if failure.kind not in retry.transient:
        return None
    if failure.kind is FailureKind.ERROR and not isinstance(failed, ProviderError):
        return None  # an answer that could not be read is asked no better a second time
    if failure.retry_after is not None and failure.retry_after > retry.max_retry_after_s:
        return None
    return max(_backoff_s(retry, attempt), failure.retry_after or 0.0)


def _backoff_s(retry: RetryPolicy, attempt: int) -> float:
    """The wait before try ``attempt + 1`` (a step's, or an escalation's question): doubling
    from ``initial_s``, plus up to ``jitter_s`` so that callers refused together do not all
    come back at the same instant, and at most ``max_s``."""
    doubled = retry.initial_s * 2.0 ** min(attempt - 1, 64)
    return min(retry.max_s, doubled + random.uniform(0.0, retry.jitter_s))


def _route_text(plan: Plan) -> str:
    if not plan.steps:
        return f"{plan.goal} already reached"
    return f"new route {' -> '.join(plan.path)} (cost {plan.cost:.4g})"


class Executor:
    """Runs tasks on one tool graph through one invoker, keeping tool health across runs.

    Parameters
    ----------
    graph
        The tool graph; validated here.
    invoker
        How tools are called (wrap it in a fault injector to test healing).
    policy
        Graph weights and execution settings; the embedded default when omitted.
    escalation
        Asked when no healthy plan is left; without one, such runs end ``escalated``.
    monitors
        Health monitors run beside execution.
    clock
        Monotonic clock for circuit breakers and for how long ago a tool's statistics were
        observed, injectable for tests.
    effort
        Chooses each step's reasoning effort (logged as ``effort`` on its decisions and passed to
        an ``EffortInvoker``); a step retried after an error or a malformed answer runs at a
        strictly higher effort, or is not retried; after a rate limit or a timeout, at the same.
    breakers, stats
        Each tool's circuit breaker and observed statistics, by tool name, when they are shared
        with other executors (a gateway or tool node that builds one per call keeps tool health
        across them): this graph's tools use those, and the ones missing are added there. Own
        ones by default.
    """

    def __init__(
        self,
        graph: ToolGraph,
        invoker: Invoker,
        *,
        policy: Policy | None = None,
        escalation: Escalation | None = None,
        monitors: Sequence[HealthMonitor] = DEFAULT_MONITORS,
        clock: Callable[[], float] = time.monotonic,
        effort: EffortRouter | None = None,
        breakers: dict[str, CircuitBreaker] | None = None,
        stats: dict[str, ToolStats] | None = None,
    ) -> None:
        if policy is None:
            # Imported here: orchestrator.policy imports this package's policy section.
            from orchestrator.policy import load_policy

            policy = load_policy()
        graph.validate()
        self.graph = graph
        self.invoker = invoker
        self.policy = policy
        self.escalation = escalation
        self.monitors = tuple(monitors)
        self.effort = effort
        self.clock = clock
        self._takes_effort: dict[str, bool] = {}  # by tool: see takes_effort
        # When each call now in flight began (perf_counter), by its log and tool: see in_flight_ms.
        self._in_flight: dict[tuple[int, str], float] = {}
        ex = policy.execution
        shared_stats = stats if stats is not None else {}
        shared_breakers = breakers if breakers is not None else {}
        # This graph's tools only (the shared mappings may hold many more), same objects.
        self.stats: dict[str, ToolStats] = {}
        self.breakers: dict[str, CircuitBreaker] = {}
        for t in graph.tools():
            if t not in shared_stats:
                shared_stats[t] = ToolStats.prior(graph.node(t))
            if t not in shared_breakers:
                shared_breakers[t] = CircuitBreaker(
                    ex.breaker.fail_max, ex.breaker.reset_timeout_s, clock=clock
                )
            self.stats[t] = shared_stats[t]
            self.breakers[t] = shared_breakers[t]
        self.conditions: list[Condition] = []
        self._validators: dict[str, Validator] = {}

    # -- health ---------------------------------------------------------------------------------

    def recover(self) -> None:
        """Fade each tool's observed failures and pressure by the time since they were observed
        (``graph.recovery_half_life_s``); a run does this once, as it starts."""
        half_life = self.policy.graph.recovery_half_life_s
        if half_life is None:
            return
        now = self.clock()
        for tool, stats in self.stats.items():
            stats.recover(self.graph.node(tool), now, half_life)

    def assess(self) -> list[Condition]:
        """Run the health monitors now; the result is kept in ``conditions``."""
        self.conditions = assess(
            self.monitors,
            self.graph.nodes(),
            self.stats,
            self.breakers,
            self.policy.execution.monitors,
        )
        return self.conditions

    def known_down(self) -> set[str]:
        """Tools not to route to: breaker open, or a monitor reports them down."""
        down = {t for t, b in self.breakers.items() if not b.allows_call()}
        down.update(c.tool for c in self.conditions if c.kind == "down")
        return down

    async def watch(self) -> None:
        """Run the health monitors every ``interval_s`` until cancelled: probe half-open
        breakers (when the invoker can) and assess. A run starts this only once it has waited
        ``interval_s`` for a step, so a short run pays for no monitor task."""
        interval = self.policy.execution.monitors.interval_s
        while True:
            if isinstance(self.invoker, ProbingInvoker):
                for tool, breaker in self.breakers.items():
                    # The probe is the half-open trial: not while a call is one.
                    if breaker.state == STATE_HALF_OPEN and breaker.begin_call():
                        try:
                            healthy = await self._probe(self.invoker, tool)
                        finally:
                            breaker.end_call()
                        if healthy:
                            breaker.record_success()
                        else:
                            breaker.record_failure()
            self.assess()
            await anyio.sleep(interval)

    async def _probe(self, invoker: ProbingInvoker, tool: str) -> bool:
        """One recovery probe, bounded by the step timeout. A probe that raises or hangs says
        the tool is not back; it had failed the run waiting beside it, or held it for ever."""
        with anyio.move_on_after(self.policy.execution.step_timeout_s):
            try:
                return bool(await invoker.probe(tool))
            except Exception:
                return False
        return False

    # -- planning -------------------------------------------------------------------------------

    def weights(self, masked: Sequence[str] | set[str] = ()) -> Weights:
        return Weights(self.graph, self.policy.graph, self.stats, masked)

    def plan(
        self, *, goal: str | None = None, done: Sequence[str] = (), masked: set[str] | None = None
    ) -> Plan:
        """The current cheapest healthy plan, avoiding tools known to be down."""
        hidden = (masked or set()) | (self.known_down() - set(done))
        return plan_route(self.graph, self.weights(hidden), goal=goal, done=done)

    # -- one step -------------------------------------------------------------------------------

    def _validate_output(self, tool: str, output: Any) -> None:
        """Check ``output`` against the tool's outputs schema, in the JSON form the schema
        describes: a Python tool's ``datetime`` is the ISO text a ``date-time`` string means,
        its ``Decimal`` a number."""
        schema = self.graph.node(tool).outputs
        if schema is None:
            return
        validator = self._validators.get(tool)
        if validator is None:
            validator = self._validators[tool] = schema_validator(dict(schema))
        with contextlib.suppress(PydanticSerializationError):  # no JSON form: checked as is
            output = to_jsonable_python(output)
        error = best_match(validator.iter_errors(output))
        if error is not None:
            where = "/" + "/".join(str(p) for p in error.absolute_path)
            raise MalformedOutputError(f"output {where}: {error.message}", tool=tool)

    def _observe(self, tool: str, elapsed_ms: float, failure: Failure | None) -> None:
        if failure is not None and not failure.blames_tool:
            return  # the call did not fit the tool, or never reached it: nothing learnt
        rate_limited = failure is not None and failure.kind == FailureKind.RATE_LIMITED
        self.stats[tool].observe(
            latency_ms=elapsed_ms,
            failed=failure is not None,
            rate_limited=rate_limited,
            alpha=self.policy.graph.ewma_alpha,
            now=self.clock(),
        )
        breaker = self.breakers[tool]
        if failure is None:
            breaker.record_success()
        elif not rate_limited:
            # A refusal for load says nothing about whether the tool works.
            breaker.record_failure()

    def unsafe_to_repeat(self, tool: str, failure: Failure) -> bool:
        """An ambiguous failure (connection lost mid-call, timeout) of a tool not marked
        read-only or idempotent: the call may have taken effect, so it is never run again."""
        return failure.ambiguous and not self.graph.node(tool).idempotent

    async def invoke_step(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        log: DecisionLog,
        *,
        effort: str | None = None,
        step: Step | None = None,
    ) -> Any:
        """Call ``tool`` once: breaker check, timeout, output validation, health update, log entry.

        A call that reports the tokens it spent (:class:`Reasoned`, or a failure's ``tokens``) is
        logged with them and, given the ``effort`` it ran at and the ``step`` the effort router
        chose it for, observed by that router as an outcome.

        Raises
        ------
        ToolFailure
            The classified failure (also logged as ``fail``).
        """
        breaker = self.breakers[tool]
        if not breaker.begin_call():
            state = breaker.state
            if breaker.trial_in_flight:
                state += ", its trial call in flight"
            chosen = {"effort": effort} if effort is not None else {}
            log.record("fail", tool, f"down: breaker {state}, not called", **chosen)
            raise CircuitOpenError(f"breaker {state}", tool=tool)
        try:
            return await self._call_step(tool, arguments, log, effort=effort, step=step)
        finally:
            breaker.end_call()

    def in_flight_ms(self, log: DecisionLog, tool: str) -> float | None:
        """How long the call of ``tool`` logged to ``log`` has been running, if one is: a run
        stopping it says so with its duration, and its trace then shows the call."""
        started = self._in_flight.get((id(log), tool))
        return None if started is None else (time.perf_counter() - started) * 1000.0

    async def _call_step(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        log: DecisionLog,
        *,
        effort: str | None,
        step: Step | None,
    ) -> Any:
        """``invoke_step`` once its breaker let the call through."""
        node = self.graph.node(tool)
        chosen = {"effort": effort} if effort is not None else {}
        timeout_s = node.timeout_s or self.policy.execution.step_timeout_s
        tokens: float | None = None
        # The checks only with an effort: every step of every run comes through here.
        thinking = (
            self.invoker
            if effort is not None
            and self.takes_effort(tool)
            and isinstance(self.invoker, EffortInvoker)
            else None
        )
        if thinking is None:
            step = None  # a call not made at the effort says nothing of what the effort does
        started = time.perf_counter()
        flight = (id(log), tool)
        self._in_flight[flight] = started
        calling = _CALLING.set(tool)
        try:
            with anyio.move_on_after(timeout_s) as deadline:
                try:
                    if effort is not None and thinking is not None:
                        output = await thinking.invoke_with_effort(tool, arguments, effort)
                    else:
                        output = await self.invoker.invoke(tool, arguments)
                except anyio.get_cancelled_exc_class():
                    if anyio.current_effective_deadline() == -math.inf:
                        raise  # this call is cancelled: its timeout, or the run's end
                    # Raised by the tool, not by a cancellation of ours: it awaited a task
                    # something else cancelled. A failure of the call, not a run ended.
                    raise ToolCallError(
                        "the tool raised a cancellation nobody asked of this call (it awaited "
                        "a task that was cancelled)",
                        tool=tool,
                    ) from None
            if deadline.cancelled_caught:
                raise ToolTimeoutError(f"no answer within {timeout_s:.3g} s", tool=tool)
            if isinstance(output, Reasoned):
                tokens, output = float(output.tokens), output.output
            self._validate_output(tool, output)
        except (Exception, SystemExit) as exc:
            # A tool's sys.exit (a wrapped script's) is its failure: it had ended the process.
            failure_exc = _as_tool_failure(exc, tool)
            failure = classify(failure_exc)
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            self._observe(tool, elapsed_ms, failure)
            if tokens is None and failure_exc.tokens is not None:
                tokens = float(failure_exc.tokens)
            # A refusal, or another answer of the model's own it gives at any effort, says
            # nothing of the effort: its tokens are logged, not learnt from.
            judged = failure.kind is not FailureKind.TOOL_ERROR
            spent = self._learn(step, effort, False, tokens, judged=judged)
            # A tool nothing in the run serves, or a call whose arguments were refused before it
            # went out, was not called: no time spent in it, no price.
            if failure.reached:
                reached: dict[str, Any] = {"duration_ms": elapsed_ms}
            elif failure.kind is FailureKind.BAD_ARGUMENTS:
                reached = {"sent": False}
            else:
                reached = {"served": False}
            log.record(
                "fail",
                tool,
                failure.describe(),
                kind=str(failure.kind),
                **reached,
                **chosen,
                **spent,
            )
            if failure_exc is exc:
                raise
            raise failure_exc from exc
        finally:
            _CALLING.reset(calling)
            self._in_flight.pop(flight, None)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        self._observe(tool, elapsed_ms, None)
        spent = self._learn(step, effort, True, tokens)
        log.record(
            "execute",
            tool,
            f"ok in {elapsed_ms:.2f} ms",
            duration_ms=elapsed_ms,
            **chosen,
            **spent,
        )
        return output

    def _learn(
        self,
        step: Step | None,
        effort: str | None,
        success: bool,
        tokens: float | None,
        *,
        judged: bool = True,
    ) -> dict[str, float]:
        """Tell the effort router how a call it chose the effort of went, when the call said what
        it spent (a call that did not is no evidence of what its effort costs) and its outcome
        is ``judged`` evidence of the effort. Returns the decision data to log: the tokens, when
        known. No reasoning call spends 0 tokens or fewer: such a count (a provider that reports
        no usage reads as 0) is not known either, and had taught the router that effort was
        free."""
        if tokens is None or not math.isfinite(tokens) or tokens <= 0:
            return {}
        if judged and self.effort is not None and step is not None and effort is not None:
            self.effort.observe(step, effort, success, tokens)
        return {"tokens": tokens}

    def takes_effort(self, tool: str) -> bool:
        """Whether calls of ``tool`` take a reasoning effort (``takes_effort_of`` the invoker),
        asked once per tool: every step of every run asks."""
        takes = self._takes_effort.get(tool)
        if takes is None:
            takes = self._takes_effort[tool] = takes_effort_of(self.invoker, tool)
        return takes

    async def run_step(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        log: DecisionLog,
        *,
        step: Step | None = None,
        needed: Callable[[], bool] | None = None,
    ) -> Any:
        """Call ``tool``, retrying transient failures with exponential backoff and jitter, while
        ``needed()`` (when given) says the run still needs the step.

        A ``retry_after`` on a rate-limit refusal is honoured (up to ``max_retry_after_s``; longer
        is treated as a hard failure, so the step is rerouted instead). With an effort router and
        a ``step``, the router picks the first effort and, after an error or a malformed answer,
        each retry's, strictly higher; when it has none left (or judges another try not worth
        its tokens) the failure stands. A rate limit or a timeout is retried at the same effort.
        """
        router = self.effort if step is not None else None
        efforts: list[str] = []
        if router is not None and step is not None:
            efforts.append(router.choose(step))
        policy = self.policy.execution.retry

        def transient(exc: BaseException) -> bool:
            failure = classify(exc)
            if failure.kind not in policy.transient:
                return False
            if self.unsafe_to_repeat(tool, failure):
                return False  # it may have taken effect: never repeated (escalated by _Run)
            if failure.retry_after is not None and failure.retry_after > policy.max_retry_after_s:
                return False
            if router is not None and step is not None:
                if isinstance(exc, AnswerCutShortError) and exc.before_answer:
                    # The whole limit went on reasoning: the same effort spends it so again.
                    efforts.append(router.lower(efforts[-1]) or efforts[-1])
                    return True
                if not _more_effort_may_mend(failure, exc):
                    # A rate limit, a timeout, a server error or an answer cut at the token
                    # limit: the same effort, as more thinking mends none of them, only takes
                    # longer and spends more of the limit.
                    efforts.append(efforts[-1])
                    return True
                tried = replace(step, tried=tuple(efforts), retries=len(efforts) - 1)
                higher = router.escalate(tried, efforts[-1])
                if higher is None:
                    return False
                efforts.append(higher)
            return True

        def should_retry(state: RetryCallState) -> bool:
            # The attempt budget first: on the last attempt the effort router is not asked.
            exc = state.outcome.exception() if state.outcome else None
            if exc is None or state.attempt_number >= policy.max_attempts:
                return False
            if not isinstance(exc, Exception):
                # A cancellation, or a framework's control flow (LangGraph's interrupt): not a
                # failure of the tool (tenacity catches every BaseException): let it through.
                return False
            if needed is not None and not needed():
                return False  # the goal was reached without it: another try buys nothing
            return transient(exc)

        def wait(state: RetryCallState) -> float:
            delay = _backoff_s(policy, state.attempt_number)
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
                delay = max(delay, exc.retry_after)
            return delay

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            kind = classify(exc).kind if exc else "?"
            delay = state.next_action.sleep if state.next_action else 0.0
            log.record(
                "retry",
                tool,
                f"{kind}: attempt {state.attempt_number + 1} of {policy.max_attempts} "
                f"after {delay * 1000.0:.0f} ms",
                attempt=state.attempt_number + 1,
                delay_ms=delay * 1000.0,
                **({"effort": efforts[-1]} if efforts else {}),
            )

        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.max_attempts),
            wait=wait,
            retry=should_retry,
            sleep=anyio.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if router is None or step is None:
                    return await self.invoke_step(tool, arguments, log)
                # Observed as the step first shown, whatever the attempt: the router estimates
                # each effort's chance on the step itself and conditions on failures when it
                # plans a retry, so an outcome is not to be read as already conditioned.
                return await self.invoke_step(tool, arguments, log, effort=efforts[-1], step=step)
        raise AssertionError("tenacity stopped without an outcome")  # pragma: no cover

    # -- a whole run ----------------------------------------------------------------------------

    async def run(
        self, inputs: Mapping[str, Any] | None = None, *, log: DecisionLog | None = None
    ) -> RunResult:
        """Run the task from the start to the goal (or a fallback goal) and say how it ended.

        Health monitors run beside the task (``watch``) while it waits for its steps.
        """
        _check_routing_signals(inputs or {})
        run = _Run(self, dict(inputs or {}), DecisionLog() if log is None else log)
        return await run.drive()


_ROUTING_SIGNALS = ("confidence", "margin", "alternatives")


def _check_routing_signals(inputs: Mapping[str, Any]) -> None:
    """``inputs["routing"]`` (see ``_Run._effort_step``) read before the run: a word where a
    number goes had failed the run mid-way with an error naming no field."""
    routing = inputs.get("routing")
    if routing is None:
        return
    if not isinstance(routing, Mapping):
        raise ValueError(f"inputs.routing: expected a mapping, got {type(routing).__name__}")
    tables = [("inputs.routing", routing)] + [
        (f"inputs.routing.{tool}", v) for tool, v in routing.items() if isinstance(v, Mapping)
    ]
    for where, table in tables:
        for name in _ROUTING_SIGNALS:
            value = table.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise ValueError(f"{where}.{name}: expected a number, got {value!r}")


class _Run:
    """The state of one run: what is done, what failed, which goal is pursued."""

    def __init__(self, executor: Executor, inputs: dict[str, Any], log: DecisionLog) -> None:
        self.ex = executor
        self.graph = executor.graph
        self.inputs = inputs
        self.log = log
        self.first = len(log)  # a log passed in may hold earlier runs
        self.done: set[str] = {self.graph.start}
        self.path: list[str] = []
        self.outputs: dict[str, Any] = {}
        self.failed: dict[str, Failure] = {}
        self.unanswered: list[str] = []
        self.goal = self.graph.goal
        self.tried_goals: set[str] = {self.goal}
        self.demoted = False
        self.escalations = 0
        self.llm_calls = 0
        self.avoided: set[str] = set()
        self.running: dict[str, int] = {}  # step -> its place in start order
        self.scopes: dict[str, anyio.CancelScope] = {}  # each started step's, to stop it
        self.unneeded: set[str] = set()  # steps still running when the goal was reached
        self.noted: set[tuple[str, str]] = set()  # (condition kind, tool) logged this run
        self.started: list[str] = []
        # Ambiguous failures of tools not safe to repeat: the run stops rather than reroute.
        self.uncertain: dict[str, Failure] = {}
        self.watching = False  # the health monitors run beside this run

    def result(self, outcome: Outcome) -> RunResult:
        return RunResult(
            outcome=outcome,
            goal=self.goal,
            path=self.path,
            outputs=self.outputs,
            log=self.log.since(self.first),
            llm_calls=self.llm_calls,
            conditions=list(self.ex.conditions),
        )

    def _announce_avoided(self, down: set[str]) -> None:
        """Log tools known down before they were called, if the cheapest plan would use them."""
        fresh = down - self.avoided - set(self.failed)
        self.avoided |= down
        if not fresh:
            return
        try:
            ideal = plan_route(
                self.graph, self.ex.weights(set(self.failed)), goal=self.goal, done=self.done
            )
        except NoPathError:
            return
        for tool in sorted(fresh & set(ideal.steps)):
            detail = next(
                (c.detail for c in self.ex.conditions if c.tool == tool and c.kind == "down"),
                f"breaker {self.ex.breakers[tool].state}",
            )
            self.log.record("reroute", tool, f"known down ({detail}); avoided before any call")

    def _mid_call(self, tool: str) -> dict[str, float]:
        """The decision data of stopping ``tool``: how long its call ran, when one was running
        (not when it waited between attempts)."""
        elapsed = self.ex.in_flight_ms(self.log, tool)
        return {} if elapsed is None else {"duration_ms": elapsed}

    async def drive(self) -> RunResult:
        """Start every step as soon as what it needs is done; replan after each completion.

        Steps run in one task group, so a slow branch delays only what depends on it. A failure
        masks its tool and the next plan starts from everything done; steps still running keep
        going. With no plan left, running steps are let finish before escalating.
        """
        self.ex.recover()
        self.ex.assess()
        send, finished = anyio.create_memory_object_stream[_StepResult](math.inf)
        error: Exception | None = None
        async with send, finished, anyio.create_task_group() as tg:
            try:
                result = await self._schedule(tg, send, finished)
            except Exception as exc:
                # Raised below as itself, not wrapped in an ExceptionGroup beside the monitors.
                error = exc
            except BaseException:
                # Stopped from outside (Ctrl-C, a cancelled task): the calls it stops are logged,
                # so the log, and the trace made from it, show which tool was running, for how long.
                for tool in list(self.running):
                    mid_call = self._mid_call(tool)
                    if mid_call:
                        why = "stopped mid-call: the run was stopped"
                        self.log.record("cancel", tool, why, **mid_call)
                raise
            finally:
                tg.cancel_scope.cancel()  # the monitors, if started; every step has finished
        if error is not None:
            raise error
        return result

    async def _schedule(
        self,
        tg: TaskGroup,
        send: MemoryObjectSendStream[_StepResult],
        finished: MemoryObjectReceiveStream[_StepResult],
    ) -> RunResult:
        while True:
            if self.uncertain and self.goal not in self.done:
                return await self._escalate_uncertain(tg, finished)
            if self.uncertain:  # a straggler's: the goal was reached without it
                self._hand_back_uncertain(f"; {self.goal} was reached without it")
            down = self.ex.known_down() - self.done
            self._announce_avoided(down)
            try:
                plan = plan_route(
                    self.graph,
                    self.ex.weights(set(self.failed) | down),
                    goal=self.goal,
                    done=self.done,
                )
            except NoPathError as exc:
                if self.running:
                    await self._settle(tg, finished)
                    continue
                ended = await self._escalate(exc)
                if ended is not None:
                    return self.result(ended)
                continue
            for tool in self.unanswered:
                self.log.record(
                    "reroute",
                    tool,
                    f"{self.failed[tool].describe()}; {_route_text(plan)}",
                    path=list(plan.path),
                )
            self.unanswered.clear()
            ready = [s for s in plan.ready(self.done) if s not in self.running]
            states = [s for s in ready if not self.graph.node(s).is_tool]
            self.done.update(states)  # a state is reached once what leads to it is done
            if self.goal in self.done:
                self._let_go()
            if self.goal in self.done and not self.running:
                self.log.record("complete", self.goal, f"reached {self.goal}")
                return self.result("demoted" if self.demoted else "completed")
            if states:
                continue
            for tool in ready:
                self._flag_risk(tool)
                self.running[tool] = len(self.started)
                self.started.append(tool)
                tg.start_soon(self._step, tool, plan.needs[tool], send)
            if not self.running:  # pragma: no cover - a plan always has a ready step
                raise AssertionError(f"plan {plan.steps} has no ready step")
            await self._settle(tg, finished)

    def _let_go(self) -> None:
        """The goal is reached: stop the steps still running that are safe to call again (a
        quorum's slower providers, say), each a logged ``cancel``, rather than wait for them
        and their retries. A step not safe to repeat is let finish: stopped mid-call, it could
        have taken effect in part."""
        for tool in list(self.running):
            self.unneeded.add(tool)  # not tried again if it fails (Executor.run_step's needed)
            if self.graph.node(tool).idempotent:
                self.scopes[tool].cancel()
                del self.running[tool]
                self.log.record(
                    "cancel",
                    tool,
                    f"no longer needed: {self.goal} reached without it",
                    **self._mid_call(tool),
                )

    async def _step(
        self, tool: str, needs: tuple[str, ...], send: MemoryObjectSendStream[_StepResult]
    ) -> None:
        arguments = {"inputs": self.inputs, "upstream": self._upstream(needs)}
        # An effort is chosen only for a step whose tool takes one (a plain function does not:
        # its retries stay retries, not effort escalations).
        takes = self.ex.effort is not None and self.ex.takes_effort(tool)
        step = self._effort_step(tool) if takes else None
        with anyio.CancelScope() as self.scopes[tool]:
            try:
                output = await self.ex.run_step(
                    tool, arguments, self.log, step=step, needed=lambda: tool not in self.unneeded
                )
            except ToolFailure as exc:
                send.send_nowait((tool, classify(exc), None))
            else:
                send.send_nowait((tool, None, output))

    def _upstream(self, needs: tuple[str, ...]) -> dict[str, Any]:
        """Outputs of the tools a step waits for; a state (a join point) stands for the tools
        that reached it."""
        upstream: dict[str, Any] = {}
        pending = list(needs)
        seen: set[str] = set()
        while pending:
            node = pending.pop(0)
            if node in seen:
                continue
            seen.add(node)
            if node in self.outputs:
                upstream[node] = self.outputs[node]
            elif not self.graph.node(node).is_tool and node != self.graph.start:
                pending.extend(p for p in self.graph.predecessors(node) if p in self.done)
        return upstream

    def _task(self) -> str:
        """The task in words: ``inputs["task"]``, else the graph and the goal pursued."""
        task = self.inputs.get("task")
        return task if isinstance(task, str) else f"{self.graph.name}: reach {self.goal}"

    def _effort_step(self, tool: str) -> Step:
        """What the effort router sees of a step: the task (``_task``, with the other inputs),
        the tools done so far, the tool, the failures so far, and routing signals if the caller
        passed them as ``inputs["routing"]`` (``confidence``, ``margin``, ``alternatives``): one
        mapping for every step, or one per tool by its name (as ``Orchestrator`` passes each
        planned step's)."""
        task = self._task()
        others = {k: v for k, v in self.inputs.items() if k not in RUN_CONTEXT_KEYS}
        if others:
            task = f"{task}\ninputs: {json.dumps(others, default=str)[:1000]}"
        routing = self.inputs.get("routing")
        signals = routing if isinstance(routing, Mapping) else {}
        if isinstance(signals.get(tool), Mapping):
            signals = signals[tool]
        confidence, margin = signals.get("confidence"), signals.get("margin")
        return Step(
            task=task,
            tool=tool,
            tool_description=self.graph.node(tool).description,
            history=tuple(self.path),
            confidence=float(confidence) if confidence is not None else None,
            margin=float(margin) if margin is not None else None,
            alternatives=int(signals.get("alternatives") or 0),
            failures=self.log.count("fail", start=self.first),
        )

    async def _settle(
        self, tg: TaskGroup, finished: MemoryObjectReceiveStream[_StepResult]
    ) -> None:
        """Wait for a step to finish and take in every step finished by then. The health
        monitors start beside the run the first time this waits longer than their interval."""
        batch: list[_StepResult] = []
        if not self.watching:
            with anyio.move_on_after(self.ex.policy.execution.monitors.interval_s):
                batch = [await finished.receive()]
            if not batch:
                self.watching = True
                tg.start_soon(self.ex.watch)
        if not batch:
            batch = [await finished.receive()]
        while True:
            try:
                batch.append(finished.receive_nowait())
            except anyio.WouldBlock:
                break
        # A step let go (``_let_go``) may have sent its result as it was stopped: not taken in.
        batch = [r for r in batch if r[0] in self.running]
        # In start order, so the path does not depend on which of simultaneous steps won.
        for tool, failure, output in sorted(batch, key=lambda r: self.running[r[0]]):
            del self.running[tool]
            if failure is None:
                self.done.add(tool)
                self.path.append(tool)
                self.outputs[tool] = output
            else:
                self.failed[tool] = failure
                self.unanswered.append(tool)
                if self.ex.unsafe_to_repeat(tool, failure):
                    self.uncertain[tool] = failure
        self._log_reweights(self.ex.assess())

    async def _escalate_uncertain(
        self, tg: TaskGroup, finished: MemoryObjectReceiveStream[_StepResult]
    ) -> RunResult:
        """Stop after an ambiguous failure of a tool that is not safe to repeat: the call may
        already have taken effect, so neither a retry nor an alternative may run it again."""
        while self.running:
            await self._settle(tg, finished)
        self._hand_back_uncertain()
        return self.result("escalated")

    def _hand_back_uncertain(self, note: str = "") -> None:
        """Log each ambiguous failure of a tool not safe to repeat as an escalation: whether
        it took effect is the caller's to find out."""
        self.unanswered = [t for t in self.unanswered if t not in self.uncertain]
        for tool, failure in self.uncertain.items():
            self.log.record(
                "escalate",
                tool,
                f"{failure.describe()}; {tool} is not marked read-only or idempotent, so the "
                f"call may already have taken effect: not retried, not rerouted{note}",
                kind=str(failure.kind),
                may_have_taken_effect=True,
            )
        self.uncertain.clear()

    def _log_reweights(self, conditions: list[Condition]) -> None:
        """Log each new latency spike or rate-limit pressure with the factor it weighs by now."""
        weights = self.ex.weights()
        for c in conditions:
            if (
                c.kind not in ("latency_spike", "rate_limit_pressure")
                or (c.kind, c.tool) in self.noted
            ):
                continue
            self.noted.add((c.kind, c.tool))
            _, latency, _, pressure = weights.factors(c.tool)
            factor = latency if c.kind == "latency_spike" else pressure
            what = "latency" if c.kind == "latency_spike" else "pressure"
            self.log.record(
                "monitor", c.tool, f"{c.kind}: {c.detail}; edges into it x{factor:.3g} for {what}"
            )

    def _flag_risk(self, tool: str) -> None:
        for c in self.ex.conditions:
            if c.kind == "risk" and c.tool == tool:
                self.log.record("monitor", tool, f"risk: {c.detail}; calling it, on the route")

    def _reachable_fallbacks(self) -> tuple[Fallback, ...]:
        # Offer only fallbacks a plan can still reach, so the handler cannot pick a dead end.
        masked = set(self.failed) | (self.ex.known_down() - self.done)
        reachable = []
        for fallback in self.graph.fallbacks:
            if fallback.goal in self.tried_goals:
                continue
            try:
                plan_route(self.graph, self.ex.weights(masked), goal=fallback.goal, done=self.done)
            except NoPathError:
                continue
            reachable.append(fallback)
        return tuple(reachable)

    async def _ask(self, handler: Escalation, request: EscalationRequest) -> EscalationDecision:
        """The handler's decision; a model refusing the question for load (429, 503, 529), or
        failing to serve it (a server error, a dropped connection, a timeout), is asked again
        as a step's call would be: up to ``retry.max_attempts``, waiting its ``Retry-After`` up
        to ``max_retry_after_s``. A one-second rate limit had ended the run ``failed``."""
        retry = self.ex.policy.execution.retry
        for attempt in range(1, retry.max_attempts + 1):
            self.llm_calls += 1
            try:
                return await ask_handler(handler, request)
            except LLMError as err:
                delay = _ask_again_after(err, attempt, retry)
                if delay is None or attempt == retry.max_attempts:
                    raise
                self.log.record(
                    "retry",
                    self.goal,
                    f"escalation: {err}; attempt {attempt + 1} of {retry.max_attempts} "
                    f"after {delay * 1000.0:.0f} ms",
                    attempt=attempt + 1,
                    delay_ms=delay * 1000.0,
                    escalation=True,  # no tool's retry (DecisionLog.count)
                )
                await anyio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _take_inputs(self, provided: Provide, reason: str) -> None:
        """Add what the handler provided to the run's inputs, and unmask the steps that lacked
        nothing more: the next plan may call them again."""
        self.inputs.update(provided.inputs)
        again = satisfied(self.failed, self.inputs)
        for tool in again:
            del self.failed[tool]
        given = ", ".join(sorted(provided.inputs))
        self.log.record(
            "escalate",
            self.goal,
            f"{reason}; the handler provided {given}; "
            + (f"calling {', '.join(again)} again" if again else "still missing inputs"),
            provided=sorted(provided.inputs),
        )

    async def _escalate(self, exc: NoPathError) -> Outcome | None:
        """Ask the handler; return the final outcome, or None to continue: towards a new goal,
        or with inputs it provided."""
        self.unanswered.clear()
        reason = str(exc)
        handler = self.ex.escalation
        budget = self.ex.policy.execution.escalation.max_escalations
        missing = missing_inputs(self.failed.values(), self.inputs)
        lacking = {"missing": list(missing)} if missing else {}  # what a caller could give
        if handler is None:
            self.log.record("escalate", self.goal, f"{reason}; no escalation handler", **lacking)
            return "escalated"
        if self.escalations >= budget:
            spent = f"{reason}; {budget} escalations spent"
            self.log.record("escalate", self.goal, spent, **lacking)
            return "escalated"
        request = EscalationRequest(
            graph=self.graph.name,
            goal=self.goal,
            done=tuple(sorted(self.done)),
            failed=tuple((t, str(f.kind)) for t, f in self.failed.items()),
            fallbacks=self._reachable_fallbacks(),
            reason=reason,
            task=self._task() if missing else "",
            missing=missing,
        )
        if not has_choice(request):
            said = "no input to ask for, no fallback goal: nothing for the handler to decide"
            self.log.record("escalate", self.goal, f"{reason}; {said}")
            return "escalated"
        self.escalations += 1
        try:
            decision = await self._ask(handler, request)
        except EscalationError as err:
            self.log.record("escalate", self.goal, f"{reason}; handler failed: {err}")
            return "failed"
        if isinstance(decision, Provide):
            self._take_inputs(decision, reason)
            return None
        if not isinstance(decision, Demote):
            self.log.record("escalate", self.goal, f"{reason}; gave up: {decision.reason}")
            return "escalated"
        self.log.record("escalate", self.goal, f"{reason}; handler demotes to {decision.fallback}")
        fallback = self.graph.fallback(decision.fallback)
        description = fallback.description if fallback else ""
        self.log.record("demote", decision.fallback, description or decision.reason)
        self.goal = decision.fallback
        self.tried_goals.add(self.goal)
        self.demoted = True
        return None
