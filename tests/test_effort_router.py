"""The effort router: learns which steps need which effort, plans escalation, persists."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from orchestrator.effort import EffortPolicy, EffortPrior, EffortRouter, Observation, Step
from orchestrator.errors import EffortError

LEVELS = ("low", "medium", "high")
TOKENS = {"low": 200.0, "medium": 800.0, "high": 3000.0}


def named(tool: str) -> Step:
    """A step whose request names its tool: easy."""
    return Step(task=f"please {tool} the report file", tool=tool)


def implied(tool: str) -> Step:
    """A step whose request does not name its tool: in this world it needs high effort."""
    return Step(task="get the quarterly numbers sorted out", tool=tool)


def world(n: int = 60, seed: int = 0) -> list[Observation]:
    """Named steps succeed at every level; implied ones only at high."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        tool = rng.choice(["grep", "sort", "archive", "upload"])
        step = named(tool) if i % 2 else implied(tool)
        for level in LEVELS:
            success = level == "high" or (step is not None and i % 2 == 1)
            out.append(Observation(step, level, success, TOKENS[level] * rng.uniform(0.9, 1.1)))
    return out


def signals_router(**overrides: object) -> EffortRouter:
    return EffortRouter(EffortPolicy.model_validate({"features": "signals", **overrides}))


@pytest.mark.parametrize("model", ["knn", "logistic"])
def test_router_starts_easy_steps_low_and_hard_ones_straight_at_high(model: str) -> None:
    router = signals_router(model=model).fit(world())
    assert router.choose(named("grep")) == "low"
    assert router.choose(implied("grep")) == "high"
    assert router.plan(named("sort")) == ("low", "high")  # climbing is not worth medium


def test_estimates_are_probabilities_non_decreasing_in_effort() -> None:
    router = signals_router().fit(world())
    estimate = router.estimate(implied("upload"))
    p = [estimate.success[level] for level in LEVELS]
    assert p == sorted(p) and all(0.0 <= x <= 1.0 for x in p)
    assert estimate.tokens["low"] < estimate.tokens["medium"] < estimate.tokens["high"]


def test_unfitted_router_follows_the_policy_priors() -> None:
    cautious = EffortPrior(success={"low": 0.05, "medium": 0.1, "high": 0.95})
    assert signals_router(prior=cautious.model_dump()).choose(named("grep")) == "high"
    assert signals_router().choose(named("grep")) == "low"


def test_escalation_is_strictly_higher_and_ends_at_the_top() -> None:
    router = signals_router()
    step = named("grep")
    assert router.escalate(step, "low") in ("medium", "high")
    assert router.escalate(step, "medium") == "high"
    assert router.escalate(step, "high") is None
    with pytest.raises(EffortError, match="no effort level above"):
        router.choose(Step(task="x", tried=("high",)))


def test_a_cheap_failure_makes_the_router_stop_instead_of_escalating() -> None:
    router = signals_router(failure_cost_tokens=0.0)
    assert router.choose(named("grep")) == "low"  # a fresh step always gets one try
    assert router.escalate(named("grep"), "low") is None


def test_max_attempts_caps_the_plan() -> None:
    router = signals_router(max_attempts=1)
    assert len(router.plan(named("grep"))) == 1
    assert router.escalate(named("grep"), "low") is None


def test_observe_then_fit_learns_from_outcomes() -> None:
    router = signals_router()
    for o in world():
        router.observe(o.step, o.effort, o.success, o.tokens)
    assert not router.fitted
    router.fit()
    assert router.fitted and router.choose(implied("archive")) == "high"
    with pytest.raises(EffortError, match="expected one of"):
        router.observe(named("grep"), "extreme", True, 10)
    with pytest.raises(EffortError, match="no observations"):
        signals_router().fit()


