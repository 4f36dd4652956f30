"""Reading policy files: a broken file is one line naming the file, where, and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.errors import PolicyError
from orchestrator.policy import load_policy
from tests.conftest import SAMPLE_CATALOG

runner = CliRunner()


def test_a_policy_file_with_broken_yaml_names_the_line_and_column(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("routing: [\n")
    with pytest.raises(PolicyError) as info:
        load_policy(policy)
    message = str(info.value)
    assert message == (
        f"{policy}: line 2, column 1: not valid YAML: "
        "expected the node content, but found '<stream end>'"
    )


def test_an_unclosed_quote_in_a_policy_file_names_where_it_was_opened(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('routing:\n  no_fit:\n    threshold: "0.9\n')
    with pytest.raises(PolicyError) as info:
        load_policy(policy)
    message = str(info.value)
    assert message.startswith(f"{policy}: line 4, column 1: not valid YAML: ")
    assert "while scanning a quoted scalar at line 3, column 16" in message
    assert "\n" not in message


def test_a_policy_file_with_a_control_character_names_its_line_and_column(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("routing:\n  x: \x01\n")
    with pytest.raises(PolicyError) as info:
        load_policy(policy)
    message = str(info.value)
    assert message.startswith(f"{policy}: line 2, column 6: not valid YAML: ")
    assert "#x0001" in message and "\n" not in message


def test_a_policy_file_that_is_not_utf8_is_an_error_naming_it(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_bytes(b"routing: \xff\n")
    with pytest.raises(PolicyError, match="not UTF-8") as info:
        load_policy(policy)
    assert str(info.value).startswith(f"{policy}: ")


def test_route_prints_a_broken_policy_file_as_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_CACHE", str(tmp_path / "cache"))
    policy = tmp_path / "policy.yaml"
    policy.write_text("routing: [\n")
    result = runner.invoke(
        app, ["route", "--catalog", str(SAMPLE_CATALOG), "--policy", str(policy), "--json", "x"]
    )
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.strip()]
    assert len(errors) == 1
    assert errors[0].startswith(f"error: {policy}: line 2, column 1: not valid YAML: ")
    assert "<unicode string>" not in result.output and "Traceback" not in result.output


def test_a_key_written_twice_is_an_error_not_the_last_one_silently_kept(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("routing:\n  no_fit:\n    threshold: 0.2\n  no_fit:\n    threshold: 0.9\n")
    with pytest.raises(PolicyError) as info:
        load_policy(policy)
    assert str(info.value) == (
        f"{policy}: line 4, column 3: not valid YAML: duplicate key 'no_fit' (first at line 2)"
    )
    as_json = tmp_path / "policy.json"
    as_json.write_text('{"routing": {}, "routing": {}}')
    with pytest.raises(PolicyError, match="duplicate key 'routing'"):
        load_policy(as_json)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "effort:\n  prior:\n    success: {low: 1.7, medium: 0.8, high: 0.9}\n",
            "expected a chance",
        ),
        ("effort:\n  prior:\n    tokens: {low: .nan, medium: 1, high: 2}\n", "finite count"),
        ("effort:\n  failure_cost_tokens: .inf\n", "field effort.failure_cost_tokens"),
        ("llm:\n  qwen:\n    thinking_budget: {medium: -5}\n", "expected a count > 0"),
    ],
)
def test_effort_numbers_that_make_no_sense_are_refused(
    tmp_path: Path, text: str, said: str
) -> None:
    """A success chance of 1.7, a NaN token prior or a negative thinking budget (sent as is on
    the wire) had loaded without a word."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    with pytest.raises(PolicyError, match=said):
        load_policy(policy)


