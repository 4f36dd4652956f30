"""Calibrating "nothing fits" on a user's own labelled queries (API and `train no-fit`)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from orchestrator import TrainingError
from orchestrator.cli import app
from orchestrator.policy import load_policy
from orchestrator.routing import (
    FIT_FEATURES,
    LabelledQuery,
    SkillRouter,
    calibrate_no_fit,
    read_labelled_queries,
)

REPO = Path(__file__).resolve().parent.parent
SAMPLE_QUERIES = REPO / "skills" / "sample_queries.jsonl"


@pytest.fixture(scope="module")
def labelled() -> list[LabelledQuery]:
    return read_labelled_queries(SAMPLE_QUERIES)


def test_fit_evidence_is_what_route_weighs(sample_router: SkillRouter) -> None:
    queries = ["refund the customer's last card payment", "bake a sourdough loaf"]
    evidence = sample_router.fit_evidence(queries)
    assert evidence.shape == (2, len(FIT_FEATURES))
    no_fit = sample_router.policy.no_fit
    weights = [no_fit.weights.get(f, 0.0) for f in FIT_FEATURES]
    for query, row in zip(queries, evidence, strict=True):
        best = sample_router.route(query, k=2).best
        assert best is not None
        # The router's fit score is the policy's logistic model over exactly these features.
        logit = sum(w * x for w, x in zip(weights, row, strict=True)) + no_fit.bias
        assert best.scores["fit"] == pytest.approx(1.0 / (1.0 + math.exp(-logit)))


def test_a_calibrated_policy_keeps_the_asked_share_fitting_and_routing_agrees(
    sample_router: SkillRouter, labelled: list[LabelledQuery]
) -> None:
    calibration = calibrate_no_fit(sample_router, labelled, keep=0.9, refit_weights=True)
    assert calibration.refitted
    relevant = [q.query for q in labelled if q.gold]
    unrelated = [q.query for q in labelled if not q.gold]
    assert (calibration.relevant, calibration.unrelated) == (len(relevant), len(unrelated))
    assert calibration.relevant_fit >= 0.9
    assert set(calibration.policy.weights) == set(FIT_FEATURES)

    # Routing with the calibrated section reproduces the shares it reports.
    routing = sample_router.policy.model_copy(update={"no_fit": calibration.policy})
    router = SkillRouter(sample_router.index, sample_router.embedder, routing)
    fits = [r.fits for r in router.route_batch(relevant, k=2)]
    flagged = [not r.fits for r in router.route_batch(unrelated, k=2)]
    assert sum(fits) / len(fits) == pytest.approx(calibration.relevant_fit)
    assert sum(flagged) / len(flagged) == pytest.approx(calibration.unrelated_flagged)
    # Asking more relevant queries to fit can only lower the threshold.
    looser = calibrate_no_fit(sample_router, labelled, keep=0.99, refit_weights=True)
    assert looser.policy.threshold <= calibration.policy.threshold
    assert looser.relevant_fit >= calibration.relevant_fit


def test_with_few_unrelated_queries_only_the_threshold_moves_and_with_many_the_weights_too(
    sample_router: SkillRouter, labelled: list[LabelledQuery]
) -> None:
    shipped = sample_router.policy.no_fit
    few = calibrate_no_fit(sample_router, labelled, keep=0.8)  # 16 unrelated queries
    assert not few.refitted
    assert (few.policy.weights, few.policy.bias) == (shipped.weights, shipped.bias)
    assert few.policy.threshold != shipped.threshold

    only_relevant = [q for q in labelled if q.gold]
    threshold_only = calibrate_no_fit(sample_router, only_relevant, keep=0.8)
    assert threshold_only.unrelated_flagged is None
    assert threshold_only.policy.threshold == few.policy.threshold

    words = [
        "anchovy",
        "ballet",
        "cactus",
        "dolphin",
        "glacier",
        "harp",
        "igloo",
        "jasmine",
        "kayak",
        "lantern",
    ]
    unrelated = [
        LabelledQuery(f"{verb} a poem about the {word}", ())
        for verb in ("write", "recite", "translate", "illustrate", "sing")
        for word in words
    ]
    many = calibrate_no_fit(sample_router, only_relevant + unrelated, keep=0.8)
    assert many.refitted and many.unrelated == 50
    assert many.policy.weights != shipped.weights


def test_calibration_needs_queries_some_skill_fits_and_a_share_to_keep(
    sample_router: SkillRouter, labelled: list[LabelledQuery]
) -> None:
    only_relevant = [q for q in labelled if q.gold]
    with pytest.raises(TrainingError, match=r'nothing fits \("gold": \[\]\), got \d+ and 0'):
        calibrate_no_fit(sample_router, only_relevant, refit_weights=True)
    only_unrelated = [q for q in labelled if not q.gold]
    with pytest.raises(TrainingError, match=r"at least 5 queries with gold skills, got 0 and"):
        calibrate_no_fit(sample_router, only_unrelated)
    with pytest.raises(TrainingError, match="keep must be in"):
        calibrate_no_fit(sample_router, labelled, keep=0.0)
    with pytest.raises(TrainingError, match=r"gold skill\(s\) \['no_such_tool'\]"):
        calibrate_no_fit(sample_router, [*labelled, LabelledQuery("x", ("no_such_tool",))])


def test_train_no_fit_writes_a_policy_that_keeps_the_given_settings(
    tmp_path: Path, sample_index_dir: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(sample_index_dir, index)
    base = tmp_path / "mine.yaml"
    base.write_text("routing:\n  retrieval:\n    rerank_depth: 40\n")
    out = tmp_path / "calibrated" / "policy.yaml"  # its folder is made
    result = CliRunner().invoke(
        app,
        [
            "train", "no-fit", "--queries", str(SAMPLE_QUERIES), "--out", str(out),
            "--index", str(index), "--policy", str(base), "--keep", "0.95", "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["relevant_fit"] >= 0.95 and summary["unrelated"] > 0
    assert summary["refitted"] is False  # the sample's 16 unrelated queries are too few

    written = yaml.safe_load(out.read_text())
    assert written["routing"]["retrieval"] == {"rerank_depth": 40}  # the --policy settings
    policy = load_policy(out)
    assert policy.routing.no_fit.threshold == summary["threshold"]
    assert policy.routing.retrieval.rerank_depth == 40


def test_train_no_fit_refitting_without_unrelated_queries_is_an_error_and_writes_nothing(
    tmp_path: Path, sample_index_dir: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(sample_index_dir, index)
    lines = [json.loads(line) for line in SAMPLE_QUERIES.read_text().splitlines() if line]
    queries = tmp_path / "q.jsonl"
    queries.write_text("\n".join(json.dumps(q) for q in lines if q["gold"]) + "\n")
    out = tmp_path / "policy.yaml"
    result = CliRunner().invoke(
        app,
        [
            "train", "no-fit", "-q", str(queries), "-o", str(out), "--index", str(index),
            "--refit-weights",
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "needs at least 5 queries" in result.output
    assert not out.exists()


def test_train_no_fit_help_states_the_refit_minimum_the_code_applies() -> None:
    # The CLI spells the number out so that --help need not import the routing stack.
    from orchestrator.routing._calibration import MIN_UNRELATED_TO_REFIT

    result = CliRunner().invoke(app, ["train", "no-fit", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert f"at least {MIN_UNRELATED_TO_REFIT} queries nothing fits" in " ".join(
        result.output.split()
    )


def test_one_run_with_another_embedder_does_not_change_the_model_later_runs_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catalog's cached index kept the model of one `--embedder` run: later runs naming
    none routed with it, and `train no-fit` calibrated on it but wrote a policy naming none,
    whose shares were then not what the file gave (a tester's 24 of 24 fitting, then 20)."""
    from orchestrator.routing._embedder import default_model_path

    monkeypatch.setenv("ORCHESTRATOR_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "mymodel"
    shutil.copytree(default_model_path(), model)
    catalog = tmp_path / "tools.jsonl"
    catalog.write_text(
        '{"name": "get_weather", "description": "Current weather for a city."}\n'
        '{"name": "send_email", "description": "Send an email to a recipient."}\n'
    )
    runner = CliRunner()
    route = ["route", "--catalog", str(catalog), "-k", "1", "weather in Oslo"]
    assert runner.invoke(app, [*route, "--embedder", str(model)]).exit_code == 0
    assert runner.invoke(app, route).exit_code == 0
    manifests = [
        json.loads(m.read_text()) for m in (tmp_path / "cache" / "indexes").glob("*/manifest.json")
    ]
    assert sorted(str(m["embedder_path"]) for m in manifests) == sorted(
        ["None", str(model.resolve())]
    )
    # Calibrated on an index built with the model, the policy names the model.
    index = tmp_path / "index"
    built = ["index", str(catalog), "--out", str(index), "--embedder", str(model)]
    assert runner.invoke(app, built).exit_code == 0
    queries = tmp_path / "q.jsonl"
    asked = ["weather in Oslo", "is it raining in Rome", "forecast for Lisbon today"]
    asked += ["email Ana the report", "send a mail to bob@example.com", "write to the team"]
    gold = ["get_weather"] * 3 + ["send_email"] * 3
    queries.write_text(
        "".join(
            json.dumps({"query": q, "gold": [g]}) + "\n" for q, g in zip(asked, gold, strict=True)
        )
    )
    out = tmp_path / "policy.yaml"
    calibrate = ["train", "no-fit", "-q", str(queries), "-o", str(out), "--catalog", str(catalog)]
    result = runner.invoke(app, [*calibrate, "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert load_policy(out).routing.index.embedder == str(model.resolve())
