"""The planning section of a policy: when one skill's output feeds another's input, how tasks
are split, and how much of the catalog a plan may draw on."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DecompositionPolicy", "DependencyPolicy", "PlanningPolicy", "UsagePolicy"]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DependencyPolicy(_Section):
    """Thresholds for a producer -> consumer edge (an output field feeding a required input)."""

    name_overlap: float = Field(
        default=0.67,
        ge=0.0,
        le=1.0,
        description="Least Jaccard overlap of the two fields' specific name words.",
    )
    description_similarity: float = Field(
        default=0.75,
        ge=0.0,
        le=1.0,
        description="Least cosine similarity of the fields' embedded names and descriptions.",
    )
    max_producers: int = Field(default=8, ge=1, description="Producers kept per input, best first.")


class DecompositionPolicy(_Section):
    """How a task is split into sub-goals before routing."""

    kind: Literal["rules", "none"] = Field(
        default="rules",
        description="rules: split on sentences, sequencing words and conjunctions (no LLM); "
        "none: route the task whole. An LLM decomposer is passed in code.",
    )
    min_words: int = Field(
        default=2, ge=1, description="Shorter fragments are merged into their neighbour."
    )


class UsagePolicy(_Section):
    """How a usage model of past successful runs (``UsageModel``) adds steps to a plan."""

    prerequisite_share: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="A tool joins the plan before a planned step when past successful runs of "
        "that step called it first at least this often (a state change no schema shows).",
    )
    min_runs: int = Field(
        default=3,
        ge=1,
        description="A step's past runs are trusted only when there are at least this many.",
    )
    neighbours: int = Field(
        default=4,
        ge=0,
        description="Past tasks most like the new one whose tools are recalled; 0 turns recall "
        "off.",
    )
    recall_share: float = Field(
        default=0.4,
        ge=0.0,
        le=1.0,
        description="A recalled tool joins the plan when it served at least this share of the "
        "neighbours (weighted by similarity).",
    )
    unranked_share: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="recall_share for a tool none of the task's rankings (task and sub-goals) "
        "holds.",
    )
    lexical_weight: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="How much of a past task's similarity is the TF-IDF cosine of the words "
        "(the rest: the cosine of the embeddings).",
    )
    min_similarity: float = Field(
        default=0.2,
        ge=-1.0,
        le=1.0,
        description="Past tasks less alike than this (blended similarity) are not recalled: a "
        "task unlike any past one is planned from routing alone.",
    )
    # Similar wording is no evidence that past runs know the tools a task needs: turns about an
    # API no past run called ("cancel the order") read like turns about another ("cancel the
    # booking"), and their recall replaced the right routed tools (bench/README.md, issue 4).
    familiar_depth: int = Field(
        default=10,
        ge=1,
        description="How many of the task's own top matches are checked against past runs "
        "(a match counts when it or one of its near-duplicates was called).",
    )
    min_familiarity: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="A task is familiar when past successful runs called at least this share "
        "of its top familiar_depth matches; 0 counts every task as familiar.",
    )
    unfamiliar_min_similarity: float = Field(
        default=0.4,
        ge=-1.0,
        le=1.0,
        description="min_similarity for a task that is not familiar: past runs never called "
        "the tools its routing points to, so only a near-paraphrase of a past task is recalled "
        "(the higher of the two applies).",
    )
    prerequisite_window: int = Field(
        default=0,
        ge=0,
        description="The planning prerequisite_window used when similar past tasks were "
        "recalled: their tools stand in for the task's ranking (0: producers only from the "
        "plan itself).",
    )
    drop_unrecalled: bool = Field(
        default=True,
        description="When similar past tasks are recalled, a routed step none of them used is "
        "left out: routing is unsure on chatty tasks, and their runs know the catalog.",
    )


class PlanningPolicy(_Section):
    """How a plan is built from routed sub-goals and the dependency graph."""

    dependencies: DependencyPolicy = DependencyPolicy()
    decomposition: DecompositionPolicy = DecompositionPolicy()
    usage: UsagePolicy = UsagePolicy()
    candidates: int = Field(
        default=20, ge=1, description="Skills retrieved per sub-goal (and for the whole task)."
    )
    prerequisite_window: int = Field(
        default=5,
        ge=0,
        description="A producer is added as a prerequisite only if the task itself ranks it "
        "this high: its input must look needed by this task, not merely satisfiable.",
    )
    subgoal_margin: float = Field(
        default=0.0,
        description="A sub-goal's best skill joins the plan only if its fit probability is at "
        "least the no-fit threshold plus this margin.",
    )
    subgoal_depth: int = Field(
        default=3, ge=1, description="A sub-goal's skill is sought among this many top matches."
    )
    subgoal_confident_fit: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="A sub-goal's skill outside the task's own top matches joins the plan only "
        "with at least this fit.",
    )
    provider_votes: int = Field(
        default=10,
        ge=0,
        description="Each ranking (task and sub-goals) votes for the providers (id namespaces) "
        "of this many top matches; 0 turns the provider prior off.",
    )
    provider_depth: int = Field(
        default=10,
        ge=1,
        description="How far down a ranking a skill of the task's provider is preferred.",
    )
    provider_margin: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="The provider's skill is preferred only if its fit is within this much of "
        "the ranking's best fit.",
    )
    mentioned_inputs_are_given: bool = Field(
        default=True,
        description='An input the task writes a value for ("my access token is abc123", '
        '"in fahrenheit", "a pet named Rex") needs no producer, and a run passes the value.',
    )
    alternatives: int = Field(
        default=2, ge=0, description="Alternative skills kept per step for healing."
    )
    max_depth: int = Field(default=3, ge=0, description="Levels of prerequisites followed.")
