"""Replay evaluation and the ``orchestrator effort replay`` command on small replay files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.effort import EffortPolicy, EffortRouter, fit_and_replay, read_replay
from orchestrator.errors import EffortError

LEVELS = ("low", "medium", "high")
runner = CliRunner()


def line(episode: str, step: int, tool: str, task: str, needs: str | None) -> dict[str, Any]:
    """A step solved from level ``needs`` upwards (never, if None)."""
    first = LEVELS.index(needs) if needs else len(LEVELS)
    tokens = {"low": 100, "medium": 400, "high": 1500}
    return {
        "episode": episode,
        "step": step,
        "context": task,
        "tool": tool,
        "tool_description": f"{tool} things",
        "outcomes": {
            level: {"success": i >= first, "tokens": tokens[level] + step}
            for i, level in enumerate(LEVELS)
        },
    }


def episodes(prefix: str, n: int) -> list[dict[str, Any]]:
    """Named tools are easy; steps whose task does not name the tool need high; one step of
    every third episode is beyond any effort."""
    out = []
    for e in range(n):
        episode = f"{prefix}{e}"
        out.append(line(episode, 0, "grep", "grep the log for errors", "low"))
        out.append(line(episode, 1, "archive", "keep the results somewhere safe", "high"))
        out.append(line(episode, 2, "sort", "sort the lines", "low"))
        if e % 3 == 0:
            out.append(line(episode, 3, "mail", "tell the team", None))
    return out


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, list[dict[str, Any]]]:
    test_rows = episodes("test", 6)
    return (
        write(tmp_path / "train.jsonl", episodes("train", 12)),
        write(tmp_path / "test.jsonl", test_rows),
        test_rows,
    )


def signals_policy(tmp_path: Path) -> Path:
    policy = tmp_path / "policy.yaml"
    policy.write_text("effort:\n  features: signals\n  neighbours: 5\n")
    return policy


def test_replay_reveals_only_tried_efforts_and_stops_at_the_first_success(
    files: tuple[Path, Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    train, test, rows = files
    choices = tmp_path / "choices.jsonl"
    router = EffortRouter(EffortPolicy(features="signals", neighbours=5))
    report = fit_and_replay(test, train, router, choices)
    written = [json.loads(x) for x in choices.read_text().splitlines()]
    assert [(c["episode"], c["step"]) for c in written] == [(r["episode"], r["step"]) for r in rows]
    spent = 0.0
    for choice, row in zip(written, rows, strict=True):
        efforts = choice["efforts"]
        ranks = [LEVELS.index(e) for e in efforts]
        assert ranks == sorted(set(ranks))  # strictly higher on every retry
        outcomes = [row["outcomes"][e]["success"] for e in efforts]
        assert not any(outcomes[:-1])  # nothing after a success
        spent += sum(row["outcomes"][e]["tokens"] for e in efforts)
    results = {r.name: r for r in report.results}
    assert results["router"].tokens == spent
    high = sum(r["outcomes"]["high"]["tokens"] for r in rows)
    assert results["fixed-high"].tokens == high
    # The router learnt the pattern: far cheaper than high, and no less successful.
    assert results["router"].tokens < 0.6 * high
    assert results["router"].episodes_solved >= results["fixed-high"].episodes_solved
    oracle = results["oracle"]
    assert oracle.tokens <= results["router"].tokens
    assert oracle.episodes_solved == sum(1 for e in range(6) if e % 3 != 0)


def test_cli_replay_prints_the_comparison_and_writes_choices(
    files: tuple[Path, Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    train, test, rows = files
    choices = tmp_path / "out" / "choices.jsonl"
    saved = tmp_path / "effort.router"
    args = ["effort", "replay", str(test), "--train", str(train), "--choices", str(choices)]
    policy = ["--policy", str(signals_policy(tmp_path))]
    result = runner.invoke(app, [*args, *policy, "--json", "--save", str(saved)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    names = [r["policy"] for r in summary["results"]]
    assert names == [
        "router",
        "fixed-low",
        "fixed-medium",
        "fixed-high",
        "cascade medium->high",
        "oracle",
    ]
    assert len(choices.read_text().splitlines()) == len(rows)
    assert EffortRouter.load(saved).fitted
    table = runner.invoke(app, [*args, *policy, "--save", str(saved)])
    assert table.exit_code == 0
    assert "fixed-medium" in table.output and "oracle" in table.output
    assert f"router saved to {saved}" in table.output  # it had said nothing of the save


def test_malformed_replay_line_names_file_line_and_field(tmp_path: Path) -> None:
    row = line("e", 0, "grep", "grep it", "low")
    del row["outcomes"]["medium"]
    bad = write(tmp_path / "bad.jsonl", [line("e", 0, "grep", "grep it", "low"), row])
    with pytest.raises(EffortError, match=r"bad\.jsonl: line 2: field outcomes\.medium"):
        read_replay(bad, LEVELS)
    result = runner.invoke(
        app, ["effort", "replay", str(bad), "--train", str(bad), "--choices", "x.jsonl"]
    )
    assert result.exit_code == 2
    assert "line 2" in result.output


def test_an_empty_replay_file_is_an_error_naming_it_and_writes_no_choices(tmp_path: Path) -> None:
    train = write(tmp_path / "train.jsonl", [line("e", 0, "grep", "grep it", "low")])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(EffortError, match=r"empty\.jsonl: no steps"):
        read_replay(empty, LEVELS)
    choices = tmp_path / "choices.jsonl"
    args = ["effort", "replay", str(empty), "--train", str(train), "--choices", str(choices)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "empty.jsonl: no steps" in result.output
    assert not choices.exists()


def test_token_counts_and_signals_must_be_numbers_a_router_can_learn_from(
    tmp_path: Path,
) -> None:
    """A negative count had been clamped to one token, NaN printed as bare NaN in --json, and a
    signal written as a word failed with a raw ValueError."""
    negative = line("e", 0, "grep", "grep it", "low")
    negative["outcomes"]["low"]["tokens"] = -5000
    with pytest.raises(EffortError, match=r"line 1: field outcomes\.low\.tokens: expected a fin"):
        read_replay(write(tmp_path / "neg.jsonl", [negative]), LEVELS)
    worded = {**line("e", 0, "grep", "grep it", "low"), "signals": {"confidence": "high"}}
    with pytest.raises(EffortError, match=r'field signals\.confidence: expected a number, got "hi'):
        read_replay(write(tmp_path / "word.jsonl", [worded]), LEVELS)


def test_a_folder_for_the_choices_is_refused_before_the_fit(tmp_path: Path) -> None:
    train = write(tmp_path / "train.jsonl", [line("e", 0, "grep", "grep it", "low")])
    result = runner.invoke(
        app,
        ["effort", "replay", str(train), "--train", str(train), "--choices", str(tmp_path)],
        env={"COLUMNS": "300"},
    )
    said = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2 and "is a folder; give a file path" in said


@pytest.mark.parametrize("option", ["--choices", "--save"])
def test_a_file_where_an_output_folder_should_be_is_refused_before_the_fit(
    files: tuple[Path, Path, list[dict[str, Any]]], tmp_path: Path, option: str
) -> None:
    """It had been a raw FileExistsError traceback after the whole replay, and no report."""
    train, test, _ = files
    afile = tmp_path / "afile"
    afile.write_text("")
    outputs = {"--choices": str(tmp_path / "choices.jsonl"), "--save": str(tmp_path / "r.router")}
    outputs[option] = str(afile / "deeper" / "out")
    args = ["effort", "replay", str(test), "--train", str(train)]
    policy = ["--policy", str(signals_policy(tmp_path))]
    chosen = [x for name, path in outputs.items() for x in (name, path)]
    result = runner.invoke(app, [*args, *policy, *chosen], env={"COLUMNS": "300"})
    said = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2, result.output
    assert f"{afile} is a file, not a folder" in said and option in said
    assert not (tmp_path / "choices.jsonl").exists()


def test_choices_that_cannot_be_written_are_an_effort_error_naming_the_file(
    files: tuple[Path, Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    train, test, _ = files
    afile = tmp_path / "afile"
    afile.write_text("")
    router = EffortRouter(EffortPolicy(features="signals", neighbours=5))
    with pytest.raises(EffortError, match=r"afile/choices\.jsonl: cannot write the choices there"):
        fit_and_replay(test, train, router, afile / "choices.jsonl")
