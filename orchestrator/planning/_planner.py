"""Plan a task: route each sub-goal, add the prerequisites that produce the inputs the chosen
skills need, and order the result.

Single-shot retrieval ranks tools one at a time and misses prerequisites, whose text rarely looks
like the task ("book a flight from Boston" never mentions the airport-code lookup that feeds the
booking). The dependency graph finds them; the task's own ranking decides which of the possible
producers this task needs (the cheapest among equals). An optional usage model of past successful
runs adds what no schema shows: state prerequisites (``cd`` before ``mv``), the tools similar past
tasks needed, and the order those runs called them in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from orchestrator.catalog import Skill
from orchestrator.planning._decompose import split_subgoals
from orchestrator.planning._dependencies import DependencyEdge, DependencyGraph, cached_dependencies
from orchestrator.planning._fields import ID_WORDS, LOOKUP_KEY_WORDS, FieldRef, input_fields
from orchestrator.planning._plan import Binding, PlanStep, TaskPlan, given_input
from orchestrator.planning._policy import PlanningPolicy
from orchestrator.planning._task_text import TaskText, naming_words, routing_text
from orchestrator.planning._usage import UsageModel

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from orchestrator.policy import Policy
    from orchestrator.routing import Match, RouteResult, SkillRouter

__all__ = ["Planner"]


def namespace(skill_id: str) -> str:
    """The provider part of a qualified id: ``time_b/get_time`` -> ``time_b``, ``travel.book``
    -> ``travel``; empty for a bare name."""
    for separator in ("/", "."):
        if separator in skill_id:
            return skill_id.rsplit(separator, 1)[0]
    return ""


def provider_of(skill: Skill) -> str:
    """Who provides a skill: its ``metadata["provider"]`` when the catalog says (an MCP tool's
    is its server's replica group, so the same tool on two replicas has one provider), else
    its id's namespace. With replicas ``fast_a`` and ``fast_b`` and ``fast_a``'s
    ``send_email`` denied, a plan had e-mailed with ``fast_a``'s ``slow_send`` (fit 0.24)
    over ``fast_b``'s ``send_email`` (0.58), since its first step came from ``fast_a``."""
    declared = skill.metadata.get("provider")
    return declared if isinstance(declared, str) and declared else namespace(skill.id)


def _ids_with_duplicates(matches: Sequence[Match]) -> set[str]:
    return {skill_id for m in matches for skill_id in (m.id, *(d.id for d in m.duplicates))}


def _first_use(text: TaskText, stated: Mapping[str, Any], skill_id: str, value: Any) -> bool:
    """Whether ``value`` may go to an optional input of ``skill_id``: the one date (e-mail,
    place, file, ...) a task writes and a required input of the skill took (or an optional one
    before it) is not also an optional input's: "fly on 2025-08-03" is the departure's, not
    also the return's."""
    if not text.is_shaped(value):
        return True
    prefix = f"{skill_id}."
    return not any(key.startswith(prefix) and v == value for key, v in stated.items())


def skill_cost(skill: Skill) -> float:
    """A producer's expected cost: price and latency, inflated by unreliability."""
    return (skill.price + skill.latency_ms / 1000.0) / max(skill.reliability, 0.05)


@dataclass
class _Draft:
    """A step while the plan is being built."""

    skill: Skill
    order: float  # sub-goal position; prerequisites sort just before their consumer
    subgoal: str
    reason: str
    score: float
    alternatives: list[str] = field(default_factory=list)
    bindings: list[Binding] = field(default_factory=list)
    # Steps it must follow without taking an input from them (a state change, learned).
    follows: list[str] = field(default_factory=list)
    fit: float | None = None  # the fit model's probability, for the skill routed to
    # The skill's whole near-duplicate group, for a step routed to (``alternatives`` keeps
    # the first few): what the step stands for.
    group: frozenset[str] = frozenset()

    def stands_for(self, skill_id: str) -> bool:
        """Whether ``skill_id`` is this step's skill, an alternative or a near-duplicate."""
        return skill_id == self.skill.id or skill_id in self.alternatives or skill_id in self.group


def _step_standing_for(drafts: Mapping[str, _Draft], skill_id: str) -> str | None:
    """The planned step ``skill_id`` is (its skill, an alternative or a near-duplicate), if any."""
    return next((s for s, d in drafts.items() if d.stands_for(skill_id)), None)


@dataclass(frozen=True)
class _Reading:
    """What a task writes for an input: read from the whole task, else, where the task writes
    several values of the input's kind, from the step's own sub-goal ("write a file A with
    ..., then list the directory B": A is the write's path, B the listing's). A message,
    subject, title or list of addresses is read only from the step's own sub-goal when there
    are several ("commit with message 'bump version' and open a pull request titled Bump
    version": the message is no pull request's body)."""

    task: TaskText
    goals: Mapping[str, TaskText]

    def value(self, subgoal: str, field_ref: FieldRef, named: frozenset[str]) -> Any:
        value = self.task.value(field_ref, named)
        goal = self.goals.get(subgoal)
        if goal is None or (value is not None and not self.task.carries(value)):
            return value
        return goal.value(field_ref, named)


class Planner:
    """Builds ``TaskPlan``s over one routed catalog.

    Parameters
    ----------
    router
        The skill router over the catalog.
    dependencies
        Producer -> consumer edges of the same catalog (see ``Planner.from_router``).
    policy
        The planning section; the embedded default when omitted.
    usage
        What past successful runs did (``UsageModel``): tools they called before a planned step
        join the plan before it, the tools of the most similar past tasks are recalled (only
        a near-paraphrase's when past runs never called the tools the task's routing points
        to), and steps are ordered as those runs called them (see ``UsagePolicy``). None plans
        from routing and schemas alone.
    """

    def __init__(
        self,
        router: SkillRouter,
        dependencies: DependencyGraph,
        policy: PlanningPolicy | None = None,
        *,
        usage: UsageModel | None = None,
    ) -> None:
        self.router = router
        self.dependencies = dependencies
        self.policy = policy or PlanningPolicy()
        self.usage = usage
        self._skills = {s.id: s for s in router.skills}
        self._names = frozenset(s.name.lower() for s in router.skills)
        # Producers of each input (consumer id, input name), ranked by what they are made for.
        self._producer_ranks: dict[tuple[str, str], dict[str, int]] = {}
        # The words naming each skill's inputs (``_input_words``), read once per skill.
        self._naming: dict[str, frozenset[str]] = {}

    @classmethod
    def from_router(
        cls,
        router: SkillRouter,
        policy: Policy | PlanningPolicy | None = None,
        *,
        cache_dir: str | Path | None = None,
        usage: UsageModel | None = None,
    ) -> Planner:
        """Derive (or read from the cache beside the router's index) the dependency graph."""
        planning = policy if isinstance(policy, PlanningPolicy | None) else policy.planning
        planning = planning or PlanningPolicy()
        directory = cache_dir if cache_dir is not None else router.index_dir
        dependencies = cached_dependencies(
            router.skills, router.embedder, planning.dependencies, directory
        )
        return cls(router, dependencies, planning, usage=usage)

    @property
    def skills(self) -> Mapping[str, Skill]:
        return self._skills

    def subgoals(self, task: str) -> list[str]:
        decomposition = self.policy.decomposition
        if decomposition.kind == "none":
            return [task]
        return split_subgoals(task, min_words=decomposition.min_words)

    def routing_queries(self, task: str, goals: Sequence[str]) -> list[str]:
        """What is routed for ``task`` split into ``goals``: the task, and each sub-goal when
        there are several, without the values they quote (``routing_text``)."""
        queries = [task, *goals] if len(goals) > 1 else [task]
        return [routing_text(query, self._names) for query in queries]

    def plan(
        self,
        task: str,
        *,
        subgoals: Sequence[str] | None = None,
        inputs: Mapping[str, Any] | None = None,
        only: Collection[str] | None = None,
        llm_calls: int = 0,
    ) -> TaskPlan:
        """Plan ``task``.

        ``subgoals`` come from a decomposer (default: the rule-based split); ``inputs`` are values
        the caller already has, by parameter name, so no prerequisite is added to produce them;
        ``only`` restricts the plan to these skill ids.
        """
        goals = list(subgoals) if subgoals is not None else self.subgoals(task)
        k = self.policy.candidates
        queries = self.routing_queries(task, goals)
        vectors = self.router.embed_queries(queries)
        routed = self.router.route_batch(queries, k=k, only=only, vectors=vectors)
        whole, per_goal = routed[0], (routed[1:] if len(goals) > 1 else routed)
        # Past tasks are recalled by the whole task: its row serves when nothing was taken out.
        task_vector = vectors[0] if queries[0] == task else None
        return self.assemble(
            task,
            goals,
            whole,
            per_goal,
            inputs=inputs,
            llm_calls=llm_calls,
            recalled=self.recall(task, task_vector, routed=whole),
        )

    def recall(
        self,
        task: str,
        vector: npt.NDArray[np.float32] | None = None,
        *,
        routed: RouteResult | None = None,
    ) -> dict[str, float]:
        """The tools past successful runs of tasks like ``task`` used, with their share (see
        ``UsageModel.recall``); empty without a usage model that knows tasks.

        A task that is not ``familiar`` (past runs never called the tools its routing points
        to) recalls only past tasks at least ``unfamiliar_min_similarity`` alike. ``vector``
        is the task embedded by the router's embedder and ``routed`` its routing result, when
        the caller has them (computed here otherwise)."""
        rules = self.policy.usage
        if self.usage is None or not self.usage.can_recall or rules.neighbours < 1:
            return {}
        embedder = self.router.embedder
        self.usage.embed(embedder)
        if vector is None:
            vector = embedder.encode([task])[0]
        floor = rules.min_similarity
        if rules.min_familiarity > 0.0:
            if routed is None:
                batch = vector.reshape(1, -1)
                routed = self.router.route_batch([task], k=rules.familiar_depth, vectors=batch)[0]
            if not self.familiar(routed):
                floor = max(floor, rules.unfamiliar_min_similarity)
        return self.usage.recall(
            vector,
            neighbours=rules.neighbours,
            min_similarity=floor,
            task=task,
            lexical_weight=rules.lexical_weight,
        )

    def familiar(self, routed: RouteResult) -> bool:
        """Whether past successful runs called at least ``min_familiarity`` of the task's top
        ``familiar_depth`` matches (``routed``: the task's own routing result).

        Their votes say which tools similar tasks needed, but only among the tools they ran:
        for a task on tools they never called (an API added since), a similarly worded past
        task is about other tools, and its recall would replace the right routed steps.
        """
        rules = self.policy.usage
        if self.usage is None:
            return False
        top = routed.matches[: rules.familiar_depth]
        familiarity = self.usage.familiarity([(m.id, *(d.id for d in m.duplicates)) for m in top])
        return familiarity >= rules.min_familiarity

    def assemble(
        self,
        task: str,
        goals: Sequence[str],
        whole: RouteResult,
        per_goal: Sequence[RouteResult],
        *,
        inputs: Mapping[str, Any] | None = None,
        llm_calls: int = 0,
        recalled: Mapping[str, float] | None = None,
    ) -> TaskPlan:
        """The plan from routing results already in hand: ``whole`` for the task, ``per_goal``
        for each sub-goal (the same result as ``whole`` when there is one sub-goal), and the
        tools similar past tasks used (``recall``)."""
        policy = self.policy
        # Rank of each skill in the task's own ranking; a near-duplicate shares its leader's.
        # Tools recalled from similar past tasks stand in for much of that ranking; a past run's
        # tool the catalog no longer has says nothing about this plan.
        recalled = {t: share for t, share in (recalled or {}).items() if t in self._skills}
        reach = policy.usage.prerequisite_window if recalled else policy.prerequisite_window
        window: dict[str, int] = {}
        for rank, match in enumerate(whole.matches[:reach]):
            for skill_id in (match.id, *(d.id for d in match.duplicates)):
                window.setdefault(skill_id, rank)
        provider = self._provider([whole, *per_goal])
        drafts: dict[str, _Draft] = {}
        unplanned: list[str] = []
        if whole.fits and whole.matches:
            best = self._pick(whole, provider) or whole.matches[0]
            # The sub-goal that asks for it (ranks it highest, near the top): it needs no other
            # skill. "create a folder, then write hello into it" ranks write_file second for
            # its first sub-goal and first for its second: the second is the one covered.
            ranks = {
                n: rank
                for n, r in enumerate(per_goal)
                for rank, m in enumerate(r.matches[: policy.subgoal_depth])
                if best.id in _ids_with_duplicates([m])
            }
            covered = min(ranks, key=lambda n: (ranks[n], n)) if ranks else None
            # Its values are read from the sub-goal it covers (a message there is its own).
            goal = goals[covered] if covered is not None and len(goals) > 1 else task
            drafts[best.id] = self._draft(best, float(covered or 0), goal, "the whole task")
        else:
            covered = None
        if len(goals) > 1:
            for position, (goal, result) in enumerate(zip(goals, per_goal, strict=True)):
                if position == covered:
                    continue
                chosen = self._choose(result, provider, window)
                if chosen is None or self._elsewhere(chosen, result, drafts, provider, window):
                    unplanned.append(goal)
                elif not _ids_with_duplicates([chosen]) & set(drafts):
                    drafts[chosen.id] = self._draft(
                        chosen, float(position), goal, f"sub-goal {goal!r}"
                    )
        elif not drafts:
            # The task's first match does not fit; a more fitting one near the top may.
            chosen = self._choose(whole, provider, window)
            if chosen is None:
                unplanned.append(task)
            else:
                drafts[chosen.id] = self._draft(chosen, 0.0, task, "the whole task")

        if recalled:
            ranked = {m.id for r in (whole, *per_goal) for m in r.matches}
            routed = set(drafts)
            self._add_recalled(drafts, recalled, ranked, len(goals), task)
            added = {s: d for s, d in drafts.items() if s not in routed}
            unplanned = self._still_unplanned(unplanned, goals, per_goal, added)
        self._add_precedents(drafts)
        text = _Reading(TaskText.read(task), {g: TaskText.read(g) for g in goals if len(goals) > 1})
        stated: dict[str, Any] = {}  # what the task writes, by "skill_id.input"
        self._close(drafts, window, dict(inputs or {}), text, stated, learned=bool(recalled))
        self._order_as_learned(drafts)
        self._add_stated(drafts, dict(inputs or {}), text, stated)
        return TaskPlan(
            task=task,
            subgoals=tuple(goals),
            steps=self._order(drafts, {**stated, **(inputs or {})}),
            unplanned=tuple(unplanned),
            llm_calls=llm_calls,
            stated_inputs=stated,
        )

    # -- choosing -------------------------------------------------------------------------------

    def _draft(self, match: Match, position: float, goal: str, what: str) -> _Draft:
        fit = match.scores.get("fit", 0.0)
        return _Draft(
            match.skill,
            position,
            goal,
            f"best for {what} (fit {fit:.2f})",
            match.score,
            alternatives=[d.id for d in match.duplicates][: self.policy.alternatives],
            fit=fit,
            group=frozenset(d.id for d in match.duplicates),
        )

    def _provider(self, results: Sequence[RouteResult]) -> str | None:
        """The provider (id namespace) the task's rankings point to, if any.

        Steps of one task usually come from one provider (one MCP server, one API), so each
        ranking votes for the namespaces of its top matches, by fit and rank.
        """
        depth = self.policy.provider_votes
        votes: dict[str, float] = {}
        for result in results:
            for rank, match in enumerate(result.matches[:depth]):
                space = provider_of(match.skill)
                if space:
                    votes[space] = votes.get(space, 0.0) + match.scores.get("fit", 0.0) / (rank + 1)
        if not votes:
            return None
        return max(sorted(votes), key=lambda v: votes[v])

    def _pick(self, result: RouteResult, provider: str | None) -> Match | None:
        """The best match from ``provider`` within the provider depth of ``result``, unless it
        fits far worse than the ranking's best (``provider_margin``): the provider breaks
        near-ties, never overrules a clear fit. A catalog of bare ids and one namespaced tool
        had that tool the task's provider, and planned it (fit 0.06) over the weather tool
        (0.76) for "what's the weather in Paris?"."""
        if provider is None:
            return None
        depth = self.policy.provider_depth
        top = result.matches[:depth]
        floor = max((m.scores.get("fit", 0.0) for m in top), default=0.0)
        floor -= self.policy.provider_margin
        return next(
            (
                m
                for m in top
                if provider_of(m.skill) == provider and m.scores.get("fit", 0.0) >= floor
            ),
            None,
        )

    def _choose(
        self, result: RouteResult, provider: str | None, window: Collection[str]
    ) -> Match | None:
        """A sub-goal's skill, or None when the sub-goal asks for none (small talk, context).

        The sub-goal must fit one of its top matches (the fit model judges each match on its
        own, so a confident second beats an unsure first); its pick is then the best match
        from the task's provider, else its most fitting match if the whole task ranks it too or
        the fit is confident on its own.
        """
        top = result.matches[: self.policy.subgoal_depth]
        if not top:
            return None
        best = max(top, key=lambda m: m.scores.get("fit", 0.0))
        if best.scores.get("fit", 0.0) < result.threshold + self.policy.subgoal_margin:
            return None
        picked = self._pick(result, provider)
        if picked is not None:
            return picked
        confident = best.scores.get("fit", 0.0) >= self.policy.subgoal_confident_fit
        return best if confident or best.id in window else None

    def _elsewhere(
        self,
        chosen: Match,
        result: RouteResult,
        drafts: Mapping[str, _Draft],
        provider: str | None,
        window: Collection[str],
    ) -> bool:
        """Whether a sub-goal's skill is another sub-goal's step while the skill it ranks first,
        one not planned, fits it on its own: "refund order o-1, then open a support ticket
        about the refund" fits the refund best to its second sub-goal too, and the ticket it
        ranks first had been dropped without a word. Such a sub-goal is listed unplanned rather
        than given that skill: adding it lowered the precision of the tuning half's plans
        (bench/README.md, planning run 32). "Then tell me about it" ranks no other skill that
        fits: the step serves it."""
        first = result.matches[:1]
        if not _ids_with_duplicates([chosen]) & set(drafts):
            return False
        if _ids_with_duplicates(first) & set(drafts):
            return False
        return self._choose(replace(result, matches=first), provider, window) is not None

    # -- prerequisites --------------------------------------------------------------------------

    def _add_recalled(
        self,
        drafts: dict[str, _Draft],
        recalled: Mapping[str, float],
        ranked: Collection[str],
        end: int,
        task: str,
    ) -> None:
        """Add the tools most similar past tasks used; drop routed steps none of them used,
        unless that would leave no step at all.

        A recalled tool the task's own rankings also hold needs less of the neighbours' votes
        than one they do not. Only when something is recalled: a task unlike any past one is
        planned from routing.
        """
        rules = self.policy.usage
        added = {
            tool: share
            for tool, share in sorted(recalled.items(), key=lambda kv: (-kv[1], kv[0]))
            if share >= (rules.recall_share if tool in ranked else rules.unranked_share)
        }
        unused = [
            s
            for s, d in drafts.items()
            if not any(recalled.get(i, 0.0) > 0.0 for i in (s, *d.alternatives))
        ]
        if rules.drop_unrecalled and (added or len(unused) < len(drafts)):
            for skill_id in unused:
                del drafts[skill_id]
        taken: set[str] = set()  # steps a recalled tool took: the most used one keeps them
        for tool, share in added.items():
            reason = f"used by {share:.0%} of the most similar past tasks"
            # A near-duplicate or alternative of a step is that step: added as one more, a
            # refund to PayPal planned and run with a refund to Stripe refunded twice. The
            # step takes the tool past runs used, the one routed becoming its alternative.
            covering = _step_standing_for(drafts, tool)
            if covering is None:
                drafts[tool] = _Draft(self._skills[tool], float(end), task, reason, share)
            elif covering != tool and covering not in taken:
                step = drafts.pop(covering)
                step.alternatives = [covering, *(a for a in step.alternatives if a != tool)]
                step.alternatives = step.alternatives[: self.policy.alternatives]
                step.skill, step.reason = self._skills[tool], f"{reason} (over {covering})"
                step.fit = None  # the fit model judged the routed skill, not this one
                drafts[tool] = step
            taken.add(tool)

    def _still_unplanned(
        self,
        unplanned: Sequence[str],
        goals: Sequence[str],
        per_goal: Sequence[RouteResult],
        recalled: Mapping[str, _Draft],
    ) -> list[str]:
        """The sub-goals routing left unplanned that no ``recalled`` step (one recall added)
        covers either: a task with no sub-goals is planned by them, and a sub-goal whose own
        ranking holds one near its top (``subgoal_depth``) is that step's, though nothing
        there fitted alone. A step routing planned covers no more than it did: a sub-goal it
        left out (``_elsewhere``) stays out."""
        if not recalled:
            return list(unplanned)
        if len(goals) == 1:
            return []
        planned = {i for skill_id, d in recalled.items() for i in (skill_id, *d.alternatives)}
        ranking = dict(zip(goals, per_goal, strict=True))
        depth = self.policy.subgoal_depth
        return [
            goal
            for goal in unplanned
            if not _ids_with_duplicates(ranking[goal].matches[:depth]) & planned
        ]

    def _order_as_learned(self, drafts: Mapping[str, _Draft]) -> None:
        """Put each pair of steps in the order past successful runs called them, where they
        did, and it does not contradict an input binding."""
        if self.usage is None:
            return
        for earlier in drafts:
            for later, draft in drafts.items():
                if earlier == later or earlier in draft.follows:
                    continue
                learned = self.usage.before(earlier, later) > self.usage.before(later, earlier)
                if learned and self._orders_before(drafts, earlier, later):
                    draft.follows.append(earlier)

    def _add_precedents(self, drafts: dict[str, _Draft]) -> None:
        """Add what past successful runs of a planned step called before it.

        These are the state prerequisites a schema cannot show (``cd`` before ``mv``, a login
        before ``create_ticket``): the step takes no input from them, so it only follows them.
        """
        if self.usage is None:
            return
        rules = self.policy.usage
        for consumer_id, consumer in list(drafts.items()):
            for precedent in self.usage.precedents(
                consumer_id, min_share=rules.prerequisite_share, min_runs=rules.min_runs
            ):
                if precedent.tool not in self._skills:
                    continue
                # A step that stands for it (itself, or its near-duplicate) is that precedent.
                present = _step_standing_for(drafts, precedent.tool)
                if present is not None:
                    if present != consumer_id and self._orders_before(drafts, present, consumer_id):
                        consumer.follows.append(present)
                    continue
                drafts[precedent.tool] = _Draft(
                    self._skills[precedent.tool],
                    consumer.order - 0.5 + 0.25 * precedent.share,
                    consumer.subgoal,
                    f"ran before {consumer_id} in {precedent.share:.0%} of its "
                    f"{precedent.runs} past successful runs",
                    0.0,
                )
                consumer.follows.append(precedent.tool)

    @staticmethod
    def _orders_before(drafts: Mapping[str, _Draft], earlier: str, later: str) -> bool:
        """Whether ``earlier`` may be put before ``later`` without a cycle."""
        graph = Planner._graph(drafts)
        graph.add_edge(earlier, later)
        return bool(nx.is_directed_acyclic_graph(graph))

    def _close(
        self,
        drafts: dict[str, _Draft],
        window: Mapping[str, int],
        inputs: Mapping[str, Any],
        text: _Reading,
        stated: dict[str, Any],
        *,
        learned: bool = False,
    ) -> None:
        """Add producers for the required inputs the plan cannot otherwise fill; those the task
        writes need none, and their values go to ``stated``.

        A producer qualifies when the task itself ranks it within the prerequisite window (the
        task needs what it does) or it is already in the plan; when none does, one that can run
        on the caller's ``inputs`` alone, else, unless the plan was ``learned`` from similar
        past tasks (which say what such tasks need), one that can run on them and what the
        task writes. See ``_producer`` for which one is chosen. Its own inputs are followed up
        to ``max_depth`` levels.
        """
        frontier = [(skill_id, 0) for skill_id in drafts]
        while frontier:
            consumer_id, depth = frontier.pop(0)
            consumer = drafts[consumer_id]
            named = self._input_words(drafts)
            for field_ref in input_fields(consumer.skill):
                if not field_ref.required or given_input(inputs, consumer_id, field_ref.name):
                    continue
                if self.policy.mentioned_inputs_are_given:
                    value = text.value(consumer.subgoal, field_ref, named)
                    if value is not None:  # the task writes it: a run passes it
                        stated[f"{consumer_id}.{field_ref.name}"] = value
                        continue
                if any(b.input == field_ref.name for b in consumer.bindings):
                    continue
                # A near-duplicate of the consumer does its job; it does not feed it. A skill
                # that needs the very value it would supply (``fetch_payment(payment_id)``
                # returning ``payment_id``) cannot be its source.
                possible = [
                    e
                    for e in self.dependencies.producers(consumer_id, field_ref.name)
                    if e.producer not in consumer.alternatives
                    and (e.producer in drafts or not self._echoes(e, field_ref))
                ]
                edges = [e for e in possible if e.producer in drafts or e.producer in window]
                chosen_by = ""
                if edges and not any(e.producer in drafts for e in edges):
                    # The task needs a new producer here: the one made to supply this input
                    # may rank lower than one supplying it on the side (a geocoder, not the
                    # airport lookup "weather in Lisbon" ranks).
                    edges = self._made_for(consumer_id, field_ref, possible)
                    if len(possible) > 1:
                        chosen_by = f"; the one of its {len(possible)} producers made for it"
                if not edges:
                    # None the task ranks: one that can run on what the caller gave will do,
                    # else the one made for the input of those that can run on what the task
                    # writes ("sunrise in Reykjavik": a geocoder of the place it names).
                    edges = [e for e in possible if self._runs_on(e.producer, inputs)]
                    if not edges and not learned and self.policy.mentioned_inputs_are_given:
                        written = [
                            e
                            for e in possible
                            if self._runs_on_written(e.producer, inputs, text, consumer.subgoal)
                        ]
                        if written:
                            edges = self._made_for(consumer_id, field_ref, written)
                edge = self._producer(edges, drafts, window)
                if edge is None or self._creates_cycle(drafts, edge):
                    continue
                if edge.producer not in drafts:
                    if depth >= self.policy.max_depth:
                        continue
                    others = [e.producer for e in edges if e.producer not in drafts]
                    drafts[edge.producer] = _Draft(
                        self._skills[edge.producer],
                        consumer.order - 0.5 / (depth + 2),
                        consumer.subgoal,
                        f"produces {field_ref.name} for {consumer_id} ({edge.reason}{chosen_by})",
                        0.0,
                        alternatives=[o for o in others if o != edge.producer][
                            : self.policy.alternatives
                        ],
                    )
                    frontier.append((edge.producer, depth + 1))
                consumer.bindings.append(
                    Binding(field_ref.name, edge.producer, edge.output, edge.reason)
                )

    def _add_stated(
        self,
        drafts: Mapping[str, _Draft],
        inputs: Mapping[str, Any],
        text: _Reading,
        stated: dict[str, Any],
    ) -> None:
        """Add to ``stated`` what the task writes for the other inputs of the planned skills
        (optional ones, alternatives' ones), by ``"skill_id.input"``, as the input's JSON type:
        a run passes them too. Not an input the caller gave or a planned step feeds."""
        if not self.policy.mentioned_inputs_are_given:
            return
        named = self._input_words(drafts)
        for skill_id, draft in drafts.items():
            fed = {b.input for b in draft.bindings}
            # The step's own skills serve it; none feeds another (a replica of a tool that
            # echoes its timezone would otherwise "produce" the timezone the task writes).
            options = (skill_id, *draft.alternatives)
            for option in options:
                for field_ref in input_fields(self._skills[option]):
                    name = field_ref.name
                    if (
                        f"{option}.{name}" in stated  # read while closing the plan
                        or name in fed
                        or given_input(inputs, option, name)
                        or any(
                            e.producer in drafts and e.producer not in options
                            for e in self.dependencies.producers(option, name)
                        )
                    ):
                        continue
                    value = text.value(draft.subgoal, field_ref, named)
                    if value is not None and (
                        field_ref.required or _first_use(text.task, stated, option, value)
                    ):
                        stated[f"{option}.{name}"] = value

    def _input_words(self, skill_ids: Iterable[str]) -> frozenset[str]:
        """The words naming the inputs of these skills: a value a task writes after one of
        them is that input's."""
        words: set[str] = set()
        for skill_id in skill_ids:
            known = self._naming.get(skill_id)
            if known is None:
                fields = input_fields(self._skills[skill_id])
                known = self._naming[skill_id] = frozenset().union(*map(naming_words, fields))
            words |= known
        return frozenset(words)

    def _made_for(
        self, consumer_id: str, field_ref: FieldRef, edges: Sequence[DependencyEdge]
    ) -> list[DependencyEdge]:
        """The producers of ``edges`` whose descriptions best match the input they would
        feed: its name and description routed over all its producers, near-duplicates tied.
        Ranked once per input, since a plan of the same catalog asks again. A producer whose
        output has the input's very name comes before those only alike once generic words
        are set aside (``status_incident_id`` from a status page, not ``incidents.id``)."""
        named = [e for e in edges if e.output.rsplit(".", 1)[-1].lower() == field_ref.leaf.lower()]
        if named:
            edges = named
        key = (consumer_id, field_ref.name)
        ranks = self._producer_ranks.get(key)
        if ranks is None:
            producers = [e.producer for e in self.dependencies.producers(*key)]
            routed = self.router.route(field_ref.text(), k=len(producers), only=producers)
            ranks = {}
            for rank, match in enumerate(routed.matches):
                for skill_id in (match.id, *(d.id for d in match.duplicates)):
                    ranks.setdefault(skill_id, rank)
            self._producer_ranks[key] = ranks
        best = min(ranks.get(e.producer, len(ranks)) for e in edges)
        return [e for e in edges if ranks.get(e.producer, len(ranks)) == best]

    def _runs_on(self, skill_id: str, inputs: Mapping[str, Any]) -> bool:
        """Whether the caller's ``inputs`` hold every required input of ``skill_id`` (one with no
        required input does not count: nothing ties it to what the caller gave)."""
        required = [f.name for f in input_fields(self._skills[skill_id]) if f.required]
        return bool(required) and all(given_input(inputs, skill_id, name) for name in required)

    def _runs_on_written(
        self, skill_id: str, inputs: Mapping[str, Any], text: _Reading, subgoal: str
    ) -> bool:
        """Whether every required input of ``skill_id`` is given by the caller or written in
        the task in a shape that says what it is (a place, an e-mail address, a URL, a date, a
        file: ``TaskText.is_shaped``), read for this skill alone. One with no required input
        does not count."""
        fields = [f for f in input_fields(self._skills[skill_id]) if f.required]
        alone = self._input_words([skill_id])
        return bool(fields) and all(
            given_input(inputs, skill_id, f.name)
            or text.task.is_shaped(text.value(subgoal, f, alone))
            for f in fields
        )

    def _echoes(self, edge: DependencyEdge, needed: FieldRef) -> bool:
        """Whether ``edge``'s producer takes the value it would supply, required or not: an
        input named like its output (leaf or whole path: ``target_timezone`` for
        ``target.timezone``; or holding the output's words: ``vs_currency`` for ``currency``)
        or like the consumer's input. Such a skill looks the value up or passes it on (a refund
        returns the amount it was given); whoever could give it that value could give the
        consumer the same."""
        output = edge.output
        supplied = {FieldRef.words_of(output), FieldRef.path_words(output), needed.words}
        named = FieldRef.words_of(output)
        core = named - ID_WORDS

        def holds(words: frozenset[str]) -> bool:
            # An id looked up by another key of the same thing (its e-mail, name, phone) is no
            # echo: find_customer's customer_email gives the customer_id it had been taken to
            # pass on. Other words keep it one, as before: counting place_order's order_type
            # as a key made it the producer of the order_id a cancellation needs.
            keyed = named & ID_WORDS and words - named and words - named <= LOOKUP_KEY_WORDS
            return bool(core) and core <= words and not keyed

        return any(
            f.words and (f.words in supplied or holds(f.words))
            for f in input_fields(self._skills[edge.producer])
        )

    def _producer(
        self,
        edges: Sequence[DependencyEdge],
        drafts: Mapping[str, _Draft],
        window: Mapping[str, int],
    ) -> DependencyEdge | None:
        """A step already planned first (it costs nothing more), then the producer the task
        ranks highest, then the cheapest of equals (near-duplicates share a rank)."""
        if not edges:
            return None
        return min(
            edges,
            key=lambda e: (
                e.producer not in drafts,
                window.get(e.producer, len(window)),
                skill_cost(self._skills[e.producer]),
                -e.score,
                e.producer,
            ),
        )

    @staticmethod
    def _creates_cycle(drafts: Mapping[str, _Draft], edge: DependencyEdge) -> bool:
        if edge.producer not in drafts:
            return False
        return not Planner._orders_before(drafts, edge.producer, edge.consumer)

    @staticmethod
    def _graph(drafts: Mapping[str, _Draft]) -> nx.DiGraph[str]:
        """Each step after the steps it takes inputs from and the steps it follows."""
        graph: nx.DiGraph[str] = nx.DiGraph()
        for skill_id, draft in drafts.items():
            graph.add_node(skill_id)
            for binding in draft.bindings:
                graph.add_edge(binding.step, skill_id)
            for earlier in draft.follows:
                graph.add_edge(earlier, skill_id)
        return graph

    # -- ordering -------------------------------------------------------------------------------

    @staticmethod
    def _order(drafts: Mapping[str, _Draft], inputs: Mapping[str, Any]) -> tuple[PlanStep, ...]:
        """Topological order of the bindings and learned precedents; sub-goal order among
        independent steps. Each step lists the required inputs neither ``inputs`` nor a planned
        step gives it."""
        graph = Planner._graph(drafts)
        sequence = list(
            nx.lexicographical_topological_sort(
                graph, key=lambda n: (drafts[n].order, list(drafts).index(n))
            )
        )
        placed = set(sequence)
        steps = []
        for skill_id in sequence:
            draft = drafts[skill_id]
            needs = tuple(dict.fromkeys(b.step for b in draft.bindings))
            bound = {b.input for b in draft.bindings}
            open_inputs = tuple(
                f.name
                for f in input_fields(draft.skill)
                if f.required and f.name not in bound and not given_input(inputs, skill_id, f.name)
            )
            steps.append(
                PlanStep(
                    id=skill_id,
                    name=draft.skill.name,
                    needs=needs,
                    bindings=tuple(draft.bindings),
                    open_inputs=open_inputs,
                    alternatives=tuple(a for a in draft.alternatives if a not in placed),
                    subgoal=draft.subgoal,
                    reason=draft.reason,
                    score=draft.score,
                    fit=draft.fit,
                )
            )
        return tuple(steps)