def test_outcomes_seen_at_some_efforts_teach_the_efforts_not_tried_too(tmp_path: Path) -> None:
    # As live runs see them: each step tried low first, and high only after failing. Half the
    # steps were solved at low (high never tried: it would have solved them too); high solved
    # 8 of the other 20. So high solves 28 of 40 steps, and after a failure at low 8 of 20:
    # worth its tokens. Judged only on the steps it was tried on (8 of 20, below low's 20 of
    # 40), it would look futile after a failure.
    two_levels = EffortPolicy(
        features="signals",
        levels=("low", "high"),
        neighbours=40,
        prior=EffortPrior(success={"low": 0.6, "high": 0.9}, tokens={"low": 200, "high": 3000}),
    )
    router = EffortRouter(two_levels)
    for i in range(40):
        step = Step(task=f"tidy the report {10 + i}", tool="tidy")
        router.observe(step, "low", i < 20, 200.0)
        if i >= 20:
            router.observe(step, "high", i < 28, 3000.0)
    router.fit()
    estimate = router.estimate(Step(task="tidy the report 99", tool="tidy"))
    assert estimate.success["low"] == pytest.approx(0.5)
    assert estimate.success["high"] == pytest.approx(0.7)
    assert estimate.tokens["high"] == pytest.approx(3000.0)  # implied outcomes cost nothing
    assert router.escalate(Step(task="tidy the report 99", tool="tidy"), "low") == "high"
    router.save(tmp_path / "tidy.router")
    assert (
        EffortRouter.load(tmp_path / "tidy.router").estimate(
            Step(task="tidy the report 99", tool="tidy")
        )
        == estimate
    )


@pytest.mark.parametrize("model", ["knn", "logistic"])
def test_saved_router_reloads_with_the_same_estimates(tmp_path: Path, model: str) -> None:
    router = signals_router(model=model).fit(world())
    target = tmp_path / "effort.router"
    router.save(target)
    loaded = EffortRouter.load(target)
    for step in (named("grep"), implied("sort"), implied("grep")):
        a, b = router.estimate(step), loaded.estimate(step)
        assert np.allclose(list(a.success.values()), list(b.success.values()))
        assert np.allclose(list(a.tokens.values()), list(b.tokens.values()))
        assert router.plan(step) == loaded.plan(step)
    assert [p.name for p in tmp_path.iterdir()] == ["effort.router"]  # no staging file left


def test_a_reloaded_router_fitted_again_learns_from_its_old_observations_too(
    tmp_path: Path,
) -> None:
    # Saved after learning that implied steps need high effort; reloaded, it observes a few
    # named steps and is fitted again: what it knew about implied steps must survive the refit.
    target = tmp_path / "effort.router"
    signals_router().fit(world()).save(target)
    loaded = EffortRouter.load(target)
    assert loaded.observations == world()
    for level in LEVELS:
        loaded.observe(named("upload"), level, True, TOKENS[level])
    loaded.fit()
    assert len(loaded.observations) == len(world()) + 3
    assert loaded.choose(implied("archive")) == "high"
    assert loaded.choose(named("upload")) == "low"


def test_a_router_saved_before_observations_were_kept_still_loads(tmp_path: Path) -> None:
    import json
    import zipfile

    saved, old = tmp_path / "now.router", tmp_path / "old.router"
    signals_router().fit(world()).save(saved)
    with zipfile.ZipFile(saved) as new, zipfile.ZipFile(old, "w") as archive:
        for name in new.namelist():
            if name == "manifest.json":
                archive.writestr(name, json.dumps({**json.loads(new.read(name)), "format": 1}))
            elif name != "observations.jsonl":
                archive.writestr(name, new.read(name))
    loaded = EffortRouter.load(old)
    assert loaded.fitted and loaded.observations == []
    assert loaded.choose(implied("archive")) == "high"


def _saved_then_edited(tmp_path: Path, member: str, edit: Any) -> Path:
    """A fitted router saved, then copied with ``edit`` applied to the text of ``member``."""
    import zipfile

    saved, broken = tmp_path / "now.router", tmp_path / "broken.router"
    signals_router().fit(world(n=2)).save(saved)
    with zipfile.ZipFile(saved) as new, zipfile.ZipFile(broken, "w") as archive:
        for name in new.namelist():
            data = new.read(name)
            archive.writestr(name, edit(data.decode()).encode() if name == member else data)
    return broken


