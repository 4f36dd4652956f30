"""The skill router end to end on the real sample catalog with the real packaged embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator import Skill
from orchestrator.routing import RouteResult, SkillRouter
from orchestrator.routing._text import tokenize
from tests.conftest import REPO

FAMILIES = json.loads((REPO / "skills" / "sample_duplicate_families.json").read_text())["families"]


def _family_of(skill_id: str) -> int | None:
    return next((n for n, family in enumerate(FAMILIES) if skill_id in family), None)


def test_route_returns_k_matches_best_first(sample_router: SkillRouter) -> None:
    result = sample_router.route("convert 250 US dollars into euros", k=5)
    assert len(result.matches) == 5
    scores = [m.score for m in result.matches]
    assert scores == sorted(scores, reverse=True)
    assert _family_of(result.matches[0].id) == _family_of("convert_currency")


def test_near_duplicates_take_one_slot_and_are_exposed_as_its_group(
    sample_router: SkillRouter,
) -> None:
    result = sample_router.route("refund the customer's card payment", k=8)
    families = [_family_of(m.id) for m in result.matches]
    declared = [f for f in families if f is not None]
    assert len(declared) == len(set(declared)), "two members of one family fill the top-k"
    refund = next(
        m for m in result.matches if _family_of(m.id) == _family_of("stripe_create_refund")
    )
    assert len(refund.duplicates) >= 2
    assert all(_family_of(d.id) == _family_of(refund.id) for d in refund.duplicates)


@pytest.mark.parametrize(
    "task",
    ["play some jazz on Spotify", "what's the meaning of this Rilke poem?"],
)
def test_unrelated_task_is_flagged_as_no_fit(sample_router: SkillRouter, task: str) -> None:
    result = sample_router.route(task, k=5)
    assert not result.fits
    assert len(result.matches) == 5, "k matches are listed even when nothing fits"


@pytest.mark.parametrize(
    ("task", "family_member"),
    [
        ("resize this image to 800 pixels wide", "resize_image"),
        ("create a GitHub issue for the login bug", "github_create_issue"),
        ("what is the current weather in Paris?", "get_current_weather"),
    ],
)
def test_clear_task_fits(sample_router: SkillRouter, task: str, family_member: str) -> None:
    result = sample_router.route(task, k=3)
    assert result.fits
    assert result.best is not None and result.best.scores["fit"] >= result.threshold
    assert result.best.id == family_member or _family_of(result.best.id) == _family_of(
        family_member
    )


def test_only_restricts_routing_to_the_given_ids(sample_router: SkillRouter) -> None:
    allowed = {"get_weather_forecast", "send_email", "book_flight"}
    result = sample_router.route("refund the last payment", k=10, only=allowed)
    assert {m.id for m in result.matches} == allowed


def test_batch_routing_matches_one_by_one(sample_router: SkillRouter) -> None:
    tasks = ["what's the weather in Lisbon right now?", "shorten this link for me"]
    batch = sample_router.route_batch(tasks, k=3)
    for task, batched in zip(tasks, batch, strict=True):
        single = sample_router.route(task, k=3)
        assert [m.id for m in batched.matches] == [m.id for m in single.matches]


def test_k_larger_than_the_catalog_returns_the_whole_catalog() -> None:
    router = SkillRouter.from_catalog(
        [
            {"name": "get_weather", "description": "Current weather for a city."},
            {"name": "send_sms", "description": "Send a text message to a phone number."},
        ]
    )
    result = router.route("text my mum", k=10)
    assert result.matches[0].id == "send_sms"
    assert len(result.matches) == 2


def test_k_results_when_the_catalog_has_k_skills_even_if_some_are_near_duplicates() -> None:
    weather = {"description": "Current weather for a city.", "parameters": {"type": "object"}}
    router = SkillRouter.from_catalog(
        [
            {"name": "get_weather", **weather},
            {"name": "get_weather_v2", **weather},
            {"name": "send_sms", "description": "Send a text message to a phone number."},
        ]
    )
    result = router.route("weather in Paris", k=3)
    assert result.matches[0].id == "get_weather"
    assert [d.id for d in result.matches[0].duplicates] == ["get_weather_v2"]
    assert sorted(m.id for m in result.matches) == ["get_weather", "get_weather_v2", "send_sms"]
    scores = [m.score for m in result.matches]
    assert scores == sorted(scores, reverse=True)
    assert len(router.route("weather in Paris", k=2).matches) == 2


def test_a_near_duplicate_listed_to_fill_k_gets_its_own_fit_not_a_made_up_zero() -> None:
    """Members filling k were given "fit": 0.0, which read as "does not fit" beside a twin at
    0.27."""
    weather = {"description": "Current weather for a city.", "parameters": {"type": "object"}}
    router = SkillRouter.from_catalog(
        [
            {"name": "get_weather", **weather},
            {"name": "get_weather_v2", **weather},
            {"name": "send_sms", "description": "Send a text message to a phone number."},
        ]
    )
    fits = {m.id: m.scores["fit"] for m in router.route("weather in Paris", k=3).matches}
    assert fits["get_weather_v2"] == pytest.approx(fits["get_weather"], abs=0.05)
    assert fits["get_weather_v2"] > fits["send_sms"]


def test_a_match_past_the_rerank_has_no_fit_rather_than_zero(sample_router: SkillRouter) -> None:
    matches = sample_router.route("refund a payment", k=len(sample_router.skills)).matches
    unjudged = [m for m in matches if "fit" not in m.scores]
    assert unjudged and all(set(m.scores) == {"rrf"} for m in unjudged)
    assert "fit" in matches[0].scores


@pytest.mark.parametrize("k", [0, -3])
def test_k_below_one_is_an_error_not_an_answer(sample_router: SkillRouter, k: int) -> None:
    for route in (
        lambda: sample_router.route("refund a payment", k),
        lambda: sample_router.route_batch(["refund a payment"], k),
        lambda: sample_router.retrieve("refund a payment", k),
    ):
        with pytest.raises(ValueError, match=f"k must be at least 1, got {k}"):
            route()


def test_a_deprecated_tool_comes_after_its_replacement(tmp_path: Path) -> None:
    path = {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}

    def tool(name: str, description: str, **metadata: object) -> Skill:
        return Skill(
            id=name, name=name, description=description, parameters=path, metadata=metadata
        )

    old = tool("read_file", "DEPRECATED: use read_text_file instead. Read the contents of a file.")
    new = tool("read_text_file", "Read the complete contents of a file as text.")
    weather = Skill(id="get_weather", name="get_weather", description="Current weather.")
    router = SkillRouter.from_catalog([old, new, weather], index_dir=tmp_path / "i")
    assert [m.id for m in router.route("read file contents", k=3).matches] == [
        "read_text_file",
        "read_file",
        "get_weather",  # what does not fit at all stays last
    ]
    # Near-duplicates: the one not deprecated (OpenAPI's deprecated: true) leads the group.
    v1 = tool("get_pet_v1", "Get a pet by its id.", deprecated=True)
    v2 = tool("get_pet_v2", "Get a pet by its id.")
    grouped = SkillRouter.from_catalog([v1, v2], index_dir=tmp_path / "g")
    # A tool about deprecated things is not deprecated itself.
    finder = tool("deprecated_api_finder", "Deprecated API finder: lists deprecated APIs.")
    assert old.deprecated and not finder.deprecated
    assert tool("x", "[Deprecated] Get a pet.").deprecated
    [lead] = grouped.route("get the pet", k=1).matches
    assert lead.id == "get_pet_v2" and [d.id for d in lead.duplicates] == ["get_pet_v1"]


def test_an_id_in_the_task_does_not_match_an_example_id_in_a_description() -> None:
    """BM25 weighs a rare token heavily, so an id written both in the task and as a parameter's
    example ranked the tool with the example first, whatever the task asked for."""
    service = {"type": "object", "properties": {"service_id": {"type": "string"}}}
    with_example = {
        "type": "object",
        "properties": {
            "service_id": {"type": "string", "description": "Service id, for example svc_8f2a."}
        },
    }
    router = SkillRouter.from_catalog(
        [
            Skill(
                name="get_current_oncall",
                description="Get the engineer currently on call for a service.",
                parameters=service,
            ),
            Skill(
                name="update_service",
                description="Update a service's settings: owner, tier, escalation policy.",
                parameters=with_example,
            ),
        ]
    )
    for task in ("who is on call for svc_8f2a", "who is on call for svc_91bc"):
        assert next(s.id for s, _ in router.retrieve(task, k=2, method="bm25")) == (
            "get_current_oncall"
        ), task
        assert router.route(task, k=2).matches[0].id == "get_current_oncall", task


def test_tokens_drop_made_up_values_and_split_units_but_keep_versioned_words() -> None:
    assert tokenize("who is on call for svc_8f2a") == ["call"]
    assert tokenize("uuid 123e4567-e89b-12d3") == ["uuid"]
    assert tokenize("a 440Hz tone, 10cm long") == ["440", "hz", "tone", "10", "cm", "long"]
    assert tokenize("sha256 of the ipv6 s3_bucket") == ["sha256", "ipv6", "s3", "bucket"]
    assert tokenize("getCurrentWeather") == ["get", "current", "weather"]


def test_empty_query_still_answers_with_k_matches(sample_router: SkillRouter) -> None:
    result = sample_router.route("", k=3)
    assert len(result.matches) == 3


@pytest.mark.anyio
async def test_async_route_gives_the_same_answer(sample_router: SkillRouter) -> None:
    task = "book a table for two tonight"
    result = await sample_router.aroute(task, k=3)
    assert isinstance(result, RouteResult)
    assert [m.id for m in result.matches] == [m.id for m in sample_router.route(task, k=3).matches]


def test_reranking_reads_the_body(sample_router: SkillRouter) -> None:
    """The manual-refund fallback says in its body (not its description) that it is for
    refunds a provider could not process; a task phrased that way must find it."""
    skill = next(s for s in sample_router.skills if s.id == "create_manual_refund_ticket")
    assert "bank transfer" in skill.body and "bank transfer" not in skill.description
    result = sample_router.route(
        "the customer paid by bank transfer, so finance has to send the money back by hand", k=3
    )
    assert result.best is not None and result.best.id == "create_manual_refund_ticket"