def test_an_effort_level_any_provider_mapping_lacks_is_refused_at_load(tmp_path: Path) -> None:
    """A level mapped under llm.openai alone had loaded (some provider mapped it) and failed
    every call of an AnthropicClient at that effort; one no mapping knew had failed only at call
    time, retried one level up."""
    policy = tmp_path / "policy.yaml"
    levels = (
        "effort:\n  levels: [minimal, low, medium, high]\n  prior:\n"
        "    success: {minimal: 0.4, low: 0.6, medium: 0.8, high: 0.9}\n"
        "    tokens: {minimal: 100, low: 300, medium: 1000, high: 3000}\n"
    )
    policy.write_text(levels + "llm:\n  openai:\n    reasoning_effort: {minimal: minimal}\n")
    with pytest.raises(PolicyError) as info:
        load_policy(policy)
    assert str(info.value) == (
        f"{policy}: effort.levels ['minimal', 'low', 'medium', 'high']: "
        "llm.anthropic.effort lacks ['minimal']; llm.gpt_oss.reasoning lacks ['minimal']; "
        "llm.qwen.enable_thinking lacks ['minimal']; expected every level in every provider's "
        "mapping, since a client of any provider may run with this policy"
    )
    every = (
        "llm:\n  openai:\n    reasoning_effort: {minimal: minimal}\n"
        "  anthropic:\n    effort: {minimal: low}\n"
        "  gpt_oss:\n    reasoning: {minimal: low}\n"
        "  qwen:\n    enable_thinking: {minimal: false}\n"
    )
    policy.write_text(levels + every)
    assert load_policy(policy).effort.levels[0] == "minimal"
    # Anthropic's mapping is the one its mode sends: budget mode reads budget_tokens.
    budget = every.replace("    effort: {minimal: low}\n", "    mode: budget\n")
    policy.write_text(levels + budget)
    with pytest.raises(PolicyError, match=r"llm\.anthropic\.budget_tokens lacks \['minimal'\]"):
        load_policy(policy)


def test_a_cross_encoder_rerank_without_its_path_is_refused_at_load_naming_the_file(
    tmp_path: Path,
) -> None:
    """It loaded, and routing failed later with an error that named no file."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("routing:\n  rerank:\n    kind: cross-encoder\n")
    with pytest.raises(PolicyError) as info:
        load_policy(policy)
    assert str(info.value) == (
        f"{policy}: field routing.rerank: kind cross-encoder needs cross_encoder: the local "
        "path of a sentence-transformers CrossEncoder"
    )


def _refused(policy: Path, text: str) -> str:
    """The error loading a policy file of ``text`` raises."""
    policy.write_text(text)
    with pytest.raises(PolicyError) as info:
        load_policy(policy)
    return str(info.value)


def test_every_problem_of_a_policy_file_is_named_at_once_with_the_nearest_field(
    tmp_path: Path,
) -> None:
    """Only the first of several problems was said; a typo got no suggestion; numbers written
    as text or booleans were read as numbers (step_timeout_s: true ran one-second steps); and
    a first backoff over its cap, or chunks overlapping whole, loaded."""
    policy = tmp_path / "policy.yaml"
    message = _refused(
        policy,
        "execution:\n  step_timout_s: 3\n  retry:\n    initial_s: 5\n    max_s: 1\n"
        "routing:\n  index:\n    chunk_overlap: 200\n",
    )
    assert "field execution.step_timout_s: unknown field; did you mean 'step_timeout_s'?" in message
    assert "field execution.retry: initial_s (5.0) is more than max_s (1.0)" in message
    assert "field routing.index: chunk_overlap (200) must be less than chunk_words" in message
    text = "execution:\n  step_timeout_s: true\n  retry:\n    max_attempts: '3'\n"
    assert _refused(policy, text) == (
        f"{policy}: field execution.step_timeout_s: expected a number, got true; "
        "field execution.retry.max_attempts: expected a number, got the string '3'"
    )
    # Both kinds together; no name suggested from another section (restart is mcp's, not a
    # deny rule's); and a YAML 1.2 float without a dot is the number it says.
    message = _refused(
        policy,
        "execution:\n  step_timeout_s: '3'\n  retry:\n    max_attemps: 3\n"
        "mcp:\n  deny:\n    - {restar: x}\n",
    )
    assert "step_timeout_s: expected a number" in message
    assert "did you mean 'max_attempts'" in message
    assert message.endswith("field mcp.deny.0.restar: unknown field")
    policy.write_text("execution:\n  retry:\n    initial_s: 1e-3\n")
    assert load_policy(policy).execution.retry.initial_s == 0.001