def test_a_malformed_observation_names_the_file_and_line(tmp_path: Path) -> None:
    def edit(text: str) -> str:
        lines = text.splitlines()
        return "\n".join(
            [lines[0], lines[1].replace('"effort": "medium"', '"effort": "extreme"'), "{}"]
        )

    broken = _saved_then_edited(tmp_path, "observations.jsonl", edit)
    with pytest.raises(EffortError, match=r"broken\.router: observations\.jsonl line 2: .*extreme"):
        EffortRouter.load(broken)


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        (("success",), "false", 'field success: expected true or false, got "false"'),
        (("success",), 1, "field success: expected true or false, got 1"),
        (("tokens",), "120", 'field tokens: expected a number, got "120"'),
        (("step", "confidence"), "high", "field step.confidence: expected a number or null"),
        (("step", "alternatives"), 1.5, "field step.alternatives: expected a whole number"),
        (("step", "history"), [3], "field step.history.0: expected text, got 3"),
        (("step", "colour"), "red", "field step.colour: not a field of a step"),
    ],
)
def test_an_observation_field_of_the_wrong_type_names_the_file_line_and_field(
    tmp_path: Path, field: tuple[str, ...], value: Any, said: str
) -> None:
    """A success written "false" had loaded as a success, and a confidence of "high" loaded,
    then failed the next fit with a bare ValueError naming no file."""

    def edit(text: str) -> str:
        lines = text.splitlines()
        observation = json.loads(lines[1])
        *parents, name = field
        target = observation
        for parent in parents:
            target = target[parent]
        target[name] = value
        lines[1] = json.dumps(observation)
        return "\n".join(lines)

    broken = _saved_then_edited(tmp_path, "observations.jsonl", edit)
    with pytest.raises(EffortError) as raised:
        EffortRouter.load(broken)
    assert str(raised.value).startswith(f"{broken}: observations.jsonl line 2: {said}")


def test_loading_something_else_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.router"
    junk.write_text("not a zip")
    with pytest.raises(EffortError, match=r"junk\.router: not a saved effort router"):
        EffortRouter.load(junk)
    with pytest.raises(EffortError, match="never fitted"):
        signals_router().save(tmp_path / "x")


def test_a_router_that_cannot_be_written_is_an_effort_error_naming_the_file(
    tmp_path: Path,
) -> None:
    """A raw FileExistsError had come out of save, after the fit."""
    afile = tmp_path / "afile"
    afile.write_text("")
    router = signals_router().fit(world(n=2))
    with pytest.raises(EffortError, match=r"afile/x\.router: cannot save the effort router there"):
        router.save(afile / "x.router")
    with pytest.raises(EffortError, match=rf"{tmp_path.name}: cannot save .* \(Is a directory"):
        router.save(tmp_path)  # a folder: the rename onto it fails
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # no staging file left


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (lambda m: [1], "its manifest is no object"),
        (lambda m: {k: v for k, v in m.items() if k != "policy"}, "field policy"),
        (lambda m: {**m, "policy": {**m["policy"], "neighbours": -3}}, "field policy"),
    ],
)
def test_a_damaged_manifest_is_an_effort_error_naming_the_file(
    tmp_path: Path, edit: Any, said: str
) -> None:
    """A raw KeyError, AttributeError or ValidationError had come out of load."""
    broken = _saved_then_edited(
        tmp_path, "manifest.json", lambda t: json.dumps(edit(json.loads(t)))
    )
    with pytest.raises(EffortError, match=rf"broken\.router: .*{said}"):
        EffortRouter.load(broken)


def test_an_observed_token_count_must_be_a_finite_count() -> None:
    router = signals_router()
    step = world(n=1)[0].step
    for tokens in (float("nan"), -50.0, float("inf")):
        with pytest.raises(ValueError, match="tokens: expected a finite count >= 0"):
            router.observe(step, "low", True, tokens)


def test_an_observation_of_the_wrong_type_is_refused_as_load_refuses_it() -> None:
    """``observe(step, "low", "no", 10)`` stored a success (``bool("no")``), and tokens of
    "100" failed in float formatting, unnamed."""
    router = signals_router()
    step = world(n=1)[0].step
    with pytest.raises(TypeError, match="success: expected True or False, got 'no'"):
        router.observe(step, "low", "no", 10)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tokens: expected a number, got '100'"):
        router.observe(step, "low", True, "100")  # type: ignore[arg-type]
    router.observe(step, "low", np.bool_(False), np.int64(12))  # numpy's own are numbers
    assert router.observations[-1].success is False and router.observations == [
        router.observations[-1]
    ]


