"""The usage model: what past successful runs called, in which order, for which tasks; fitted
from records or decision logs, saved and loaded in its documented format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import UsageFormatError
from orchestrator.execution import DecisionLog
from orchestrator.planning import USAGE_FORMAT, PastRun, UsageModel

LOGIN_THEN_TICKET = PastRun("Open a ticket about the broken printer", ("login", "create_ticket"))


def test_a_tool_past_runs_called_first_is_a_precedent_of_the_later_one() -> None:
    usage = UsageModel.fit(
        [LOGIN_THEN_TICKET, LOGIN_THEN_TICKET, PastRun("", ("create_ticket", "login"))]
    )
    [precedent] = usage.precedents("create_ticket", min_share=0.5)
    assert (precedent.tool, precedent.runs) == ("login", 3)
    assert precedent.share == pytest.approx(2 / 3)
    assert usage.precedents("create_ticket", min_share=0.7) == []
    assert usage.precedents("create_ticket", min_runs=4) == []  # too few runs to trust
    assert usage.before("login", "create_ticket") == 2
    assert usage.used("login") == 3 and usage.used("close_ticket") == 0


def test_familiarity_is_the_share_of_candidates_some_past_run_called() -> None:
    usage = UsageModel.fit([LOGIN_THEN_TICKET])
    # A candidate stands with its near-duplicates: one of them called is enough.
    candidates = [("login",), ("open_ticket", "create_ticket"), ("reboot",), ("status",)]
    assert usage.familiarity(candidates) == 0.5
    assert usage.familiarity([("reboot",)]) == 0.0
    assert usage.familiarity([]) == 0.0


def test_only_a_tools_first_call_orders_it() -> None:
    usage = UsageModel.fit([PastRun("", ("cd", "mv", "cd", "ls"))])
    assert usage.runs[0].tools == ("cd", "mv", "ls")
    assert usage.before("cd", "mv") == 1 and usage.before("mv", "cd") == 0


def test_only_completed_runs_are_learned_from_their_decision_logs() -> None:
    completed = DecisionLog()
    completed.record("execute", "login", "ok")
    completed.record("fail", "create_ticket", "timeout")
    completed.record("execute", "create_ticket", "ok")
    completed.record("complete", "Done", "reached Done")
    escalated = DecisionLog()
    escalated.record("execute", "login", "ok")
    escalated.record("escalate", "Done", "no path left")
    demoted = DecisionLog()
    demoted.record("execute", "login", "ok")
    demoted.record("demote", "TicketDrafted", "no way to file it; draft it instead")
    demoted.record("execute", "draft_ticket", "ok")
    demoted.record("complete", "TicketDrafted", "reached TicketDrafted")
    usage = UsageModel.from_logs(
        [("open a ticket", completed), ("open another", escalated), ("and one more", demoted)]
    )
    assert usage.runs == [PastRun("open a ticket", ("login", "create_ticket"))]


def test_recall_weighs_the_tools_of_the_most_similar_past_tasks(counting_embedder: Any) -> None:
    usage = UsageModel.fit(
        [
            LOGIN_THEN_TICKET,
            PastRun("File a support ticket: the laptop will not boot", ("create_ticket",)),
            PastRun("Move the report into the archive folder", ("cd", "mv")),
        ]
    )
    usage.embed(counting_embedder)
    task = counting_embedder.encode(["Raise a ticket because my monitor is broken"])[0]
    recalled = usage.recall(task, neighbours=2)
    assert set(recalled) == {"login", "create_ticket"}
    assert recalled["create_ticket"] == pytest.approx(1.0)  # both neighbours used it
    assert 0.0 < recalled["login"] < 1.0
    assert usage.recall(task, neighbours=2, min_similarity=0.99) == {}
    assert usage.recall(task, neighbours=0) == {}


def test_a_saved_model_loads_back_without_embedding_its_tasks_again(
    counting_embedder: Any, tmp_path: Path
) -> None:
    usage = UsageModel.fit([LOGIN_THEN_TICKET, PastRun("", ("cd", "mv"))])
    usage.embed(counting_embedder)
    assert counting_embedder.texts_embedded == 1  # only runs with a task are embedded
    path = usage.save(tmp_path / "models" / "usage.json")
    assert json.loads(path.read_text())["format"] == USAGE_FORMAT
    loaded = UsageModel.load(path)
    assert loaded.runs == usage.runs
    assert loaded.precedents("create_ticket") == usage.precedents("create_ticket")
    loaded.embed(counting_embedder)
    assert counting_embedder.texts_embedded == 1  # the saved vectors were used
    loaded.add("Close ticket 7", ["close_ticket"])
    loaded.embed(counting_embedder)
    assert counting_embedder.texts_embedded == 2  # only the new task
    task = counting_embedder.encode(["Please close ticket number 7"])[0]
    assert max(loaded.recall(task, neighbours=1)) == "close_ticket"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"format": "other"}, "field 'format' must be 'orchestrator.usage/1'"),
        ({"format": USAGE_FORMAT, "runs": {}}, "field 'runs' must be a list"),
        ({"format": USAGE_FORMAT, "runs": [{"tools": "cd"}]}, r"runs\[0\] must be"),
        (
            {
                "format": USAGE_FORMAT,
                "runs": [{"task": "t", "tools": ["a"]}],
                "vectors": {"model": "m", "dimension": 2, "float16": "AAAAAAAAAAA="},
            },
            "field 'vectors' must be",
        ),
    ],
)
def test_a_malformed_usage_file_names_what_is_wrong(
    payload: dict[str, Any], message: str, tmp_path: Path
) -> None:
    path = tmp_path / "usage.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(UsageFormatError, match=message) as raised:
        UsageModel.load(path)
    assert str(path) in str(raised.value)


def test_a_missing_or_unreadable_usage_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UsageFormatError, match="cannot read a usage model"):
        UsageModel.load(tmp_path / "absent.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(UsageFormatError, match="must be a JSON object"):
        UsageModel.load(tmp_path / "list.json")


def test_vectors_of_another_model_are_replaced_on_embed(counting_embedder: Any) -> None:
    usage = UsageModel.from_dict(
        {
            "format": USAGE_FORMAT,
            "runs": [{"task": "Open a ticket", "tools": ["create_ticket"]}],
            "vectors": {
                "model": "another-model",
                "dimension": 2,
                "float16": "AAAAAA==",  # one row of two zeros
            },
        }
    )
    usage.embed(counting_embedder)
    assert counting_embedder.texts_embedded == 1
    task = counting_embedder.encode(["Open a ticket"])[0]
    assert usage.recall(task, neighbours=1) == {"create_ticket": 1.0}


def test_recall_by_words_finds_the_past_task_naming_the_same_things(
    counting_embedder: Any,
) -> None:
    usage = UsageModel.fit(
        [
            PastRun("Show me the final lines of server.log", ("tail",)),
            PastRun("Show me the opening lines of notes.txt", ("head",)),
        ]
    )
    usage.embed(counting_embedder)
    task = "What does notes.txt say at the top?"
    vector = counting_embedder.encode([task])[0]
    by_words = usage.recall(vector, neighbours=1, task=task, lexical_weight=1.0)
    assert by_words == {"head": 1.0}  # "notes.txt" is the rarest word they share
    unrelated = "Book a table for two"
    nothing = usage.recall(
        counting_embedder.encode([unrelated])[0],
        neighbours=1,
        task=unrelated,
        lexical_weight=1.0,
        min_similarity=0.01,
    )
    assert nothing == {}
