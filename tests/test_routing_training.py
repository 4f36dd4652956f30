"""Fine-tuning the embedder on labelled queries: examples, training, saving, plugging it in."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from orchestrator import Skill, TrainingError
from orchestrator.cli import app
from orchestrator.routing import (
    LabelledQuery,
    SkillRouter,
    TrainingExample,
    fine_tune_embedder,
    load_embedder,
    read_labelled_queries,
    training_examples,
)
from orchestrator.routing import _training as training
from orchestrator.routing._training import _batch_documents, _batch_loss, _not_negatives

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "skills" / "sample.jsonl"


def _skill(skill_id: str, description: str, params: dict[str, str], name: str = "") -> Skill:
    return Skill(
        id=skill_id,
        name=name or skill_id,
        description=description,
        parameters={
            "type": "object",
            "properties": {p: {"type": "string", "description": d} for p, d in params.items()},
            "required": list(params),
        },
    )


CATALOG = [
    _skill("refund_payment", "Refund a card payment to the customer.", {"payment_id": "Payment"}),
    # The same tool served from a second place: a near-duplicate of the gold one.
    _skill(
        "billing/refund_payment",
        "Refund a card payment to the customer.",
        {"payment_id": "Payment"},
        name="refund_payment",
    ),
    _skill("capture_payment", "Capture an authorised card payment.", {"payment_id": "Payment"}),
    _skill(
        "send_email", "Send an email message to a recipient.", {"to": "Address", "body": "Text"}
    ),
    _skill("get_weather", "Current weather conditions for a city.", {"city": "City name"}),
    _skill("create_invoice", "Create an invoice for a customer.", {"customer": "Customer id"}),
]


@pytest.fixture(scope="module")
def router() -> SkillRouter:
    return SkillRouter.from_catalog(CATALOG)


def test_mined_negatives_look_alike_but_are_never_a_copy_of_the_gold_skill(
    router: SkillRouter,
) -> None:
    [example] = training_examples(
        router,
        [LabelledQuery("give the customer their money back for payment pi_1", ("refund_payment",))],
        hard_negatives=2,
    )
    assert example.positive.startswith("refund payment.")
    assert len(example.negatives) == 2
    # billing/refund_payment has the same name and parameters: it is the same tool, not a
    # negative; the look-alike capture tool is the hardest real negative.
    assert not any(n.startswith("refund payment.") for n in example.negatives)
    assert example.negatives[0].startswith("capture payment.")


def test_max_positives_keeps_the_first_gold_skill_and_no_gold_skill_becomes_a_negative(
    router: SkillRouter,
) -> None:
    [example] = training_examples(
        router,
        [LabelledQuery("refund payment pi_1", ("refund_payment", "capture_payment"))],
        hard_negatives=3,
        max_positives=1,
    )
    assert example.positive.startswith("refund payment.")
    assert not any(n.startswith(("capture payment.", "refund payment.")) for n in example.negatives)


def test_a_query_nothing_fits_gives_no_example_and_an_unknown_gold_id_is_an_error(
    router: SkillRouter,
) -> None:
    assert training_examples(router, [LabelledQuery("tell me a joke", ())]) == []
    with pytest.raises(TrainingError, match=r"not_a_tool.*not in the catalog"):
        training_examples(router, [LabelledQuery("refund it", ("not_a_tool",))])


def test_an_unknown_gold_id_read_from_a_file_names_its_file_and_line(
    router: SkillRouter, tmp_path: Path
) -> None:
    path = tmp_path / "labelled.jsonl"
    path.write_text('{"query": "refund it", "gold": ["refund_payment"]}\n'
                    '{"query": "take it", "gold": ["not_a_tool"]}\n')  # fmt: skip
    with pytest.raises(TrainingError, match=rf"{path.name}:2 .*not_a_tool"):
        training_examples(router, read_labelled_queries(path))


def test_a_batch_never_scores_a_query_against_its_own_skill_as_a_negative() -> None:
    batch = [
        TrainingExample("refund order 1", "refund payment.", ("capture payment.",)),
        TrainingExample("take payment", "capture payment.", ("refund payment.",)),
        TrainingExample("refund order 1", "issue credit note.", ()),
    ]
    documents = _batch_documents(batch)
    assert documents[:3] == [e.positive for e in batch]
    excluded = set(_not_negatives(batch, documents))
    # Query 0's skill mined as query 1's negative (column 4); query 1's as query 0's (column 3).
    assert {(0, 4), (1, 3)} <= excluded
    # Queries 0 and 2 are the same request: neither's skill is the other's negative.
    assert {(0, 2), (2, 0)} <= excluded
    # Real negatives stay: query 0 against capture payment (as a positive and as a negative).
    assert (0, 1) not in excluded and (0, 3) not in excluded
    assert not any(i == j for i, j in excluded)


def test_the_training_loss_leaves_a_query_s_own_skill_out_of_its_negatives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    # One unit vector per distinct text; each query points exactly at its own skill's text.
    axes = {
        "refund payment.": 0, "refund order 1": 0, "capture payment.": 1, "take payment": 1,
        "issue credit note.": 2,
    }  # fmt: skip

    def embed(texts: list[str]) -> torch.Tensor:
        return torch.nn.functional.one_hot(torch.tensor([axes[t] for t in texts]), 3).float()

    batch = [
        TrainingExample("refund order 1", "refund payment.", ("capture payment.",)),
        TrainingExample("take payment", "capture payment.", ("refund payment.",)),
    ]
    # Each query's own skill also sits in the other's negatives; scored as a negative, it
    # would tie with the positive and hold the loss at about log 2.
    assert float(_batch_loss(batch, embed, scale=20.0)) < 1e-6
    monkeypatch.setattr(training, "_not_negatives", lambda batch, documents: [])
    assert float(_batch_loss(batch, embed, scale=20.0)) == pytest.approx(math.log(2), abs=1e-6)


def test_labelled_query_file_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "labelled.jsonl"
    path.write_text(
        '{"query": "refund it", "gold": ["refund_payment"]}\n{"query": "x", "gold": 3}\n'
    )
    with pytest.raises(TrainingError, match=r"labelled.jsonl:2: 'gold' must be a list"):
        read_labelled_queries(path)
    path.write_text('{"query": "refund it", "gold": ["refund_payment"], "id": "q1"}\n')
    assert read_labelled_queries(path) == [LabelledQuery("refund it", ("refund_payment",))]


def test_fine_tuning_needs_at_least_two_examples(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="at least 2"):
        fine_tune_embedder([TrainingExample("q", "p")], tmp_path / "model")
    assert not (tmp_path / "model").exists()


# Made-up jargon the base model cannot know: only training can tie these queries to their tools.
JARGON = [
    ("please zorble the quarterly ledger", "archive_records", "Move old records to cold storage."),
    ("I need to flimp my teammates about the outage", "notify_team", "Message a team channel."),
    ("grastify the staging cluster now", "restart_service", "Restart a running service."),
    ("can you wobulate the invoice totals", "recalculate_totals", "Recompute the sums."),
]


@pytest.mark.slow
def test_fine_tuned_embedder_pulls_queries_to_their_skills_and_is_reproducible(
    tmp_path: Path,
) -> None:
    examples = [
        TrainingExample(query, f"{name.replace('_', ' ')}. {description}")
        for query, name, description in JARGON
    ]
    settings = {"epochs": 8, "batch_size": 4, "learning_rate": 2e-4, "max_tokens": 32}
    report = fine_tune_embedder(examples, tmp_path / "a", seed=7, **settings)  # type: ignore[arg-type]
    fine_tune_embedder(examples, tmp_path / "b", seed=7, **settings)  # type: ignore[arg-type]
    assert report.steps == 8 and report.last_loss < report.first_loss
    saved = json.loads((tmp_path / "a" / "orchestrator-training.json").read_text())
    assert saved["seed"] == 7 and saved["examples"] == 4

    def accuracy(path: Path | None) -> float:
        model = load_embedder(path)
        queries = model.encode([e.query for e in examples])
        skills = model.encode([e.positive for e in examples])
        return float(np.mean((queries @ skills.T).argmax(axis=1) == np.arange(len(examples))))

    assert accuracy(tmp_path / "a") == 1.0 > accuracy(None)
    a = load_embedder(tmp_path / "a").encode(["zorble"])
    b = load_embedder(tmp_path / "b").encode(["zorble"])
    np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.slow
def test_retraining_into_a_folder_replaces_the_model_whole(tmp_path: Path) -> None:
    examples = [TrainingExample(q, f"{n}. {d}") for q, n, d in JARGON]
    out = tmp_path / "model"
    out.mkdir()
    (out / "modules.json").write_text("[]")  # an earlier model's folder
    (out / "stale.txt").write_text("from an earlier model")
    fine_tune_embedder(examples, out, epochs=1, batch_size=4, max_tokens=16)
    assert not (out / "stale.txt").exists()
    assert (out / "model.safetensors").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging left behind


def test_training_never_replaces_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    examples = [TrainingExample(q, f"{n}. {d}") for q, n, d in JARGON]
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(TrainingError, match="not a sentence-transformers model folder"):
        fine_tune_embedder(examples, tmp_path, epochs=1, batch_size=4)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.slow
def test_train_command_writes_a_model_the_policy_can_point_routing_at(tmp_path: Path) -> None:
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text(
        "\n".join(
            json.dumps({"query": q, "gold": [g]})
            for q, g in [
                ("is it raining in Lisbon right now?", "get_current_weather"),
                ("refund the customer's last card payment", "stripe_create_refund"),
                ("email the receipt to the customer", "send_email"),
            ]
        )
    )
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "train", "embedder", "--queries", str(labelled), "--out", str(tmp_path / "m"),
            "--epochs", "1", "--batch-size", "2", "--json",
            "--catalog", str(SAMPLE), "--index", str(tmp_path / "index"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["examples"] == 3
    policy = tmp_path / "policy.yaml"
    policy.write_text("routing:\n  index:\n    embedder: m\n")  # relative to the policy file
    router = SkillRouter.from_catalog(SAMPLE, policy=policy)
    assert router.embedder.name == load_embedder(tmp_path / "m").name
    best = router.route("is it raining in Lisbon?").best
    assert best is not None
    assert "get_current_weather" in {best.id, *(d.id for d in best.duplicates)}

    # Training again under that policy goes on from its model, not from the packaged one.
    result = runner.invoke(
        app,
        [
            "train", "embedder", "--queries", str(labelled), "--out", str(tmp_path / "m2"),
            "--epochs", "1", "--batch-size", "2", "--policy", str(policy), "--json",
            "--catalog", str(SAMPLE), "--index", str(tmp_path / "index-m"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert Path(json.loads(result.stdout)["base"]) == tmp_path / "m"


def test_train_command_reports_a_bad_labelled_file_without_a_traceback(tmp_path: Path) -> None:
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text('{"query": "refund it"}\n')
    result = CliRunner().invoke(
        app, ["train", "embedder", "--queries", str(labelled), "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 2
    assert "labelled.jsonl:1: 'gold' must be a list" in result.output
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("command", ["embedder", "no-fit"])
def test_train_refuses_an_output_it_cannot_write_before_any_work(
    tmp_path: Path, command: str
) -> None:
    """A folder as no-fit's policy file, or an output under a file, failed with a traceback
    after the routing of every query (after training, for the embedder)."""
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text('{"query": "refund it", "gold": ["no_such_skill"]}\n')
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    refused = {a_file / "out": "notes.txt is a file, not a folder"}
    if command == "no-fit":  # a policy file, where the embedder writes a folder
        refused[tmp_path] = "is a folder; give a file path"
    for target, why in refused.items():
        result = CliRunner().invoke(
            app,
            ["train", command, "--queries", str(labelled), "--out", str(target)],
            env={"COLUMNS": "400"},
        )
        assert result.exit_code == 2, result.output
        assert why in result.output
        assert "no_such_skill" not in result.output  # refused before the queries were read


def test_train_embedder_refuses_a_negative_number_of_hard_negatives(tmp_path: Path) -> None:
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text('{"query": "refund it", "gold": ["refund_payment"]}\n')
    args = ["train", "embedder", "-q", str(labelled), "-o", str(tmp_path / "m")]
    result = CliRunner().invoke(app, [*args, "--hard-negatives", "-1"])
    assert result.exit_code == 2 and "--hard-negatives" in result.output
