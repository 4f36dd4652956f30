"""The CLI contract other tools depend on: `route --json`, `index`, and clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from tests.conftest import SAMPLE_CATALOG

runner = CliRunner()


def _route_batch(index_dir: Path, queries: Path, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(
        app,
        ["route", "--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir),
         "--queries", str(queries), "--json", *extra],
    )  # fmt: skip


@pytest.fixture
def index_dir(sample_index_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(sample_index_dir, target)
    return target


def test_batch_route_writes_one_json_line_per_query_with_k_results(
    index_dir: Path, tmp_path: Path
) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        json.dumps({"id": "a", "query": "convert 100 dollars to euros"})
        + "\n"
        + json.dumps({"id": 7, "query": "play some jazz on Spotify"})
        + "\n"
    )
    result = _route_batch(index_dir, queries, "-k", "4")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["a", 7]
    for line in lines:
        assert isinstance(line["fits"], bool)
        assert len(line["results"]) == 4, "always K results, even when nothing fits"
        assert all({"id", "name", "score"} <= set(r) for r in line["results"])
        scores = [r["score"] for r in line["results"]]
        assert scores == sorted(scores, reverse=True)
    assert lines[1]["fits"] is False


def test_single_route_prints_a_table(index_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["route", "--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir), "shorten this link"],
    )
    assert result.exit_code == 0, result.output
    assert "shorten" in result.stdout and "skill" in result.stdout
    # The fit of each match is shown beside the threshold it is judged against.
    args = ["route", "--catalog", str(SAMPLE_CATALOG), "--index", str(index_dir), "--json"]
    line = json.loads(runner.invoke(app, [*args, "shorten this link"]).stdout)
    best = line["results"][0]
    assert 0.0 < best["fit"] <= 1.0
    row = next(r for r in result.stdout.splitlines() if f" {best['id']} " in r)
    assert f"{best['fit']:.2f}" in row


def test_malformed_queries_file_names_the_file_and_line(index_dir: Path, tmp_path: Path) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"id": 1, "query": "ok"}\n{"id": 2, "text": "no query field"}\n')
    result = _route_batch(index_dir, queries)
    assert result.exit_code == 2
    assert "queries.jsonl: line 2" in result.output
    assert result.stdout == "", "nothing half-written to stdout"


def test_a_queries_line_without_an_id_or_with_a_repeated_one_is_an_error(
    index_dir: Path, tmp_path: Path
) -> None:
    # Each output line is matched to its query by the id (the batch contract).
    queries = tmp_path / "queries.jsonl"
    for lines, said in (
        ('{"id": 1, "query": "ok"}\n{"query": "no id"}\n', 'line 2: missing field "id"'),
        ('{"id": "a", "query": "x"}\n{"id": "a", "query": "y"}\n', "first on line 1"),
        ('{"id": 1, "query": 7}\n', 'field "query": expected the task text'),
        ('{"id": 1, "query": "  "}\n', 'field "query": expected the task text (a non-empty'),
        ('{"id": null, "query": "x"}\n', 'field "id": expected a string or a number, got null'),
        ('{"id": {"n": 1}, "query": "x"}\n', 'field "id": expected a string or a number'),
    ):
        queries.write_text(lines)
        result = _route_batch(index_dir, queries)
        assert result.exit_code == 2 and said in result.output
        assert result.stdout == ""


def test_route_needs_a_task_or_a_queries_file() -> None:
    result = runner.invoke(app, ["route", "--catalog", str(SAMPLE_CATALOG)])
    assert result.exit_code != 0
    assert "give a task text or --queries FILE" in result.output
    assert "not both" not in result.output


@pytest.mark.parametrize("command", ["route", "run"])
def test_an_empty_task_is_a_usage_error_not_a_no_fit_answer(command: str) -> None:
    """`route ""` exited 0 with a "no skill fits" ranking of every skill."""
    result = runner.invoke(app, [command, "--catalog", str(SAMPLE_CATALOG), " "])
    assert result.exit_code == 2 and "the task text is empty" in result.output


def test_an_index_folder_that_holds_no_index_is_a_usage_error(index_dir: Path) -> None:
    mistyped = index_dir.parent / "idx"
    result = runner.invoke(
        app, ["route", "--index", str(mistyped), "list pets"], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 2
    assert "holds no index" in result.output and "--catalog" in result.output
    assert not mistyped.exists(), "nothing is built there"
    routed = runner.invoke(app, ["route", "--index", str(index_dir), "--json", "list pets"])
    assert routed.exit_code == 0 and json.loads(routed.stdout)["results"]


def test_index_command_writes_a_manifest_and_reports_it(tmp_path: Path) -> None:
    catalog = tmp_path / "tools.jsonl"
    catalog.write_text(
        '{"name": "get_weather", "description": "Current weather for a city."}\n'
        '{"name": "send_sms", "description": "Send a text message."}\n'
    )
    out = tmp_path / "idx"
    result = runner.invoke(app, ["index", str(catalog), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert manifest.pop("embedded") == 2  # this run's work, beside the manifest
    assert manifest["skills"] == 2 and manifest["dimension"] == 384
    assert json.loads((out / "manifest.json").read_text()) == manifest
    # Without --catalog, route reads the index as it is: it had rebuilt it over the sample
    # catalog (the default) and answered from there.
    routed = runner.invoke(app, ["route", "--index", str(out), "-k", "2", "text Bob", "--json"])
    assert routed.exit_code == 0, routed.output
    assert {r["id"] for r in json.loads(routed.stdout)["results"]} == {"get_weather", "send_sms"}
    assert json.loads((out / "manifest.json").read_text()) == manifest


def test_index_command_says_how_many_skills_it_embedded_and_reused(tmp_path: Path) -> None:
    """A full build, an update and no change had all printed the same line."""
    catalog = tmp_path / "tools.jsonl"
    weather = '{"name": "get_weather", "description": "Current weather for a city."}\n'
    catalog.write_text(weather + '{"name": "send_sms", "description": "Send a text message."}\n')
    args = ["index", str(catalog), "--out", str(tmp_path / "idx")]
    wide = {"COLUMNS": "300"}
    assert "(2 embedded, 0 reused;" in runner.invoke(app, args, env=wide).stdout
    assert "(unchanged;" in runner.invoke(app, args, env=wide).stdout
    catalog.write_text(weather + '{"name": "send_sms", "description": "Send an SMS."}\n')
    assert "(1 embedded, 1 reused;" in runner.invoke(app, args, env=wide).stdout


def test_bad_catalog_is_one_clear_error_line(tmp_path: Path) -> None:
    catalog = tmp_path / "broken.jsonl"
    catalog.write_text('{"name": "ok"}\n{"name": 42}\n')
    result = runner.invoke(app, ["index", str(catalog), "--out", str(tmp_path / "idx")])
    assert result.exit_code == 2
    assert "broken.jsonl: line 2" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "idx").exists()


def test_dedupe_is_asked_for_on_the_command_line(tmp_path: Path) -> None:
    catalog = tmp_path / "tools.jsonl"
    catalog.write_text(
        '{"name": "get_weather", "description": "Current weather."}\n'
        '{"name": "get_weather", "description": "Weather now, another copy."}\n'
    )
    args = ["route", "--catalog", str(catalog), "-k", "1", "weather in Oslo", "--json"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "duplicate skill id 'get_weather'" in refused.output
    assert "--dedupe" in refused.output
    kept = runner.invoke(app, [*args, "--dedupe"])
    assert kept.exit_code == 0, kept.output
    assert [r["id"] for r in json.loads(kept.stdout)["results"]] == ["get_weather"]


def test_brackets_in_tasks_ids_and_errors_are_printed_as_written(tmp_path: Path) -> None:
    """Rich reads "[...]" as markup: "[/]" crashed the table and the error line, "[bold]x" lost
    its tag and an id "get_weather[beta]" showed as "get_weather"."""
    catalog = tmp_path / "tools.jsonl"
    catalog.write_text('{"name": "get_weather[beta]", "description": "Current weather."}\n')
    env = {"COLUMNS": "200"}
    routed = runner.invoke(
        app, ["route", "--catalog", str(catalog), "-k", "1", "[/] weather"], env=env
    )
    assert routed.exit_code == 0, routed.output
    assert "get_weather[beta]" in routed.output and "[/] weather" in routed.output
    broken = tmp_path / "broken.json"
    broken.write_text('[{"type": "[/]", "function": {"name": "x"}}]')
    failed = runner.invoke(app, ["route", "--catalog", str(broken), "x"], env=env)
    assert failed.exit_code == 2 and "got the string '[/]'" in failed.output


def test_help_reflows_docstrings_rather_than_keeping_their_source_line_breaks() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "An existing index there is updated incrementally" in result.output