def test_a_saved_router_whose_arrays_disagree_is_refused_at_load(tmp_path: Path) -> None:
    """It loaded, then its first ``choose`` failed with numpy's "operands could not be
    broadcast", naming no file."""
    import io
    import zipfile

    saved, broken = tmp_path / "now.router", tmp_path / "broken.router"
    signals_router().fit(world(n=2)).save(saved)
    with zipfile.ZipFile(saved) as new, zipfile.ZipFile(broken, "w") as archive:
        for name in new.namelist():
            data = new.read(name)
            if name == "mean.npy":
                cut = io.BytesIO()
                np.save(cut, np.load(io.BytesIO(data))[:-1])
                data = cut.getvalue()
            archive.writestr(name, data)
    with pytest.raises(EffortError, match=r"broken\.router: arrays mean and scale: expected"):
        EffortRouter.load(broken)


def test_policy_rejects_levels_without_priors() -> None:
    with pytest.raises(ValueError, match=r"prior\.success: no value for levels \['max'\]"):
        EffortPolicy(levels=("low", "high", "max"))


@pytest.mark.slow
def test_text_features_tell_tools_apart_with_the_packaged_embedder() -> None:
    """With the real MiniLM: the tool's text alone separates an easy tool from a hard one."""
    # No shrinkage towards the level's overall rate: with 3 neighbours it would dominate.
    no_shrink = EffortPrior(strength=0.0)
    router = EffortRouter(EffortPolicy(neighbours=3, prior=no_shrink))
    observations = []
    for i in range(6):
        easy = Step(task=f"case {i}: list the folder", tool="ls", tool_description="List files.")
        hard = Step(
            task=f"case {i}: list the folder",
            tool="book_flight",
            tool_description="Book a flight between two airports on a date, with a card.",
        )
        for level in LEVELS:
            observations.append(Observation(easy, level, True, TOKENS[level]))
            observations.append(Observation(hard, level, level == "high", TOKENS[level]))
    router.fit(observations)
    probe = "case 9: list the folder"
    assert router.choose(Step(task=probe, tool="ls", tool_description="List files.")) == "low"
    flight = Step(task=probe, tool="book_flight", tool_description="Book a flight, with a card.")
    assert router.choose(flight) == "high"


def test_step_text_keeps_the_tool_and_the_latest_context() -> None:
    transcript = Step(
        task="user: move the report\ncall: cd(folder='docs')\nuser: and now the notes",
        tool="mv",
        tool_description="Move a file.",
        history=("cd(folder='docs')",),
    )
    assert transcript.text() == "tool mv: Move a file.\n" + transcript.task
    run = Step(task="brief the board", tool="summarise", history=("fetch",))
    assert run.text().endswith("brief the board\nfetch")
    long = Step(task="x" * 5000 + " the request", tool="t")
    assert long.text().endswith(" the request") and len(long.text()) < 700


def test_the_router_keeps_only_its_most_recent_observations() -> None:
    router = signals_router(max_observations=5)
    for i in range(8):
        router.observe(named(f"tool{i}"), "low", True, 100.0)
    assert [o.step.tool for o in router.observations] == [f"tool{i}" for i in range(3, 8)]


def test_the_text_cache_is_bounded_and_keeps_the_most_recently_used() -> None:
    from orchestrator.effort import TextEncoder

    class Counting:
        """Embeds a text as its length, counting the texts it was asked for."""

        name = "counting"

        def __init__(self) -> None:
            self.embedded: list[str] = []

        def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
            self.embedded += texts
            return np.asarray([[float(len(t)), 1.0] for t in texts], dtype=np.float32)

    embedder = Counting()
    encoder = TextEncoder(embedder, capacity=2)  # type: ignore[arg-type]
    steps = [named("grep"), named("sort"), named("archive")]
    vectors = encoder.encode(steps)  # more texts than the cache holds, in one call
    assert vectors.shape == (3, 2) and vectors[2, 0] == len(steps[2].text())
    assert len(embedder.embedded) == 3
    encoder.encode([steps[2], steps[1]])  # the two most recent: cached
    assert len(embedder.embedded) == 3
    encoder.encode([steps[0]])  # evicted: embedded again
    assert embedder.embedded[-1] == steps[0].text()
