"""Planning: dependencies derived from schemas, decomposition, closure, ordering, alternatives,
and the end-to-end Orchestrator run that heals a failure."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import threading
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypedDict

import httpx
import pytest
from pydantic import BaseModel

from orchestrator import Orchestrator, Policy, Skill, load_catalog
from orchestrator.errors import (
    DuplicateSkillError,
    EscalationError,
    IndexFormatError,
    PlanningError,
    UnknownInputError,
)
from orchestrator.execution import (
    CallableInvoker,
    CheckingInvoker,
    DecisionLog,
    Demote,
    EscalationDecision,
    EscalationRequest,
    GiveUp,
    LLMEscalation,
    OpenAICompatibleClient,
    Provide,
    ScriptedEscalation,
    parse_decision,
)
from orchestrator.graph import Fallback, ToolGraph
from orchestrator.planning import (
    BindingInvoker,
    DependencyGraph,
    DependencyPolicy,
    LLMDecomposer,
    PastRun,
    Planner,
    PlanningPolicy,
    TaskPlan,
    UsageModel,
    UsagePolicy,
    cached_dependencies,
    derive_dependencies,
    split_subgoals,
)
from orchestrator.planning._fields import FieldRef
from orchestrator.planning._planner import provider_of
from orchestrator.planning._task_text import TaskText, carried_texts, naming_words, routing_text
from orchestrator.routing import Match, RouteResult, SkillRouter

pytestmark = pytest.mark.anyio


def skill(
    skill_id: str,
    description: str,
    inputs: Mapping[str, str] | None = None,
    outputs: Mapping[str, str] | None = None,
    *,
    required: list[str] | None = None,
    price: float = 0.0,
    types: Mapping[str, str] | None = None,
) -> Skill:
    """A skill whose inputs/outputs are {name: description}; every input is required unless
    ``required`` says otherwise."""
    types = types or {}

    def props(fields: Mapping[str, str]) -> dict[str, Any]:
        return {
            name: {"type": types.get(name, "string"), "description": text}
            for name, text in fields.items()
        }

    inputs = inputs or {}
    return Skill(
        id=skill_id,
        name=skill_id,
        description=description,
        parameters={
            "type": "object",
            "properties": props(inputs),
            "required": list(inputs) if required is None else required,
        },
        outputs={"type": "object", "properties": props(outputs or {})},
        price=price,
    )


GEOCODE = skill(
    "geocode_city",
    "Geocode a city or address name into latitude and longitude coordinates.",
    {"address": "City name or street address"},
    {"latitude": "Latitude in degrees", "longitude": "Longitude in degrees"},
    types={"latitude": "number", "longitude": "number"},
)
FORECAST = skill(
    "weather_forecast",
    "Daily weather forecast (temperature, rain) for the coming days at a location.",
    {"latitude": "Latitude of the location", "longitude": "Longitude of the location"},
    {"days": "One entry per day"},
    types={"latitude": "number", "longitude": "number", "days": "array"},
)
EMAIL = skill(
    "send_email",
    "Send an email message to a recipient address with a subject and a body.",
    {"to": "Recipient email address", "subject": "Subject line", "body": "Message text"},
    {"message_id": "Id of the sent message"},
    price=0.001,
)
EMAIL_TWIN = skill(
    "mailgun_send_email",
    "Send an email message to a recipient address with a subject and a body via Mailgun.",
    {"to": "Recipient email address", "subject": "Subject line", "body": "Message text"},
    {"message_id": "Id of the sent message"},
    price=0.002,
)
TRANSLATE = skill(
    "translate_text",
    "Translate a text into another language.",
    {"text": "Text to translate", "target_language": "Language code"},
    {"translation": "The translated text", "status": "ok or error"},
)
STATUS = skill(
    "service_status",
    "Report whether the service is healthy.",
    {},
    {"status": "ok or error", "healthy": "True when the service works"},
    types={"healthy": "boolean"},
)
CATALOG = [GEOCODE, FORECAST, EMAIL, EMAIL_TWIN, TRANSLATE, STATUS]


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> SkillRouter:
    index = tmp_path_factory.mktemp("planning") / "index"
    return SkillRouter.from_catalog(CATALOG, index_dir=index)


@pytest.fixture(scope="module")
def planner(router: SkillRouter) -> Planner:
    return Planner.from_router(router)


# -- dependencies ---------------------------------------------------------------------------


def test_an_output_feeds_a_required_input_with_the_same_name() -> None:
    graph = derive_dependencies(CATALOG, None)
    edges = graph.producers("weather_forecast", "latitude")
    assert [(e.producer, e.output, e.reason) for e in edges] == [
        ("geocode_city", "latitude", "same name")
    ]
    assert "geocode_city.latitude -> weather_forecast.latitude" in edges[0].describe()


def test_a_person_noun_in_a_field_name_is_not_its_verb() -> None:
    schedule = skill(
        "schedule_interview", "Schedule an interview.", {"candidate_id": ""}, {"interview_id": ""}
    )
    score = skill(
        "submit_scorecard",
        "Submit an interviewer's scorecard for an interview.",
        {"interview_id": "", "interviewer_id": ""},
        {"scorecard_id": ""},
    )
    edges = derive_dependencies([schedule, score], None)
    assert [e.input for e in edges.producers("submit_scorecard", "interview_id")] == [
        "interview_id"
    ]
    assert edges.producers("submit_scorecard", "interviewer_id") == []
    task = TaskText.read("score interview iv_300 as interviewer int_7")
    interviewer = FieldRef("submit_scorecard", "input", "interviewer_id", "", "string", True)
    interview = FieldRef("submit_scorecard", "input", "interview_id", "", "string", True)
    assert (task.value(interview), task.value(interviewer)) == ("iv_300", "int_7")


def test_a_producer_of_the_inputs_very_name_comes_before_one_alike_without_generic_words(
    tmp_path: Path,
) -> None:
    listing = skill(
        "list_incidents",
        "List incidents by incident id and status.",
        {"status": "Filter by status."},
        {"incident_id": "The incident id."},
        required=[],
    )
    public = skill(
        "create_status_page_incident",
        "Publish an entry on the public status page.",
        {"impact": "How bad."},
        {"status_incident_id": "Entry on the page."},
    )
    update = skill(
        "post_status_update",
        "Post an update to a status page entry.",
        {"status_incident_id": "The incident id.", "body": "What to say."},
    )
    router = SkillRouter.from_catalog([listing, public, update], index_dir=tmp_path / "i")
    planner = Planner.from_router(router)
    # Both are "incident id" once "status" (a generic word) is set aside, and the input's
    # description reads like the internal list's output.
    producers = planner.dependencies.producers("post_status_update", "status_incident_id")
    assert {e.producer for e in producers} == {"list_incidents", "create_status_page_incident"}
    plan = planner.plan("post an update on the status page: we are investigating")
    assert plan.step("post_status_update").needs == ("create_status_page_incident",)


def test_a_list_of_texts_does_not_feed_a_list_of_records() -> None:
    texts = {"type": "array", "items": {"type": "string"}}
    records = {"type": "array", "items": {"type": "object", "properties": {"text": {}}}}
    search = Skill(
        id="search_nodes",
        name="search_nodes",
        outputs={"type": "object", "properties": {"observations": texts}},
    )
    add = Skill(
        id="add_observations",
        name="add_observations",
        parameters={
            "type": "object",
            "properties": {"observations": records},
            "required": ["observations"],
        },
    )
    assert (
        derive_dependencies([search, add], None).producers("add_observations", "observations") == []
    )
    more = Skill(
        id="more", name="more", outputs={"type": "object", "properties": {"observations": records}}
    )
    assert derive_dependencies([more, add], None).producers("add_observations", "observations")


def test_text_the_caller_writes_is_fed_by_no_producer() -> None:
    incident = skill(
        "get_incident",
        "Get an incident.",
        {"incident_id": ""},
        {"title": "Incident title.", "note": "Latest note.", "service_id": "Affected service."},
    )
    create = skill(
        "create_incident",
        "Open an incident.",
        {"title": "Incident title.", "service_id": "Affected service."},
        {"incident_id": ""},
    )
    annotate = skill("add_note", "Add a note to an incident.", {"incident_id": "", "note": ""})
    edges = derive_dependencies([incident, create, annotate], None)
    assert edges.producers("create_incident", "title") == []
    assert edges.producers("add_note", "note") == []
    assert [e.producer for e in edges.producers("create_incident", "service_id")] == [
        "get_incident"
    ]
    # An e-mail's body, a ticket's description, a chat message: a fetched page has a body
    # too, and "send an email saying hello" had planned fetch_url to write the e-mail.
    fetch = skill("fetch_url", "Fetch a URL.", {"url": ""}, {"body": "Body text."})
    send = skill("send_email", "Send an email.", {"to": "", "body": "Plain-text body."})
    ticket = skill("create_ticket", "Open a ticket.", {"description": "What is wrong."})
    describe = skill("describe_image", "Describe an image.", {"path": ""}, {"description": ""})
    edges = derive_dependencies([fetch, send, ticket, describe], None)
    assert edges.producers("send_email", "body") == []
    assert edges.producers("create_ticket", "description") == []


def test_output_fields_follow_local_refs_into_nested_records() -> None:
    from orchestrator.planning import output_fields

    result = {"$ref": "#/$defs/TimeResult"}  # as MCP SDK servers list their outputSchema
    converter = Skill(
        id="convert_time",
        name="convert_time",
        description="Convert a time between timezones.",
        outputs={
            "type": "object",
            "properties": {"source": result, "target": result},
            "$defs": {
                "TimeResult": {
                    "type": "object",
                    "properties": {"timezone": {"type": "string"}, "datetime": {"type": "string"}},
                }
            },
        },
    )
    names = [f.name for f in output_fields(converter)]
    assert names == [
        "source",
        "source.timezone",
        "source.datetime",
        "target",
        "target.timezone",
        "target.datetime",
    ]
    assert next(f for f in output_fields(converter) if f.name == "target").type == "object"


def test_fields_read_through_all_of_and_optional_types() -> None:
    from orchestrator.planning import input_fields, output_fields

    base = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
    hire = Skill(
        id="create_candidate",
        name="create_candidate",
        parameters={
            "type": "object",
            "properties": {
                "phone": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                "email": {"allOf": [{"$ref": "#/$defs/Email"}], "description": "Work e-mail."},
            },
            "$defs": {"Email": {"type": "string", "format": "email"}},
        },
        outputs={
            "allOf": [
                {"$ref": "#/$defs/Base"},
                {"properties": {"candidate_id": {"type": "string"}}},
            ],
            "$defs": {"Base": base},
        },
    )
    types = {f.name: f.type for f in input_fields(hire)}
    assert types == {"phone": "string", "email": "string"}
    assert [f.name for f in output_fields(hire)] == ["id", "candidate_id"]


def test_the_fields_a_description_lists_for_its_records_feed_inputs_by_name() -> None:
    from orchestrator.planning import output_fields

    # Many catalogs describe a list's records in prose rather than with an item schema.
    search = skill(
        "search_hotels",
        "Find hotels.",
        outputs={"hotels": "Offers: hotel_offer_id, hotel_name, total_price."},
        types={"hotels": "array"},
    )
    book = skill("book_hotel", "Reserve a room.", {"hotel_offer_id": "Offer id from a search."})
    edges = derive_dependencies([search, book], None).producers("book_hotel", "hotel_offer_id")
    assert [e.describe() for e in edges] == [
        "search_hotels.hotels.hotel_offer_id -> book_hotel.hotel_offer_id (same name, 1.00)"
    ]

    # A listed field with a bare name feeds nothing: a listed event "title" is not the title
    # of a new event.
    events = skill(
        "list_events",
        "List events.",
        outputs={"events": "Events with event_id, title."},
        types={"events": "array"},
    )
    create = skill("create_event", "Create an event.", {"title": "Event title."})
    delete = skill("delete_event", "Delete an event.", {"event_id": "Event id."})
    linked = derive_dependencies([events, create, delete], None)
    assert linked.producers("create_event", "title") == []
    assert [e.producer for e in linked.producers("delete_event", "event_id")] == ["list_events"]

    def listed(description: str, kind: str = "array") -> list[str]:
        records = skill("s", "x", outputs={"items": description}, types={"items": kind})
        return [f.name for f in output_fields(records)][1:]

    assert listed("Free slots, each {start_time, end_time}.") == [
        "items.start_time",
        "items.end_time",
    ]
    assert listed("Tickets with ticket_id, subject.", "object") == [
        "items.ticket_id",
        "items.subject",
    ]
    # Prose with commas lists nothing, and neither does a string's description.
    assert listed("Thread, oldest first.") == listed("Sorted by date, newest first") == []
    assert listed("Has hotel_offer_id, hotel_name.", "string") == []


def test_booking_an_offer_plans_the_search_that_finds_it(sample_router: SkillRouter) -> None:
    # The shipped catalog's search lists its offers' fields in prose only.
    plan = Planner.from_router(sample_router).plan("book a hotel in Boston")
    assert plan.ids == ["search_hotels", "book_hotel"]


def test_an_input_saying_where_or_how_a_result_is_written_is_fed_by_nothing() -> None:
    convert = skill("convert_image", "Convert an image.", {"path": "Image."}, {"output_path": "x"})
    resize = skill(
        "resize_image", "Resize an image.", {"path": "Image.", "output_path": "Where to save."}
    )
    graph = derive_dependencies([convert, resize], None)
    assert graph.producers("resize_image", "output_path") == []  # the caller chooses it
    # What a result is written to still feeds what the next step reads.
    assert [e.producer for e in graph.producers("resize_image", "path")] == ["convert_image"]


def test_generic_names_and_flags_do_not_make_dependencies() -> None:
    consumer = skill("set_status", "Set a status.", {"status": "New status", "active": "On?"})
    graph = derive_dependencies([STATUS, consumer, TRANSLATE], None)
    assert graph.producers("set_status", "status") == []  # "status" says nothing about a value
    flag = skill("f", "x", outputs={"active": "is it on"}, types={"active": "boolean"})
    text = skill("g", "y", {"active": "which account is active"})
    assert derive_dependencies([flag, text], None).producers("g", "active") == []


def test_a_generic_name_without_a_description_feeds_nothing(router: SkillRouter) -> None:
    # MCP servers declare bare {"content": string} results: one tool's status text is not the
    # content another writes, though the two bare names embed alike.
    def bare(skill_id: str, side: str) -> Skill:
        schema = {"type": "object", "properties": {"content": {"type": "string"}}}
        if side == "input":
            return Skill(id=skill_id, name=skill_id, parameters={**schema, "required": ["content"]})
        return Skill(id=skill_id, name=skill_id, outputs=schema)

    made, write = bare("create_directory", "output"), bare("write_file", "input")
    bare_graph = derive_dependencies([made, write], router.embedder)
    assert bare_graph.producers("write_file", "content") == []
    described = skill("read_file", "Read a file.", outputs={"content": "The file's text"})
    wanted = skill("write_file", "Write a file.", {"content": "Text to write into the file"})
    found = derive_dependencies([described, wanted], router.embedder)
    assert [e.producer for e in found.producers("write_file", "content")] == ["read_file"]


def test_a_skill_never_feeds_itself() -> None:
    echo = skill("echo", "Echo a token.", {"token": "A token"}, {"token": "The same token"})
    assert len(derive_dependencies([echo], None)) == 0


def test_similar_descriptions_link_differently_named_fields(router: SkillRouter) -> None:
    airport = skill(
        "lookup_airport",
        "Find the airport of a city.",
        {"city": "City name"},
        {"iata_code": "IATA code of the airport"},
    )
    flights = skill(
        "search_flights",
        "Search flights.",
        {"origin_iata": "IATA code of the departure airport", "date": "Departure date"},
    )
    graph = derive_dependencies([airport, flights], router.embedder)
    [edge] = graph.producers("search_flights", "origin_iata")
    assert edge.producer == "lookup_airport" and edge.reason == "similar description"
    strict = DependencyPolicy(name_overlap=1.0, description_similarity=0.99)
    assert derive_dependencies([airport, flights], router.embedder, strict).edges == ()


def test_dependency_cache_is_reused_until_the_catalog_or_the_rules_change(
    counting_embedder: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.planning import _dependencies as dependencies_module
    from orchestrator.planning._dependencies import DERIVATION_RULES

    policy = DependencyPolicy()
    first = cached_dependencies(CATALOG, counting_embedder, policy, tmp_path)
    assert (tmp_path / "dependencies.json").exists()
    embedded = counting_embedder.texts_embedded
    assert embedded > 0
    reused = cached_dependencies(CATALOG, counting_embedder, policy, tmp_path)
    assert counting_embedder.texts_embedded == embedded  # read back, nothing embedded
    assert reused.edges == first.edges and reused.key == first.key
    again = cached_dependencies(CATALOG, None, policy, tmp_path)  # other model: not reused
    assert again.key != first.key
    changed = cached_dependencies(CATALOG[:-1], None, policy, None)
    assert DependencyGraph.load(tmp_path, key=changed.key) is None
    # A graph derived by earlier rules is derived again, not read back.
    monkeypatch.setattr(dependencies_module, "DERIVATION_RULES", 1 + DERIVATION_RULES)
    cached_dependencies(CATALOG, counting_embedder, policy, tmp_path)
    assert counting_embedder.texts_embedded > embedded


def test_a_damaged_dependency_cache_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "dependencies.json").write_text("{not json")
    with pytest.raises(IndexFormatError, match=r"dependencies\.json: damaged dependency cache"):
        DependencyGraph.load(tmp_path)


# -- decomposition ----------------------------------------------------------------------------


def test_sequencing_words_and_new_actions_split_a_task_in_order() -> None:
    assert split_subgoals(
        "Find the airport codes, then search flights and book the hotel near the airport"
    ) == ["Find the airport codes", "search flights", "book the hotel near the airport"]


def test_operations_verbs_start_new_actions_in_their_own_forms_only() -> None:
    assert split_subgoals("Find the failing deployment of checkout and roll it back") == [
        "Find the failing deployment of checkout",
        "roll it back",
    ]
    assert split_subgoals("Open an incident and page the on-call engineer") == [
        "Open an incident",
        "page the on-call engineer",
    ]
    # These verbs are nouns too: one starts an action only before what it acts on.
    for task in (
        "check the memory and runtime stats",
        "list open issues and pull requests for repo acme/web",
        "show the commit history and deploy logs",
        "count push events and restarts of pod x",
    ):
        assert split_subgoals(task) == [task]
    assert split_subgoals("fix the bug and run the tests") == ["fix the bug", "run the tests"]
    assert split_subgoals("Stop the staging server, restart nginx and page Alice") == [
        "Stop the staging server",
        "restart nginx",
        "page Alice",
    ]


def test_an_after_clause_is_done_first() -> None:
    assert split_subgoals("Book the cheapest flight after checking my card balance") == [
        "checking my card balance",
        "Book the cheapest flight",
    ]
    assert split_subgoals("Once the refund is issued, email the customer") == [
        "the refund is issued",
        "email the customer",
    ]


def test_one_word_fragments_join_their_neighbour() -> None:
    assert split_subgoals("Translate it. Thanks") == ["Translate it Thanks"]


def _transport(handler: Any) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


async def test_llm_decomposer_asks_the_client_and_counts_the_call() -> None:
    seen: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        content = '["geocode Lisbon", "get the forecast there"]'
        return httpx.Response(200, json={"choices": [{"message": {"content": content}}]})

    client = OpenAICompatibleClient("http://llm.test/v1", "m", transport=_transport(answer))
    decomposer = LLMDecomposer(client)
    assert await decomposer.decompose("weather in Lisbon") == [
        "geocode Lisbon",
        "get the forecast there",
    ]
    assert decomposer.calls == 1
    assert seen[0]["messages"][-1] == {"role": "user", "content": "weather in Lisbon"}


async def test_llm_decomposer_rejects_an_answer_that_is_not_a_list_of_steps() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"choices": [{"message": {"content": "do it all"}}]})

    client = OpenAICompatibleClient("http://llm.test/v1", "m", transport=_transport(answer))
    with pytest.raises(PlanningError, match="decomposer answer is not JSON"):
        await LLMDecomposer(client).decompose("anything")


# -- plans ------------------------------------------------------------------------------------


def test_a_prerequisite_producing_a_needed_input_is_planned_first(planner: Planner) -> None:
    plan = planner.plan("What is the weather forecast for Lisbon this week?")
    assert plan.ids == ["geocode_city", "weather_forecast"]
    forecast = plan.step("weather_forecast")
    assert forecast.needs == ("geocode_city",)
    assert {b.input for b in forecast.bindings} == {"latitude", "longitude"}
    assert "produces latitude for weather_forecast" in plan.step("geocode_city").reason
    # What no step supplies is left to the caller, and the plan says so.
    assert plan.step("geocode_city").open_inputs == ("address",)
    assert forecast.open_inputs == ()


def test_the_producer_made_for_an_input_beats_one_that_supplies_it_on_the_side(
    sample_router: SkillRouter,
) -> None:
    # "Weather in Lisbon" ranks an airport lookup (which returns the airport's coordinates
    # too) but no geocoder; the task needs a producer of latitude, and geocoders are made for it.
    planner = Planner.from_router(sample_router)
    plan = planner.plan("what will the weather be like in Lisbon over the next five days?")
    routed = sample_router.route(plan.task, k=planner.policy.candidates)
    task_ranked = [m.id for m in routed.matches[: planner.policy.prerequisite_window]]
    assert "lookup_airport_code" in task_ranked
    assert not {"geocode_address", "google_geocode", "nominatim_geocode"} & set(task_ranked)
    producer, forecast = plan.steps
    assert forecast.id == "get_weather_forecast" and forecast.needs == (producer.id,)
    geocoders = {"geocode_address", "google_geocode", "mapbox_forward_geocode", "nominatim_geocode"}
    assert producer.id in geocoders
    assert set(producer.alternatives) <= geocoders
    assert "producers made for it" in producer.reason


def _routed(query: str, *ids: str) -> RouteResult:
    """A route result ranking ``ids`` of ``CATALOG`` in order, each fitting."""
    skills = {s.id: s for s in CATALOG}
    matches = [Match(skills[i], 1.0 / (n + 1), {"fit": 0.9}) for n, i in enumerate(ids)]
    return RouteResult(query=query, matches=tuple(matches), fits=True, threshold=0.5)


def test_the_sub_goal_ranking_the_tasks_skill_highest_is_the_one_it_covers(
    planner: Planner,
) -> None:
    # The task's best match is second for the first sub-goal and first for the second: it
    # covers the second, and the first gets its own skill.
    task = "geocode Lisbon, then email the forecast"
    goals = ["geocode Lisbon", "email the forecast"]
    whole = _routed(task, "send_email", "geocode_city")
    per_goal = [
        _routed(goals[0], "geocode_city", "send_email"),
        _routed(goals[1], "send_email", "translate_text"),
    ]
    plan = planner.assemble(task, goals, whole, per_goal)
    assert set(plan.ids) == {"geocode_city", "send_email"}
    assert plan.step("send_email").subgoal == goals[1]
    assert plan.step("geocode_city").subgoal == goals[0]


def test_a_producer_the_task_does_not_rank_is_planned_when_it_runs_on_what_the_task_writes(
    planner: Planner,
) -> None:
    # Routing ranks no geocoder; the task names a place a geocoder takes.
    task = "Will it rain in Lisbon this weekend?"
    routed = _routed(task, "weather_forecast")
    plan = planner.assemble(task, [task], routed, [routed])
    assert plan.ids == ["geocode_city", "weather_forecast"]
    assert plan.stated_inputs["geocode_city.address"] == "Lisbon"
    assert "made for it" not in plan.step("geocode_city").reason  # the only producer
    # No place written: nothing a geocoder could run on, so no geocoder.
    task = "Will it rain this weekend?"
    routed = _routed(task, "weather_forecast")
    plan = planner.assemble(task, [task], routed, [routed])
    assert plan.ids == ["weather_forecast"]
    assert plan.step("weather_forecast").open_inputs == ("latitude", "longitude")


def test_a_message_is_read_only_for_the_steps_of_its_own_sub_goal(planner: Planner) -> None:
    task = "email ana@example.com saying hi there, then translate the news into French"
    goals = ["email ana@example.com saying hi there", "translate the news into French"]
    whole = _routed(task, "translate_text", "send_email")  # covers the second sub-goal
    per_goal = [_routed(goals[0], "send_email"), _routed(goals[1], "translate_text")]
    plan = planner.assemble(task, goals, whole, per_goal)
    assert plan.step("translate_text").subgoal == goals[1]
    assert plan.stated_inputs["send_email.body"] == "hi there"
    assert "translate_text.text" not in plan.stated_inputs  # the e-mail's message


def test_a_one_goal_task_whose_first_match_does_not_fit_takes_a_fitting_one_near_the_top(
    planner: Planner,
) -> None:
    # As for each sub-goal of a longer task: the fit model judges each match on its own, so a
    # confident second beats an unsure first, and only a task nothing near the top fits is
    # left unplanned.
    skills = {s.id: s for s in CATALOG}

    def routed(fits: dict[str, float]) -> RouteResult:
        matches = [
            Match(skills[i], 1.0 / (n + 1), {"fit": fit}) for n, (i, fit) in enumerate(fits.items())
        ]
        return RouteResult(query=task, matches=tuple(matches), fits=False, threshold=0.5)

    task = "translate the forecast into Portuguese"
    unsure_first = routed({"weather_forecast": 0.3, "translate_text": 0.8, "send_email": 0.2})
    plan = planner.assemble(task, [task], unsure_first, [unsure_first])
    assert plan.ids == ["translate_text"] and plan.unplanned == ()
    assert "fit 0.80" in plan.step("translate_text").reason
    nothing_fits = routed({"weather_forecast": 0.3, "translate_text": 0.4, "send_email": 0.2})
    plan = planner.assemble(task, [task], nothing_fits, [nothing_fits])
    assert plan.ids == [] and plan.unplanned == (task,)


def test_what_a_task_quotes_is_not_routed_unless_it_names_a_skill() -> None:
    names = {"ls", "send_email"}
    assert routing_text("send 'Order for SYNX is completed.' to Sarah", names) == "send to Sarah"
    assert routing_text('email the text "what is the forecast" to ana', names) == (
        "email the text to ana"
    )
    assert (
        routing_text("find files named 'test' using 'ls'", names) == "find files named using 'ls'"
    )
    assert routing_text("Zeta Corp's stock, I've heard", names) == "Zeta Corp's stock, I've heard"
    assert routing_text("'just a quote'", names) == "'just a quote'"  # nothing else to route
    assert routing_text("list  them\nusing 'ls'", names) == "list  them\nusing 'ls'"  # as written


def test_unquoted_text_a_tool_is_to_carry_is_not_routed_to_the_end_of_its_clause() -> None:
    assert routing_text("Text +14155550123 saying your order has shipped", set()) == (
        "Text +14155550123 saying"
    )
    assert routing_text("draft a tweet that says: road trip time!", set()) == (
        "draft a tweet that says:"
    )
    assert routing_text("commit with message fix tests and then push the branch", set()) == (
        "commit with message and then push the branch"
    )
    assert routing_text("Text +14155550123 that we moved to 3pm", set()) == "Text +14155550123 that"
    # A name or a title ends at a comma too.
    assert routing_text("find the company named Zeta Corp, and its stock", set()) == (
        "find the company named , and its stock"
    )
    assert routing_text("email ana with subject Hi saying hello. Then call Bob", set()) == (
        "email ana with subject saying Then call Bob"
    )
    # Quoted soon after the words that introduce it: the quotes alone say what it is.
    assert routing_text("post it (with message content 'ok') with tag 'x'", set()) == (
        "post it (with message content ) with tag"
    )
    # Not text to carry: what a tool reads, or a noun before "that".
    assert routing_text("email the text of notes.txt to bob", set()) == (
        "email the text of notes.txt to bob"
    )
    assert routing_text("fix the text that I wrote", set()) == "fix the text that I wrote"


def test_an_unquoted_message_does_not_decide_the_plan(planner: Planner) -> None:
    task = (
        "Send an email to ana@example.com saying please translate the weather forecast for Lisbon"
    )
    assert planner.router.route(task, k=3).matches[0].id != "send_email"
    assert planner.plan(task).ids == ["send_email"]


def test_a_quoted_message_does_not_decide_the_plan(planner: Planner) -> None:
    # Routed whole, the message's words rank the forecast and translation skills first.
    task = (
        "Send an email to ana@example.com saying 'please translate the weather forecast for Lisbon'"
    )
    whole = planner.router.route(task, k=3)
    assert whole.matches[0].id != "send_email"
    assert planner.plan(task).ids == ["send_email"]
    task = "Translate 'send an email to the team about the forecast' into French"
    assert planner.plan(task).ids == ["translate_text"]


def test_an_input_the_caller_or_the_task_gives_needs_no_producer(planner: Planner) -> None:
    given = planner.plan(
        "What is the weather forecast for Lisbon this week?",
        inputs={"latitude": 38.7, "longitude": -9.1},
    )
    assert given.ids == ["weather_forecast"]
    assert given.step("weather_forecast").open_inputs == ()
    written = planner.plan("Weather forecast at latitude 38.7 and longitude -9.1")
    assert written.ids == ["weather_forecast"]
    # What it writes is the input's value, of the input's type: a run passes it.
    assert written.stated_inputs == {
        "weather_forecast.latitude": 38.7,
        "weather_forecast.longitude": -9.1,
    }
    assert written.step("weather_forecast").open_inputs == ()
    assert given.stated_inputs == {}  # the caller's inputs are not overridden


def test_a_value_is_read_for_an_input_only_within_its_clause_and_of_its_type() -> None:
    order_id = FieldRef("refund_order", "input", "order_id", "", "string", True)
    count = FieldRef("send_reminders", "input", "count", "", "integer", True)
    email = FieldRef("find_user", "input", "email", "", "string", True)
    read = TaskText.read
    assert read("refund order o-42.").value(order_id) == "o-42"  # the whole piece, no stop
    assert read("refund the order with id (o-42) please").value(order_id) == "o-42"
    assert read("refund order 'A 42', then email me").value(order_id) == "A 42"
    assert read("refund order o-42's payment").value(order_id) == "o-42"
    assert read("refund my order, the one from 2024").value(order_id) is None
    assert read("refund the order and then 2 more").value(order_id) is None
    assert read("find the user by email and then send 5 reminders").value(email) is None
    assert read("send count 5 reminders").value(count) == 5
    # Another input named in between takes the value: the e-mail, not the customer.
    customer = FieldRef("create_ticket", "input", "customer", "", "string", False)
    by_email = read("open a ticket for the customer by email jane@example.com")
    assert by_email.value(customer) == "jane@example.com"  # nothing else in play
    assert by_email.value(customer, frozenset({"email", "subject"})) is None
    assert by_email.value(email, frozenset({"email", "customer"})) == "jane@example.com"
    assert read("send count 'five' reminders").value(count) is None  # not this input's type


def test_an_email_address_is_no_id_unless_the_id_says_it_is_one() -> None:
    customer_id = FieldRef("list_orders", "input", "customer_id", "", "string", True)
    task = TaskText.read("list the orders of customer jane@example.com")
    assert task.value(customer_id) is None  # a lookup by e-mail produces the id
    by_address = FieldRef("list_orders", "input", "customer_id", "E-mail address", "string", True)
    assert task.value(by_address) == "jane@example.com"
    assert TaskText.read("list the orders of customer C-17").value(customer_id) == "C-17"


def test_the_addresses_a_task_writes_are_a_list_of_recipients_or_attendees() -> None:
    def array(name: str, description: str = "") -> FieldRef:
        return FieldRef("schedule", "input", name, description, "array", True, items="string")

    task = TaskText.read("Schedule a meeting with alice@example.com and bob@example.com")
    assert task.value(array("attendees")) == ["alice@example.com", "bob@example.com"]
    assert task.value(array("to")) == ["alice@example.com", "bob@example.com"]
    assert task.value(array("people", "Invitees' e-mail addresses")) == [
        "alice@example.com",
        "bob@example.com",
    ]
    assert task.value(array("cc", "Copied recipients")) is None  # nobody asked for copies
    assert task.value(array("tags")) is None
    copied = TaskText.read("Email alice@example.com and cc bob@example.com")
    assert copied.value(array("to")) is None  # which one is copied is not read


class Order(TypedDict):
    order_id: str
    total_cents: int


def test_an_input_the_task_names_without_writing_its_value_gets_a_producer(
    tmp_path: Path,
) -> None:
    def find_order(customer_email: str) -> Order:
        """Find a customer's most recent order by their e-mail address."""
        return {"order_id": "o-42", "total_cents": 1999}

    def refund_order(order_id: str) -> dict[str, str]:
        """Refund an order's payment to the customer's card."""
        return {"refund_id": "re_1"}

    orchestrator = Orchestrator([find_order, refund_order], index_dir=tmp_path / "index")
    # The value written is the customer's e-mail, not the order's id; apostrophes quote
    # nothing: find the order first.
    for task in (
        "refund jane@example.com's last order",
        "refund the order's payment, it's a duplicate",
    ):
        plan = orchestrator.plan(task)
        assert plan.ids == ["find_order", "refund_order"], task
        (binding,) = plan.step("refund_order").bindings
        assert (binding.input, binding.step) == ("order_id", "find_order")
    # Named and written right after: the task gives it.
    for task in ("refund order o-42", "refund the order with id o-42 please"):
        assert orchestrator.plan(task).ids == ["refund_order"], task


def test_an_inputs_allowed_value_is_read_where_the_task_uses_it() -> None:
    unit = FieldRef("forecast", "input", "unit", "", "string", False, ("celsius", "fahrenheit"))
    priority = FieldRef("ticket", "input", "priority", "", "string", True, ("low", "high"))
    read = TaskText.read
    # A distinctive value needs no name before it; a short word does.
    assert read("the forecast for Lisbon in Fahrenheit").value(unit) == "fahrenheit"
    assert read("open a high priority ticket").value(priority) == "high"
    assert read("it is high time to open a ticket").value(priority) is None
    # Written after the name: as the schema spells it, and only if it is allowed.
    assert read("open a ticket with priority 'HIGH'").value(priority) == "high"
    assert read("open a ticket with priority 'urgent'").value(priority) is None
    # Two allowed values used: the task does not say which.
    assert read("in celsius or fahrenheit, whichever").value(unit) is None


def test_the_one_address_url_date_or_file_a_task_writes_is_the_input_named_like_it() -> None:
    email = FieldRef("find_order", "input", "customer_email", "", "string", True)
    url = FieldRef("summarize", "input", "page_url", "", "string", True)
    day = FieldRef("book", "input", "start_date", "", "string", True)
    read = TaskText.read
    assert read("refund jane@example.com's last order").value(email) == "jane@example.com"
    assert read("merge jane@example.com into jo@example.com").value(email) is None  # which?
    assert read("summarize https://example.com/post.").value(url) == "https://example.com/post"
    assert read("book the room for 2026-12-24, two nights").value(day) == "2026-12-24"
    assert read("book the room for 2026-12-24").value(email) is None  # not its kind
    image = FieldRef("resize", "input", "path", "Input image.", "string", True)
    repo = FieldRef("run_tests", "input", "repo_path", "", "string", True)
    saved = FieldRef("resize", "input", "output_path", "", "string", True)
    assert read("resize photo.png to 800x600").value(image) == "photo.png"
    assert read("run the tests in /srv/app, then deploy").value(repo) == "/srv/app"
    assert read("resize photo.png to 800x600").value(saved) is None  # where it goes
    # A file the task sends a result to is the output's, and the other one the input's.
    source = FieldRef("convert", "input", "input_path", "", "string", True)
    convert = read("convert report.docx to PDF and save it as /tmp/out/report.pdf")
    assert (convert.value(source), convert.value(saved)) == ("report.docx", "/tmp/out/report.pdf")
    kind = FieldRef("convert", "input", "output_format", "pdf, png", "string", True)
    language = FieldRef("translate", "input", "target_language", "", "string", True)
    assert convert.value(kind) is None  # written to, but not a file
    assert read("translate README.md to README.de.md").value(language) is None
    assert read("diff a.txt and b.txt").value(image) is None  # which?
    assert read("see https://example.com/a.png").value(image) is None  # a URL, not a file
    currency = FieldRef("refund", "input", "currency", "", "string", True)
    assert read("refund 40 EUR to jane@example.com").value(currency) == "EUR"
    assert read("convert 100 USD to EUR").value(currency) is None  # which?
    assert read("fly from LAX to JFK").value(currency) is None  # not a currency


def test_a_span_gives_its_start_and_end_and_a_time_of_day_goes_to_a_time_input() -> None:
    start = FieldRef("leave", "input", "start_date", "", "string", True)
    end = FieldRef("leave", "input", "end_date", "", "string", True)
    begins = FieldRef("meet", "input", "start_time", "", "string", True)
    ends = FieldRef("meet", "input", "end_time", "", "string", True)
    read = TaskText.read
    for task in ("book leave from 2025-08-04 to 2025-08-15", "between 2025-08-04 and 2025-08-15"):
        assert (read(task).value(start), read(task).value(end)) == ("2025-08-04", "2025-08-15")
    # One date starts a span, unless the task says it ends one; it is not both.
    since, until = read("events since 2025-08-04"), read("report until 2025-08-04")
    assert (since.value(start), since.value(end)) == ("2025-08-04", None)
    assert (until.value(start), until.value(end)) == (None, "2025-08-04")
    meeting = read("book the room 2025-07-10T14:00Z to 2025-07-10T15:30Z")
    assert (meeting.value(begins), meeting.value(ends)) == (
        "2025-07-10T14:00Z",
        "2025-07-10T15:30Z",
    )
    assert meeting.value(start) is None  # a date input: these are times of day
    assert read("at 2025-07-01 22:00").value(begins) == "2025-07-01 22:00"
    assert read("on 2025-07-01").value(begins) is None  # a date alone is no time
    zone = FieldRef("meet", "input", "time_zone", "", "string", True)
    assert meeting.value(zone) is None  # named "time", but a zone


def test_a_time_zone_the_task_names_goes_to_a_time_zone_input_and_a_pair_to_its_sides() -> None:
    zone = FieldRef("time", "input", "timezone", "", "string", True)
    source = FieldRef("convert", "input", "source_timezone", "", "string", True)
    target = FieldRef("convert", "input", "target_timezone", "", "string", True)
    assert TaskText.read("get the current time in Europe/Lisbon").value(zone) == "Europe/Lisbon"
    both = TaskText.read("convert 14:00 from America/New_York to Asia/Tokyo")
    assert (both.value(source), both.value(target)) == ("America/New_York", "Asia/Tokyo")
    assert TaskText.read("the time in Tokyo").value(zone) is None  # a city, not a zone name


def test_value_shapes_keep_to_the_inputs_they_are_for() -> None:
    read = TaskText.read

    def field(skill: str, name: str) -> FieldRef:
        return FieldRef(skill, "input", name, "", "string", True)

    # A date and time for a time input however it is named, not for a time zone or format.
    events = read("list events on my calendar from 2025-03-01T09:00:00Z")
    assert events.value(field("calendar", "timeMin")) == "2025-03-01T09:00:00Z"
    assert events.value(field("calendar", "time_zone")) is None
    # A time zone for a time-zone input, not a DNS zone; not one with an offset cut off.
    assert (
        read("purge the cache of zone example.com; log in UTC").value(field("dns", "zone_id"))
        is None
    )
    assert read("what time is it in UTC+5:30?").value(field("time", "timezone")) is None
    # One zone converted to is the target's, not the source's.
    into = read("convert 10:00 from GMT+1 to Europe/Lisbon")
    source, target = field("t", "source_timezone"), field("t", "target_timezone")
    assert (into.value(source), into.value(target)) == (None, "Europe/Lisbon")
    assert read("the weather in Europe/Lisbon").value(field("w", "location")) is None
    # An export or a copy names its source apart: its source is the file read.
    export = read("export notes.md to notes.pdf")
    pdf, out = field("docs/export_pdf", "path"), field("docs/export_pdf", "output_path")
    assert (export.value(pdf), export.value(out)) == ("notes.md", "notes.pdf")
    copy = read("save a copy of /data/in.csv as /backup/in.csv")
    assert copy.value(field("fs/save_copy", "source_path")) == "/data/in.csv"
    # Amounts: one not read ("2,5 USD") makes the other ambiguous; a thousands dot is not read.
    amount = FieldRef("pay", "input", "amount", "", "number", True)
    assert read("pay 2,5 USD and 100 USD").value(amount) is None
    assert read("send €1.000 to Bob").value(amount) is None


def test_an_allowed_code_of_letters_and_digits_is_read_without_the_inputs_name() -> None:
    severity = FieldRef("incident", "input", "severity", "", "string", True, ("SEV1", "SEV2"))
    size = FieldRef("order", "input", "size", "", "string", True, ("S", "M", "L"))
    assert TaskText.read("open a SEV1 incident for checkout").value(severity) == "SEV1"
    assert TaskText.read("I want a coffee, M please").value(size) is None  # a short word


def test_a_value_read_after_an_inputs_name_keeps_its_brackets_and_fits_its_shape() -> None:
    query = FieldRef("metrics", "input", "query", "", "string", True)
    order = FieldRef("refund", "input", "order_id", "", "string", True)
    email = FieldRef("find_candidate", "input", "email", "", "string", True)
    subject = FieldRef("send", "input", "email_subject", "", "string", True)
    read = TaskText.read
    promql = "run the query rate(http_requests_total[5m]) for the last hour"
    assert read(promql).value(query) == "rate(http_requests_total[5m])"
    assert read("refund order (o-42), please").value(order) == "o-42"
    # An input that is an e-mail address takes only an address.
    assert read("email candidate cand_42 about next week").value(email) is None
    assert read("find the candidate with email ana@example.com").value(email) == ("ana@example.com")
    assert read("send it with email subject 'Hi 2'").value(subject) == "Hi 2"
    assert read("write to email 'ops@localhost'").value(email) == "ops@localhost"  # as quoted


def test_a_conversions_bare_from_and_to_take_its_currencies_when_the_skill_says_currency() -> None:
    """``convert_currency(amount, from, to)``, with no descriptions, left both sides open for
    "convert 100 USD to EUR" (a tester's catalog)."""
    task = TaskText.read("convert 100 USD to EUR")
    source = FieldRef("convert_currency", "input", "from", "", "string", True)
    target = FieldRef("convert_currency", "input", "to", "", "string", True)
    assert (task.value(source), task.value(target)) == ("USD", "EUR")
    described = FieldRef("fx", "input", "target", "Currency to convert into.", "string", True)
    assert task.value(described) == "EUR"
    # Not a currency unless the skill or the input says so: an e-mail's "to" stays unread.
    email_to = FieldRef("send_email", "input", "to", "Recipient.", "string", True)
    assert task.value(email_to) is None


def test_a_currency_skills_dates_take_no_currency() -> None:
    """Only an input named as no more than a pair's side takes a currency from its skill's
    name: ``currency_history``'s ``start_date`` had been given "USD" when no date was written."""
    task = TaskText.read("show the USD to EUR history")
    start = FieldRef("currency_history", "input", "start_date", "", "string", True)
    base = FieldRef("currency_history", "input", "base", "", "string", True)
    assert (task.value(start), task.value(base)) == (None, "USD")


def test_a_writing_skills_file_is_the_one_written_to_and_a_generic_input_is_named() -> None:
    written = FieldRef("fs/write_file", "input", "path", "Path of the file.", "string", True)
    read_from = FieldRef("fs/read_text_file", "input", "path", "", "string", True)
    content = FieldRef("fs/write_file", "input", "content", "", "string", True)
    copy = TaskText.read("read the file /srv/README.md, then write its contents to /srv/copy.md")
    # Before, the write was given README.md: the one file left once copy.md was set apart.
    assert (copy.value(read_from), copy.value(written)) == ("/srv/README.md", "/srv/copy.md")
    note = TaskText.read("write a file /srv/today.md with content 'hello'")
    assert (note.value(written), note.value(content)) == ("/srv/today.md", "hello")


def test_a_conversion_gives_its_currencies_in_order_and_its_amount() -> None:
    source = FieldRef("convert", "input", "from_currency", "", "string", True)
    target = FieldRef("convert", "input", "to_currency", "", "string", True)
    amount = FieldRef("convert", "input", "amount", "", "number", True)
    read = TaskText.read
    for task, expected in (
        ("convert 100 USD to EUR", ("USD", "EUR", 100.0)),
        ("convert 1,200.50 EUR into JPY", ("EUR", "JPY", 1200.5)),
        ("the USD/GBP rate", ("USD", "GBP", None)),
    ):
        text = read(task)
        assert (text.value(source), text.value(target), text.value(amount)) == expected, task
    # One currency: converted from it, or to it? Not said. "$25" is an amount all the same.
    alone = read("how much is $25 in GBP")
    assert (alone.value(source), alone.value(target), alone.value(amount)) == (None, None, 25.0)
    # A decimal comma is not a thousands separator: better no amount than 1999.
    for task in ("refund 19,99 EUR", "convert 1.000,50 EUR", "price v2.100 USD"):
        assert read(task).value(amount) is None, task
    assert read("pay 1,000,000 JPY").value(amount) == 1_000_000.0
    # Two conversions, two amounts: which is which is not read.
    both = read("convert 100 USD to EUR and 50 GBP to CHF")
    assert (both.value(source), both.value(amount)) == (None, None)
    count = FieldRef("book", "input", "guests", "", "integer", True)
    assert read("book 2 rooms for 300 EUR").value(count) is None  # not an amount input


def test_each_step_reads_its_own_sub_goal_where_the_task_writes_several_values(
    tmp_path: Path,
) -> None:
    write = skill(
        "write_file",
        "Write text content into a file.",
        {"path": "File path.", "content": "Text to write."},
    )
    listing = skill("list_directory", "List the entries of a directory.", {"path": "Folder."})
    router = SkillRouter.from_catalog([write, listing], index_dir=tmp_path / "i")
    task = "write a file /srv/a/today.md with content 'hello', then list the directory /srv/a"
    plan = Planner.from_router(router).plan(task)
    assert plan.ids == ["write_file", "list_directory"]
    # Two paths in the task: each step's is the one its own sub-goal writes.
    assert plan.stated_inputs == {
        "write_file.path": "/srv/a/today.md",
        "write_file.content": "hello",
        "list_directory.path": "/srv/a",
    }


def test_the_one_date_a_task_writes_goes_to_one_input_of_a_skill(tmp_path: Path) -> None:
    flights = skill(
        "search_flights",
        "Search flights between two airports on a date.",
        {"origin": "Airport code", "departure_date": "YYYY-MM-DD", "return_date": "YYYY-MM-DD"},
        {"flights": "Offers."},
        required=["origin", "departure_date"],
    )
    router = SkillRouter.from_catalog([flights], index_dir=tmp_path / "i")
    plan = Planner.from_router(router).plan("search flights from origin 'JFK' on 2025-08-03")
    # The departure's (required, first), not also the return's.
    assert plan.stated_inputs == {
        "search_flights.origin": "JFK",
        "search_flights.departure_date": "2025-08-03",
    }


def test_the_one_place_a_task_names_after_in_at_or_near_is_the_input_named_like_one() -> None:
    address = FieldRef("geocode", "input", "address", "", "string", True)
    city = FieldRef("search_hotels", "input", "city", "", "string", True)
    read = TaskText.read
    assert read("what will the weather be like in Lisbon this week?").value(address) == "Lisbon"
    assert read("find a hotel near Los Gatos, CA for two nights").value(city) == "Los Gatos, CA"
    assert read("book a room at The Ritz in Paris").value(city) is None  # which place?
    assert read("what was the weather in January?").value(city) is None  # a month
    assert read("the forecast in Fahrenheit, please").value(city) is None  # a unit
    assert read("I am in the mood for pizza").value(city) is None  # no name after "in"
    iata = FieldRef("search_hotels", "input", "city_iata", "City IATA code.", "string", True)
    assert read("book a hotel in Boston").value(iata) is None  # a name is not its code
    assert read("find hotels in LIS for June").value(iata) == "LIS"  # written as a code
    assert (
        read("the weather in Lisbon").value(
            FieldRef("convert", "input", "unit", "", "string", True)
        )
        is None
    )  # not an input named like a place


def test_a_number_right_before_a_word_naming_a_numeric_input_is_its_value() -> None:
    minutes = FieldRef("schedule", "input", "duration_minutes", "", "integer", True)
    nights = FieldRef("book", "input", "nights", "", "integer", True)
    read = TaskText.read
    assert read("schedule a 30 minute meeting with Ana").value(minutes) == 30
    assert read("schedule a 30-minute meeting with Ana").value(minutes) == 30
    assert read("book a room for 4 nights").value(nights) == 4
    assert read("book a room for 4 nights").value(minutes) is None  # counts other things
    assert read("a 30 minute call, then a 45 minute review").value(minutes) is None  # which?
    # The number goes to what the input counts (its name's last word), not to a rate or an
    # input merely named after the unit, and before a value written after the name.
    rate = FieldRef("search", "input", "max_price_per_night", "", "number", True)
    before = FieldRef("book", "input", "reminder_minutes_before", "", "integer", True)
    assert read("a room for 3 nights for 2 guests").value(rate) is None
    assert read("a room for 3 nights for 2 guests").value(nights) == 3
    assert read("book a 45-minute call").value(before) is None
    text = FieldRef("t", "input", "minutes_note", "", "string", True)
    assert read("schedule a 30 minute meeting").value(text) is None  # not a number's input
    # A clause ends at a comma: "pet 12, quantity 2" counts no quantity of 12.
    quantity = FieldRef("place_order", "input", "quantity", "", "integer", True)
    assert read("place an order for pet 12, quantity 2").value(quantity) == 2
    assert read("order 3 quantity of pet 12").value(quantity) == 3
    # A number after a word naming another input is that input's: "latitude 38.7 longitude".
    latitude = FieldRef("weather", "input", "latitude", "", "number", True)
    longitude = FieldRef("weather", "input", "longitude", "", "number", True)
    at = read("weather at latitude 38.7 longitude -9.1")
    both = frozenset({"latitud", "longitud"})
    assert (at.value(latitude, both), at.value(longitude, both)) == (38.7, -9.1)
    # A number right before a word naming another input counts that one: the service had
    # been given "5" (a tester's), and the real function called with it.
    service = FieldRef("scale_service", "input", "service", "", "string", True)
    replicas = FieldRef("scale_service", "input", "replicas", "", "integer", True)
    scale = read("scale the checkout service to 5 replicas")
    named = naming_words(service) | naming_words(replicas)
    assert (scale.value(service, named), scale.value(replicas, named)) == (None, 5)
    assert read("scale service web-1 to 5 replicas").value(service, named) == "web-1"


def test_what_follows_named_called_or_titled_is_a_name_or_a_title() -> None:
    name = FieldRef("create_pet", "input", "name", "", "string", True)
    title = FieldRef("publish_post", "input", "title", "", "string", True)
    read = TaskText.read
    assert read("add a pet named Rex to the store").value(name) == "Rex"
    assert read("add a pet named Rex to the store").value(title) is None  # named: a name
    assert read("publish a post titled Launch").value(title) == "Launch"
    assert read("create a repo called orchestrator").value(name) == "orchestrator"
    assert read("I called the support line").value(name) is None  # not a name after it
    assert read("add a pet named 'Rex Jr'").value(name) == "Rex Jr"  # quoted: every word
    # A name is its capitalised words; a title runs to its clause's end, or to when, or to
    # another value.
    assert read("track the company called Zeta Corp, and its stock").value(name) == "Zeta Corp"
    assert read("open an issue titled Crash on startup").value(title) == "Crash on startup"
    assert read("post titled Standup notes tomorrow at 9").value(title) == "Standup notes"
    assert read("post titled Launch plan to #general").value(title) == "Launch plan"


def test_a_message_or_a_subject_the_task_writes_is_the_input_that_carries_it() -> None:
    body = FieldRef("send_sms", "input", "body", "", "string", True)
    subject = FieldRef("send_email", "input", "subject", "", "string", True)
    read = TaskText.read
    assert read("Send an SMS to +14155550123 saying the site is down.").value(body) == (
        "the site is down"
    )
    assert read("Text +14155550123 that the meeting moved to 3pm").value(body) == (
        "the meeting moved to 3pm"
    )
    # Named "text" (Vonage's, Twilio's is "body"), it had taken the number after the verb.
    sms_text = FieldRef("send_sms", "input", "text", "", "string", True)
    assert read("text +14155550123 that the meeting moved").value(sms_text) == "the meeting moved"
    assert read("send a text to +14155550123 saying hi there").value(sms_text) == "hi there"
    assert read("text '+1 is my number' to Bob").value(sms_text) == "+1 is my number"
    assert read("post a note saying 'ship it!'").value(body) == "ship it!"
    email = read("email ana@example.com with subject Welcome saying thanks for signing up")
    assert email.value(subject) == "Welcome" and email.value(body) == "thanks for signing up"
    subject_then_recipient = read("send an email with the subject Lisbon weather to a@b.com")
    assert subject_then_recipient.value(subject) == "Lisbon weather"
    # The message ends with its clause; two messages: which one is not known.
    assert read("text Bob saying hi and then email Ana").value(body) == "hi"
    assert read("text Bob saying hi, then text Ana saying bye").value(body) is None
    assert read("send the text of notes.txt to Bob").value(body) is None
    # A colon after a word for such text labels it.
    review = read("What's the sentiment of this review: the food was cold and the waiter was rude")
    text = FieldRef("analyze_sentiment", "input", "text", "", "string", True)
    assert review.value(text) == "the food was cold and the waiter was rude"
    assert routing_text(review.lowered, set()) == "what's the sentiment of this review:"
    assert read("delete message id: 67410").value(body) is None  # an id, not a message
    # A label needs text after it: one word after "message:" is a form's field, not a message.
    assert read("delete message: 67410").value(body) is None


def test_text_to_carry_is_read_only_where_the_task_writes_one() -> None:
    def field(name: str, kind: str = "string") -> FieldRef:
        return FieldRef("tool", "input", name, "", kind, True)

    read = TaskText.read
    body, message, name, title = field("body"), field("message"), field("name"), field("title")
    # "that" after a verb of telling only when whom it tells comes before it.
    assert carried_texts("Tell me the orders that customer 4411 placed this month") == []
    assert carried_texts("Tell me now that DST has ended what time it is in Sydney") == []
    assert read("Remind me tomorrow at 9:00 that the report is due").value(field("text")) == (
        "the report is due"
    )
    # What a message says may be another input's value; where it goes ends it.
    alert = read("Alert the on-call engineer that ticket 8812 is still open and escalate it")
    assert alert.value(field("ticket_id")) == "8812"
    comment = read("Add a comment saying the fix is deployed to ticket 4521")
    assert comment.value(body) == "the fix is deployed"
    assert comment.value(field("ticket_id")) == "4521"
    assert read("Send an SMS saying I am late to +14155550123").value(message) == "I am late"
    assert read("Comment: charged twice for order 5521").value(body) == (
        "charged twice for order 5521"
    )
    # A name inside a message is the message's; "called" as a verb names nothing.
    assert read("Text Bob saying the plumber called and will come at 3").value(message) == (
        "the plumber called and will come at 3"
    )
    assert read("Find the customer who called +14155550123 yesterday").value(name) is None
    assert read("Open an issue: the so-called dark mode toggle is broken").value(title) is None
    assert read("Find the product called iPhone 16 Pro Max").value(name) == "iPhone 16 Pro Max"
    # No message: where it goes, what it is about, a form's field.
    assert read("Update ticket 4521 with a note to the customer").value(field("note")) is None
    assert read("Summarize what reviewers are saying about SKU-12").value(field("text")) is None
    assert read("Find the customer, email: jane@example.com").value(body) is None
    # A title ends where the task says when or to whom, not at any preposition.
    assert read("an event titled Lunch with Maria on Friday").value(title) == "Lunch with Maria"
    assert read("a pull request titled Bump version to 2.1.0").value(title) == (
        "Bump version to 2.1.0"
    )
    assert read("an issue titled Make this button bigger").value(title) == (
        "Make this button bigger"
    )
    assert read("a meeting titled Sync with alice@example.com").value(title) == "Sync"
    email = read("Email bob@example.com with subject Invoice and body please pay by Friday")
    assert email.value(field("subject")) == "Invoice"
    assert email.value(body) == "please pay by Friday"


def test_an_address_list_a_place_or_a_time_is_read_only_where_it_is_one() -> None:
    attendees = FieldRef("meet", "input", "attendees", "", "array", True, items="string")
    read = TaskText.read
    assert (
        read("a meeting with alice@a.com about the complaint from bob@b.com").value(attendees)
        is None
    )
    assert read("a meeting with alice@a.com, not bob@b.com").value(attendees) is None
    assert read("invite alice@a.com; her login is alice@a.com").value(attendees) == ["alice@a.com"]
    address = FieldRef("geocode", "input", "address", "", "string", True)
    assert read("What's the sunrise time in UTC").value(address) is None
    assert read("Get the UV index in JSON format").value(address) is None
    assert read("the sunrise time in Reykjavik").value(address) == "Reykjavik"
    remind_at = FieldRef("set_reminder", "input", "remind_at", "", "string", True)
    assert read("Remind alice@example.com that the invoice is due").value(remind_at) is None


def test_the_one_phone_number_a_task_writes_is_a_phone_or_an_sms_recipient() -> None:
    to = FieldRef("send_sms", "input", "to", "Destination phone number in E.164", "string", True)
    phone = FieldRef("find_customer", "input", "phone", "", "string", False)
    read = TaskText.read
    assert read("Text +14155550123 saying the site is down").value(to) == "+14155550123"
    assert read("Find the customer who called +14155550123").value(phone) == "+14155550123"
    email_to = FieldRef("send_email", "input", "to", "Recipient e-mail address", "string", True)
    assert read("Text +14155550123 saying hi").value(email_to) is None  # not a phone's input
    assert read("Text +14155550123 and +351912345678 saying hi").value(to) is None  # which?
    assert read("Text Bob saying call 555 0123").value(to) is None  # no international form


def test_one_pair_of_coordinates_the_task_writes_is_a_latitude_and_a_longitude() -> None:
    latitude = FieldRef("uv_index", "input", "latitude", "", "number", True)
    longitude = FieldRef("uv_index", "input", "lon", "", "number", True)
    read = TaskText.read
    at = read("What's the UV index at 48.85, 2.29?")
    assert (at.value(latitude), at.value(longitude)) == (48.85, 2.29)
    assert read("UV index at 38.7,-9.1").value(longitude) == -9.1
    assert read("UV index at 95.1, 2.29").value(latitude) is None  # no latitude
    assert read("UV index at 48.85, 2.29 or 38.7, -9.1").value(latitude) is None  # which?
    assert read("pet 12, quantity 2").value(latitude) is None
    # Decimals that are no coordinates: times with a place, versions, numbers.
    assert read("the weather in Lisbon at 10.30, 11.30 tomorrow").value(latitude) is None
    assert read("compare versions 3.11, 3.12").value(latitude) is None
    assert read("the mean of 12.5, 14.75").value(latitude) is None
    assert read("pharmacies near 48.85, 2.29 and 48.86, 2.35").value(latitude) is None
    assert read("the timezone for 40.7128, -74.0060").value(longitude) == -74.006


def test_a_run_passes_the_values_the_task_writes_and_the_callers_win(tmp_path: Path) -> None:
    calls: list[tuple[str, int, str]] = []

    def refund_order(
        order_id: str,
        amount_cents: int = 0,
        reason: Literal["duplicate", "fraudulent", "other"] = "other",
    ) -> dict[str, str]:
        """Refund an order's payment to the customer's card, in full or in part."""
        calls.append((order_id, amount_cents, reason))
        return {"refund_id": "re_1"}

    orchestrator = Orchestrator([refund_order], index_dir=tmp_path / "index")
    task = "refund order o-42, an amount of 500 cents: it was fraudulent"
    assert orchestrator.run_sync(task).outcome == "completed"
    assert orchestrator.run_sync(task, inputs={"order_id": "o-7"}).outcome == "completed"
    assert calls == [("o-42", 500, "fraudulent"), ("o-7", 500, "fraudulent")]
    written = orchestrator.run_sync(task).to_dict()["stated_inputs"]
    assert written == {
        "refund_order.order_id": "o-42",
        "refund_order.amount_cents": 500,
        "refund_order.reason": "fraudulent",
    }


REFUND = skill(
    "refund_payment",
    "Refund a card payment in full or in part.",
    {"payment_id": "Id of the payment to refund"},
    {"refund_id": "Id of the refund"},
)
FETCH_PAYMENT = skill(
    "fetch_payment",
    "Fetch a card payment's status, amount and refund state.",
    {"payment_id": "Id of the payment"},
    {"payment_id": "Id of the payment", "status": "Payment status", "amount": "Amount paid"},
)
LIST_PAYMENTS = skill(
    "list_customer_payments",
    "List a customer's card payments, newest first.",
    {"customer_email": "The customer's email address"},
).model_copy(
    update={
        "outputs": {
            "type": "object",
            "properties": {
                "payments": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"payment_id": {"type": "string"}}},
                }
            },
        }
    }
)


def test_a_skill_that_needs_the_value_it_returns_is_not_planned_to_produce_it(
    tmp_path: Path,
) -> None:
    task = "refund the customer's last card payment"
    echo_only = SkillRouter.from_catalog([REFUND, FETCH_PAYMENT], index_dir=tmp_path / "a")
    # fetch_payment returns payment_id but needs one to run: the caller must give it.
    plan = Planner.from_router(echo_only).plan(task)
    assert plan.ids == ["refund_payment"]
    assert plan.step("refund_payment").open_inputs == ("payment_id",)
    assert plan.to_dict()["steps"][0]["open_inputs"] == ["payment_id"]
    catalog = [REFUND, FETCH_PAYMENT, LIST_PAYMENTS]
    lister = SkillRouter.from_catalog(catalog, index_dir=tmp_path / "b")
    assert Planner.from_router(lister).plan(task).ids == [LIST_PAYMENTS.id, "refund_payment"]


def test_a_skill_taking_what_it_returns_even_optionally_is_not_planned_to_produce_it(
    tmp_path: Path,
) -> None:
    convert = skill(
        "convert_currency",
        "Convert an amount of money from one currency to another.",
        {"amount": "Amount to convert.", "currency": "Currency code to convert from."},
        {"converted": "Converted amount."},
    )
    # A refund returns the amount it was given; a price lookup returns the currency it was
    # asked to quote in ("vs_currency"). Neither is where the value comes from.
    refund = skill(
        "refund_money",
        "Refund money to a customer's card.",
        {"charge": "Charge to refund.", "amount": "Part to refund; default all."},
        {"amount": "Refunded amount.", "refund_id": "Refund id."},
        required=["charge"],
    )
    quote = skill(
        "coin_price",
        "Get a coin's price in a currency.",
        {"coin": "Coin symbol.", "vs_currency": "Currency to quote in."},
        {"price": "Price.", "currency": "Quote currency."},
        required=["coin"],
    )
    router = SkillRouter.from_catalog([convert, refund, quote], index_dir=tmp_path / "i")
    plan = Planner.from_router(router).plan("convert an amount of money to another currency")
    assert plan.ids == ["convert_currency"]
    assert plan.step("convert_currency").open_inputs == ("amount", "currency")


def test_a_lone_namespaced_tool_does_not_overrule_a_clear_fit_as_the_tasks_provider(
    tmp_path: Path,
) -> None:
    """The only namespaced id made its namespace the task's provider, and its tool (fit 0.06)
    was planned, and run, over the weather tool (fit 0.76). A tester's finding."""
    issue = skill(
        "github.create_issue",
        "Open an issue in a GitHub repository.",
        {"repo": "owner/name", "title": "Issue title"},
        {"number": "Issue number"},
    )
    router = SkillRouter.from_catalog([FORECAST, EMAIL, issue], index_dir=tmp_path / "i")
    plan = Planner.from_router(router).plan("What is the weather forecast for Lisbon?")
    assert plan.ids[-1] == "weather_forecast" and "github.create_issue" not in plan.ids


def test_replicas_are_one_provider_so_a_denied_tool_falls_to_its_twin(tmp_path: Path) -> None:
    """With ``fast_a``'s ``send_email`` denied, a gateway's plan e-mailed with another tool of
    ``fast_a`` (fit 0.24) over ``fast_b``'s ``send_email`` (0.58): the first step came from
    ``fast_a``, and ``fast_b`` counted as another provider though it is a replica (a tester's).
    The catalog says who provides a skill (``metadata["provider"]``, as MCP tools do)."""
    tools = [
        ("c_to_f", "Convert a temperature from celsius to fahrenheit.", {"celsius": "Degrees."}),
        ("send_email", "Send an email message to a recipient address.", {"to": "Recipient."}),
        ("send_email_and_crash", "Send an email, then crash mid-call.", {"to": "Recipient."}),
        ("slow_send", "Sleep and then send an email (slow).", {"to": "Recipient."}),
        ("sleepy", "Sleep for some seconds then answer.", {"seconds": "How long."}),
        ("delete_file", "Delete a file from disk permanently.", {"path": "File path."}),
        ("weather_crash", "Look up weather for a city, crashing mid-call.", {"city": "City."}),
    ]
    catalog = [
        skill(f"{server}/{name}", text, inputs).model_copy(
            update={"name": name, "metadata": {"provider": "replicas:fast_a"}}
        )
        for server in ("fast_a", "fast_b")
        for name, text, inputs in tools
    ]
    router = SkillRouter.from_catalog(catalog, index_dir=tmp_path / "i")
    # A small catalog's fits are low: let every sub-goal's best skill join, as in a larger one.
    planner = Planner.from_router(router, PlanningPolicy(subgoal_margin=-1.0))
    allowed = [s.id for s in catalog if s.id != "fast_a/send_email"]
    task = "convert 30 celsius to fahrenheit and then email the result to bob@example.com"
    assert planner.plan(task).ids[-1] == "fast_a/send_email"
    assert planner.plan(task, only=allowed).ids[-1] == "fast_b/send_email"
    assert provider_of(catalog[0]) == "replicas:fast_a"
    assert provider_of(skill("fast_a/sleepy", "Sleep.")) == "fast_a"  # else its namespace


def test_a_producer_the_task_does_not_rank_joins_when_it_runs_on_the_callers_inputs(
    planner: Planner,
) -> None:
    # Only the task's best match counts as ranked: the geocoder is outside that window.
    narrow = Planner(planner.router, planner.dependencies, PlanningPolicy(prerequisite_window=1))
    task = "What is the weather forecast for Lisbon this week?"
    assert narrow.plan(task).ids == ["weather_forecast"]
    plan = narrow.plan(task, inputs={"address": "Lisbon"})
    assert plan.ids == ["geocode_city", "weather_forecast"]
    assert plan.step("weather_forecast").needs == ("geocode_city",)


def test_sub_goals_get_their_skills_in_task_order(planner: Planner) -> None:
    plan = planner.plan(
        "Get the weather forecast for Lisbon, then send an email with it to ana@example.com"
    )
    assert plan.ids[-1] == "send_email"
    assert plan.ids.index("geocode_city") < plan.ids.index("weather_forecast")
    assert plan.contract()[-1] == {"id": "send_email", "name": "send_email", "needs": []}


def test_near_duplicates_become_alternatives_not_extra_steps(planner: Planner) -> None:
    plan = planner.plan("Send an email to ana@example.com saying hello")
    assert plan.ids == ["send_email"]
    assert plan.step("send_email").alternatives == ("mailgun_send_email",)


def test_small_talk_adds_no_step(planner: Planner) -> None:
    plan = planner.plan("It has been a long week. Send an email to ana@example.com saying hi")
    assert plan.ids == ["send_email"]


def test_the_plan_graph_joins_inputs_and_branches_alternatives(planner: Planner) -> None:
    plan = planner.plan("Weather forecast for Lisbon, then email it to ana@example.com")
    graph = plan.to_graph(planner.skills)
    assert set(graph.tools()) == {"geocode_city", "weather_forecast", "send_email",
                                  "mailgun_send_email"}  # fmt: skip
    assert graph.predecessors("weather_forecast") == ["step 1"]  # its inputs, and its turn
    assert graph.predecessors("send_email") == ["step 2"]  # no inputs, but "then"
    assert sorted(graph.predecessors("step 3")) == ["mailgun_send_email", "send_email"]
    with pytest.raises(PlanningError, match="no step to run"):
        TaskPlan("nothing", ("nothing",), ()).to_graph(planner.skills)


def test_skills_left_out_of_a_plan_graph_leave_their_step_to_the_others(planner: Planner) -> None:
    plan = planner.plan("Weather forecast for Lisbon, then email it to ana@example.com")
    graph = plan.to_graph(planner.skills, leave_out={"send_email"})
    assert "send_email" not in graph.tools()
    assert graph.predecessors("step 3") == ["mailgun_send_email"]
    with pytest.raises(PlanningError, match="send_email: none of its skills can be called"):
        plan.to_graph(planner.skills, leave_out={"send_email", "mailgun_send_email"})


def test_a_value_the_task_writes_reaches_every_replica_of_the_step(tmp_path: Path) -> None:
    def replica(server: str) -> Skill:
        return Skill(
            id=f"{server}/get_current_time",
            name="get_current_time",
            description="Get the current time in a specific IANA timezone.",
            parameters={
                "type": "object",
                "properties": {"timezone": {"type": "string", "description": "IANA timezone"}},
                "required": ["timezone"],
            },
            # It echoes the timezone it was given: not a producer of it for its replica.
            outputs={
                "type": "object",
                "properties": {"timezone": {"type": "string"}, "datetime": {"type": "string"}},
            },
            metadata={"server": server},
        )

    orchestrator = Orchestrator([replica("time_a"), replica("time_b")], index_dir=tmp_path / "i")
    plan = orchestrator.plan("get the current time in Asia/Tokyo")
    [step] = plan.steps
    assert {step.id, *step.alternatives} == {"time_a/get_current_time", "time_b/get_current_time"}
    for skill_id in ("time_a/get_current_time", "time_b/get_current_time"):
        assert plan.stated_for(skill_id) == {"timezone": "Asia/Tokyo"}


@pytest.mark.parametrize(
    ("needs", "says"),
    [
        ({"weather_forecast": ("geocoder",)}, "needs 'geocoder', which is not a step of the plan"),
        ({"geocode_city": ("weather_forecast",)}, "needs 'weather_forecast', which comes after"),
        ({"geocode_city": ("geocode_city",)}, "plan step geocode_city: needs itself"),
    ],
)
def test_a_hand_made_plan_whose_step_needs_no_earlier_step_is_refused(
    planner: Planner, needs: dict[str, tuple[str, ...]], says: str
) -> None:
    plan = planner.plan("What is the weather forecast for Lisbon this week?")
    assert plan.ids == ["geocode_city", "weather_forecast"]
    steps = tuple(replace(s, needs=needs.get(s.id, s.needs)) for s in plan.steps)
    with pytest.raises(PlanningError, match=says):
        replace(plan, steps=steps).to_graph(planner.skills)


async def test_binding_fills_arguments_from_inputs_and_upstream_outputs(planner: Planner) -> None:
    plan = planner.plan("What is the weather forecast for Lisbon this week?")
    calls: dict[str, Mapping[str, Any]] = {}

    class Recorder:
        async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any:
            calls[tool] = arguments
            return {}

    binder = BindingInvoker(Recorder(), plan, planner.skills, planner.dependencies)
    upstream = {"geocode_city": {"latitude": 38.7, "longitude": -9.1, "extra": 1}}
    await binder.invoke("weather_forecast", {"inputs": {"address": "x"}, "upstream": upstream})
    assert calls["weather_forecast"] == {"latitude": 38.7, "longitude": -9.1}
    await binder.invoke("geocode_city", {"inputs": {"geocode_city.address": "Lisbon"}})
    assert calls["geocode_city"] == {"address": "Lisbon"}


# -- end to end -------------------------------------------------------------------------------


class Tools:
    """Real Python functions with keyword arguments; the first email provider is down."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def geocode_city(self, address: str) -> dict[str, Any]:
        self.calls.append(("geocode_city", {"address": address}))
        return {"latitude": 38.72, "longitude": -9.14}

    def weather_forecast(self, latitude: float, longitude: float) -> dict[str, Any]:
        self.calls.append(("weather_forecast", {"latitude": latitude, "longitude": longitude}))
        return {"days": [{"max_c": 19}]}

    async def send_email(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("send_email", kwargs))
        raise ConnectionError("smtp relay refused the connection")

    async def mailgun_send_email(self, to: str, subject: str, body: str) -> dict[str, Any]:
        self.calls.append(("mailgun_send_email", {"to": to}))
        return {"message_id": "m-1"}

    def mapping(self) -> dict[str, Any]:
        names = ("geocode_city", "weather_forecast", "send_email", "mailgun_send_email")
        return {name: getattr(self, name) for name in names}


async def test_orchestrator_plans_runs_and_heals_a_failed_step(router: SkillRouter) -> None:
    tools = Tools()
    orchestrator = Orchestrator(router)
    result = await orchestrator.run(
        "Get the weather forecast for Lisbon, then send an email with it to ana@example.com",
        tools=tools.mapping(),
        inputs={"address": "Lisbon", "to": "ana@example.com", "subject": "Weather", "body": "x"},
    )
    assert result.outcome == "completed"
    assert result.path == ["geocode_city", "weather_forecast", "mailgun_send_email"]
    assert ("weather_forecast", {"latitude": 38.72, "longitude": -9.14}) in tools.calls
    assert [name for name, _ in tools.calls].count("geocode_city") == 1  # never redone
    assert ("reroute", "send_email") in [(d.action, d.tool) for d in result.log]
    assert result.silent_failures() == []
    assert result.cost == pytest.approx(0.001 + 0.002)  # the failed call is billed too
    assert result.to_dict()["plan"][0] == {"id": "geocode_city", "name": "geocode_city",
                                           "needs": []}  # fmt: skip


WEATHER_EMAIL = "Get the weather forecast for Lisbon, then send an email with it to ana@example.com"
WEATHER_EMAIL_INPUTS = {
    "address": "Lisbon",
    "to": "ana@example.com",
    "subject": "Weather",
    "body": "x",
}


def _breaking_at_one_failure(router: SkillRouter) -> Orchestrator:
    base = Policy().model_dump()
    base["execution"]["breaker"]["fail_max"] = 1
    return Orchestrator(router, policy=Policy.model_validate(base))


async def test_a_planned_tool_given_no_function_is_left_out_of_the_run_and_not_blamed(
    router: SkillRouter,
) -> None:
    orchestrator = _breaking_at_one_failure(router)
    task, inputs = WEATHER_EMAIL, WEATHER_EMAIL_INPUTS
    tools = Tools().mapping()
    del tools["send_email"]  # the caller has only the other provider
    for _ in range(2):
        result = await orchestrator.run(task, tools=tools, inputs=inputs)
        assert result.outcome == "completed" and result.path[-1] == "mailgun_send_email"
        # Known before the run: the planned provider is not tried, so nothing fails.
        assert result.plan.step("send_email").alternatives == ("mailgun_send_email",)
        assert "send_email" not in [d.tool for d in result.log]
    assert "send_email" not in orchestrator.stats  # never observed, so never blamed
    skills = orchestrator.skills
    assert result.cost == pytest.approx(sum(skills[t].price for t in result.path))  # not billed


async def test_a_tool_an_invoker_cannot_serve_is_rerouted_without_blaming_its_health(
    router: SkillRouter,
) -> None:
    orchestrator = _breaking_at_one_failure(router)
    task, inputs = WEATHER_EMAIL, WEATHER_EMAIL_INPUTS
    functions = Tools().mapping()
    del functions["send_email"]
    # An invoker that cannot tell before a call which tools it serves (no ``refusal``).
    invoker = CallableInvoker(
        {name: partial(_call_with_keywords, f) for name, f in functions.items()}
    )
    assert not isinstance(invoker, CheckingInvoker)
    for _ in range(2):  # with its health blamed, one run would open its breaker
        result = await orchestrator.run(task, tools=invoker, inputs=inputs)
        assert result.outcome == "completed" and result.path[-1] == "mailgun_send_email"
        [failed] = [d for d in result.log if d.action == "fail"]
        assert failed.tool == "send_email" and "no callable registered" in failed.reason
        assert any(d.action == "reroute" and d.tool == "send_email" for d in result.log)
    assert orchestrator.breakers["send_email"].state == "closed"
    assert orchestrator.stats["send_email"].failures == 0
    skills = orchestrator.skills
    assert result.cost == pytest.approx(sum(skills[t].price for t in result.path))  # not billed


def _call_with_keywords(function: Any, arguments: Mapping[str, Any]) -> Any:
    return function(**arguments)


async def test_a_run_after_failures_does_not_start_with_alternatives_nothing_serves(
    router: SkillRouter,
) -> None:
    orchestrator = Orchestrator(router)
    task, inputs = WEATHER_EMAIL, WEATHER_EMAIL_INPUTS
    failing = Tools().mapping()
    del failing["mailgun_send_email"]  # only the planned provider, and it is down
    first = await orchestrator.run(task, tools=failing, inputs=inputs)
    assert first.outcome == "escalated"
    assert "mailgun_send_email" not in [d.tool for d in first.log]  # never tried
    assert orchestrator.stats["send_email"].failures > 0  # weighed down for the next run

    async def send_email(to: str, subject: str, body: str) -> dict[str, Any]:
        return {"message_id": "m-2"}

    result = await orchestrator.run(
        task, tools={**failing, "send_email": send_email}, inputs=inputs
    )
    assert result.outcome == "completed" and result.path[-1] == "send_email"
    assert [d.action for d in result.log if d.action in ("fail", "reroute")] == []


async def test_a_tool_that_failed_in_one_run_is_not_called_by_the_next_while_its_breaker_is_open(
    router: SkillRouter,
) -> None:
    orchestrator = _breaking_at_one_failure(router)  # one failure opens the breaker
    task, inputs = WEATHER_EMAIL, WEATHER_EMAIL_INPUTS
    first, second = Tools(), Tools()
    healed = await orchestrator.run(task, tools=first.mapping(), inputs=inputs)
    assert healed.outcome == "completed" and "send_email" in [n for n, _ in first.calls]
    assert orchestrator.breakers["send_email"].state == "open"
    result = await orchestrator.run(task, tools=second.mapping(), inputs=inputs)
    assert result.outcome == "completed"
    assert result.path == ["geocode_city", "weather_forecast", "mailgun_send_email"]
    assert "send_email" not in [n for n, _ in second.calls]
    assert [d.action for d in result.log].count("fail") == 0
    [avoided] = [d for d in result.log if d.action == "reroute"]
    assert avoided.tool == "send_email" and "avoided before any call" in avoided.reason
    # Health belongs to the orchestrator: a new one knows nothing of it.
    third = Tools()
    await _breaking_at_one_failure(router).run(task, tools=third.mapping(), inputs=inputs)
    assert "send_email" in [n for n, _ in third.calls]


async def test_a_task_nothing_fits_escalates_without_running_anything(
    router: SkillRouter,
) -> None:
    orchestrator = Orchestrator(router)
    log = DecisionLog()
    result = await orchestrator.run("order a large pepperoni pizza", tools={}, log=log)
    assert result.outcome == "escalated"
    assert result.run is None and result.path == []
    assert [d.action for d in log] == ["escalate"]
    assert "no skill in the catalog fits" in log.entries[0].reason


async def test_a_run_no_function_could_finish_does_not_start(router: SkillRouter) -> None:
    tools = Tools()
    functions = {**tools.mapping(), "send_email": tools.mailgun_send_email}
    result = await Orchestrator(router).run(
        "Get the weather forecast for Lisbon, then send an email with it to ana@example.com",
        tools=functions,
        inputs={"address": "Lisbon", "to": "ana@example.com", "body": "x"},  # no subject
    )
    # Both email skills need a subject nobody gives: geocoding first would be for nothing.
    assert result.outcome == "escalated" and tools.calls == [] and result.run is None
    [decision] = result.log.entries
    assert decision.action == "escalate" and "not started" in decision.reason
    assert "send_email" in decision.reason and "'subject'" in decision.reason


async def test_an_llm_escalation_provides_inputs_the_task_states_and_the_run_starts(
    router: SkillRouter,
) -> None:
    seen: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(json.loads(body["messages"][1]["content"]))
        content = json.dumps({"action": "provide", "inputs": {"subject": "Lisbon weather"}})
        return httpx.Response(200, json={"choices": [{"message": {"content": content}}]})

    client = OpenAICompatibleClient("http://llm.test/v1", "m", transport=_transport(answer))
    tools = Tools()
    task = (
        "Get the weather forecast for Lisbon, then email it to ana@example.com; for the "
        "subject put Lisbon weather"
    )
    result = await Orchestrator(router, escalation=LLMEscalation(client)).run(
        task,
        tools={**tools.mapping(), "send_email": tools.mailgun_send_email},
        inputs={"address": "Lisbon", "to": "ana@example.com", "body": "x"},
    )
    assert seen[0]["task"] == task and seen[0]["missing"] == ["subject"]
    assert result.outcome == "completed" and result.llm_calls == 1
    first = result.log.entries[0]
    assert first.action == "escalate" and "provided subject" in first.reason
    assert result.silent_failures() == []


async def test_inputs_the_handler_cannot_provide_leave_the_run_unstarted(
    router: SkillRouter,
) -> None:
    tools = Tools()
    result = await Orchestrator(router, escalation=ScriptedEscalation([GiveUp("not stated")])).run(
        "Send an email to ana@example.com saying hi",
        tools={"send_email": tools.mailgun_send_email},
        inputs={"to": "ana@example.com", "body": "hi"},
    )
    assert result.outcome == "escalated" and tools.calls == [] and result.llm_calls == 1
    assert "not started" in result.log.entries[-1].reason
    assert "the handler: not stated" in result.log.entries[-1].reason


async def test_an_answer_providing_inputs_nobody_asked_for_ends_failed(router: SkillRouter) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        content = json.dumps({"action": "provide", "inputs": {"cc": "boss@example.com"}})
        return httpx.Response(200, json={"choices": [{"message": {"content": content}}]})

    client = OpenAICompatibleClient("http://llm.test/v1", "m", transport=_transport(answer))
    tools = Tools()
    result = await Orchestrator(router, escalation=LLMEscalation(client)).run(
        "Send an email to ana@example.com saying hi",
        tools={"send_email": tools.mailgun_send_email},
        inputs={"to": "ana@example.com", "body": "hi"},
    )
    assert result.outcome == "failed" and tools.calls == []
    assert "handler failed" in result.log.entries[-1].reason


def test_an_inputs_answer_must_name_only_the_missing_inputs() -> None:
    request = EscalationRequest("task", "Done", (), (), (), "not started", "t", ("subject",))
    provide = '{"action": "provide", "inputs": {"subject": "hi"}}'
    assert parse_decision(provide, request) == Provide({"subject": "hi"})
    with pytest.raises(EscalationError, match=r"\['cc'\] not among the missing inputs"):
        parse_decision('{"action": "provide", "inputs": {"cc": "x"}}', request)
    # No value is not a value: a null or the prompt's placeholder echoed back is refused.
    with pytest.raises(EscalationError, match=r"inputs.subject: None is no value"):
        parse_decision('{"action": "provide", "inputs": {"subject": null}}', request)
    with pytest.raises(EscalationError, match=r"inputs.subject: '<subject>' is no value"):
        parse_decision('{"action": "provide", "inputs": {"subject": "<subject>"}}', request)
    assert parse_decision('{"action": "provide", "inputs": {"subject": "<3 u"}}', request)
    no_path = EscalationRequest("task", "Done", (), (), (), "no path")
    with pytest.raises(EscalationError, match="expected give_up, got 'provide'"):
        parse_decision(provide, no_path)  # inputs are provided only when asked for
    # Mid-run, a fallback may be offered beside the missing inputs: either answer applies.
    both = replace(request, fallbacks=(Fallback("Logged", "log it instead"),))
    demote = '{"action": "demote", "fallback": "Logged"}'
    assert parse_decision(demote, both) == Demote("Logged")
    with pytest.raises(EscalationError, match="expected provide or give_up, got 'demote'"):
        parse_decision(demote, request)


def test_a_step_is_blocked_only_when_none_of_its_skills_can_be_called(planner: Planner) -> None:
    from orchestrator._blocked import blocked_steps
    from orchestrator._keyword_tools import KeywordInvoker

    def needs_cc(to: str, subject: str, body: str, cc: str) -> None: ...

    def plain(to: str, subject: str, body: str) -> None: ...

    plan = planner.plan("Send an email to ana@example.com saying hello")
    assert plan.step("send_email").alternatives == ("mailgun_send_email",)
    given = {"to": "ana@example.com", "subject": "hi", "body": "hello"}
    skills = planner.skills

    def blocked(functions: dict[str, Any], inputs: dict[str, Any]) -> list[Any]:
        return blocked_steps(plan, KeywordInvoker(functions, skills), skills, inputs)

    either = {"send_email": needs_cc, "mailgun_send_email": plain}
    assert blocked(either, given) == []  # the alternative can be called
    [step] = blocked({"send_email": needs_cc}, given)
    assert "mailgun_send_email: no function" in step.why and "'cc'" in step.why
    assert step.missing == ()  # cc is no parameter of the skill: no input can supply it
    # cc is not a parameter of the skill, so the binder never passes it, even when given.
    assert blocked({"send_email": needs_cc}, {**given, "cc": "x"}) != []
    # An input given for one skill ("skill.param") counts for that skill.
    no_subject = {"to": "ana@example.com", "body": "hello"}
    [step] = blocked({"send_email": plain}, no_subject)
    assert step.missing == ("subject",)
    assert blocked({"send_email": plain}, {**no_subject, "send_email.subject": "hi"}) == []

    # What an alternative lacks is asked for when no input could unblock the chosen skill.
    def cc_only(to: str, body: str, cc: str) -> None: ...

    [step] = blocked({"send_email": cc_only, "mailgun_send_email": plain}, no_subject)
    assert step.missing == ("subject",)


async def test_an_argument_missing_at_call_time_is_not_retried_and_names_it(
    router: SkillRouter,
) -> None:
    calls: list[str] = []

    def geocode_city(address: str) -> dict[str, Any]:
        calls.append("geocode_city")
        return {"display_name": address}  # no coordinates, though its schema promises them

    def weather_forecast(latitude: float, longitude: float) -> dict[str, Any]:
        calls.append("weather_forecast")
        return {"days": []}

    result = await Orchestrator(router).run(
        "What is the weather forecast for Lisbon this week?",
        tools={"geocode_city": geocode_city, "weather_forecast": weather_forecast},
        inputs={"address": "Lisbon"},
    )
    assert result.outcome == "escalated" and calls == ["geocode_city"]
    actions = [(d.action, d.tool) for d in result.log]
    assert ("fail", "weather_forecast") in actions and ("retry", "weather_forecast") not in actions
    fail = next(d for d in result.log if d.action == "fail")
    assert fail.reason.startswith("bad_arguments") and "'latitude'" in fail.reason
    assert result.silent_failures() == []


def _coordinates_lost() -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    """A geocoder that answers without the coordinates its schema promises, and a forecast
    that needs them: the forecast step is called without arguments it requires."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def geocode_city(address: str) -> dict[str, Any]:
        calls.append(("geocode_city", {"address": address}))
        return {"display_name": address}

    def weather_forecast(latitude: float, longitude: float) -> dict[str, Any]:
        calls.append(("weather_forecast", {"latitude": latitude, "longitude": longitude}))
        return {"days": []}

    return calls, {"geocode_city": geocode_city, "weather_forecast": weather_forecast}


async def test_arguments_missing_mid_run_are_asked_for_and_the_step_is_called_again(
    router: SkillRouter,
) -> None:
    seen: list[list[dict[str, Any]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content)["messages"])
        inputs = {"latitude": 38.72, "longitude": -9.14}
        content = json.dumps({"action": "provide", "inputs": inputs, "reason": "Lisbon"})
        return httpx.Response(200, json={"choices": [{"message": {"content": content}}]})

    client = OpenAICompatibleClient("http://llm.test/v1", "m", transport=_transport(answer))
    calls, functions = _coordinates_lost()
    task = "What is the weather forecast for Lisbon this week?"
    result = await Orchestrator(router, escalation=LLMEscalation(client)).run(
        task, tools=functions, inputs={"address": "Lisbon"}
    )
    assert result.outcome == "completed" and result.llm_calls == 1
    # The geocoder ran once: what was done is not redone; the forecast ran with what was given.
    assert calls == [
        ("geocode_city", {"address": "Lisbon"}),
        ("weather_forecast", {"latitude": 38.72, "longitude": -9.14}),
    ]
    [messages] = seen
    asked = json.loads(messages[1]["content"])
    assert asked["task"] == task and asked["missing"] == ["latitude", "longitude"]
    assert '"action": "provide"' in messages[0]["content"]
    escalation = next(d for d in result.log if d.action == "escalate")
    assert "provided latitude, longitude; calling weather_forecast again" in escalation.reason
    assert result.silent_failures() == []


async def test_without_a_handler_the_escalation_names_the_arguments_a_caller_could_give(
    router: SkillRouter,
) -> None:
    calls, functions = _coordinates_lost()
    orchestrator = Orchestrator(router)
    task = "What is the weather forecast for Lisbon this week?"
    mid_run = await orchestrator.run(task, tools=functions, inputs={"address": "Lisbon"})
    assert mid_run.outcome == "escalated" and mid_run.llm_calls == 0
    escalation = next(d for d in mid_run.log if d.action == "escalate")
    assert escalation.data["missing"] == ["latitude", "longitude"]
    # Before the start too: nothing gives the geocoder its address.
    calls.clear()
    unstarted = await orchestrator.run(task, tools=functions)
    assert unstarted.outcome == "escalated" and calls == []
    assert next(d for d in unstarted.log if d.action == "escalate").data["missing"] == ["address"]


async def test_a_handler_providing_inputs_not_asked_for_mid_run_ends_the_run_failed(
    router: SkillRouter,
) -> None:
    calls, functions = _coordinates_lost()
    handler = ScriptedEscalation([Provide({"latitude": 38.72, "units": "metric"})])
    result = await Orchestrator(router, escalation=handler).run(
        "What is the weather forecast for Lisbon this week?",
        tools=functions,
        inputs={"address": "Lisbon"},
    )
    assert result.outcome == "failed" and [c[0] for c in calls] == ["geocode_city"]
    last = result.log.entries[-1]
    assert "handler failed" in last.reason and "['units'] not among the missing" in last.reason


async def test_inputs_provided_for_only_part_of_a_step_leave_it_masked(
    router: SkillRouter,
) -> None:
    asked: list[tuple[str, ...]] = []

    class Recording(ScriptedEscalation):
        async def escalate(self, request: EscalationRequest) -> EscalationDecision:
            asked.append(request.missing)
            return await super().escalate(request)

    calls, functions = _coordinates_lost()
    handler = Recording([Provide({"latitude": 38.72}), GiveUp("no longitude stated")])
    result = await Orchestrator(router, escalation=handler).run(
        "What is the weather forecast for Lisbon this week?",
        tools=functions,
        inputs={"address": "Lisbon"},
    )
    assert result.outcome == "escalated" and handler.calls == 2 and result.llm_calls == 2
    assert asked == [("latitude", "longitude"), ("longitude",)]
    assert [c[0] for c in calls] == ["geocode_city"]  # the forecast was never callable
    escalations = [d.reason for d in result.log if d.action == "escalate"]
    assert "provided latitude; still missing inputs" in escalations[0]
    assert "gave up: no longitude stated" in escalations[1]


def test_run_sync_works_from_a_script(router: SkillRouter) -> None:
    tools = Tools()
    result = Orchestrator(router).run_sync(
        "Send an email to ana@example.com saying hi",
        tools={"mailgun_send_email": tools.mailgun_send_email, "send_email": tools.send_email},
        inputs={"to": "ana@example.com", "subject": "hi", "body": "hi"},
    )
    assert result.outcome == "completed" and result.path == ["mailgun_send_email"]


async def test_an_effort_router_sets_logs_and_learns_each_planned_steps_effort(
    router: SkillRouter,
) -> None:
    from orchestrator.effort import EffortPolicy, EffortRouter
    from orchestrator.execution import Reasoned

    efforts: list[tuple[str, str]] = []

    class Thinking:
        async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any:
            raise AssertionError("an effort-aware invoker is called with its effort")

        async def invoke_with_effort(
            self, tool: str, arguments: Mapping[str, Any], effort: str
        ) -> Any:
            efforts.append((tool, effort))
            return Reasoned({"message_id": "m-1"}, tokens=120)

    learner = EffortRouter(EffortPolicy(features="signals"))
    orchestrator = Orchestrator(router, effort=learner)
    result = await orchestrator.run("Send an email to ana@example.com saying hi", tools=Thinking())
    assert result.outcome == "completed"
    assert efforts and efforts[0][0] == "send_email"
    executed = [d for d in result.log if d.action == "execute"]
    assert [d.data["effort"] for d in executed] == [effort for _, effort in efforts]
    # What each call spent reaches the router through the plan's argument binding.
    assert [(o.step.tool, o.effort, o.success, o.tokens) for o in learner.observations] == [
        (tool, effort, True, 120.0) for tool, effort in efforts
    ]
    assert learner.observations[0].step.task.startswith("Send an email to ana@example.com")
    assert result.outputs["send_email"] == {"message_id": "m-1"}
    # The router saw what routing knew of the step: its fit and how many alternatives it has.
    step, seen = result.plan.step("send_email"), learner.observations[0].step
    assert step.fit is not None and step.fit > 0.5 and f"fit {step.fit:.2f}" in step.reason
    assert step.alternatives == ("mailgun_send_email",)
    assert (seen.confidence, seen.alternatives) == (step.fit, 1)


def test_a_given_decomposer_splits_the_task_and_only_an_llm_one_counts(
    router: SkillRouter,
) -> None:
    from orchestrator.planning import RuleDecomposer

    task = "Weather forecast for Lisbon, then email it to ana@example.com"
    whole = Orchestrator(router, decomposer=RuleDecomposer(min_words=50)).plan(task)
    assert len(whole.subgoals) == 1 and whole.llm_calls == 0  # its min_words, not the policy

    def answer(request: httpx.Request) -> httpx.Response:
        content = '["get the weather forecast for Lisbon", "email it to ana@example.com"]'
        return httpx.Response(200, json={"choices": [{"message": {"content": content}}]})

    client = OpenAICompatibleClient("http://llm.test/v1", "m", transport=_transport(answer))
    split = Orchestrator(router, decomposer=LLMDecomposer(client)).plan(task)
    assert split.subgoals == ("get the weather forecast for Lisbon", "email it to ana@example.com")
    assert split.llm_calls == 1


# -- learning from past runs ------------------------------------------------------------------

WEATHER_MAIL = PastRun(
    "Let Ana know what the weather in Porto will be",
    ("geocode_city", "weather_forecast", "send_email"),
)


SUPPORT_DESK = Path(__file__).parent / "fixtures" / "support_desk.jsonl"


@pytest.fixture(scope="module")
def support_desk(tmp_path_factory: pytest.TempPathFactory) -> Planner:
    index = tmp_path_factory.mktemp("support") / "index"
    return Planner.from_router(SkillRouter.from_catalog(SUPPORT_DESK, index_dir=index))


def test_a_sub_goal_another_ones_step_takes_is_unplanned_when_it_ranks_its_own_first(
    support_desk: Planner,
) -> None:
    """Its best fit was the refund the first sub-goal planned, so the ticket it ranks first
    was dropped without a word (a tester's): the run "completed" without opening it."""
    task = "refund order o-1, then open a support ticket about the refund"
    plan = support_desk.plan(task)
    assert plan.ids == ["refund_order"]
    assert plan.unplanned == ("open a support ticket about the refund",)
    # A usage model recalling the refund it planned anyway does not cover the ticket (it had).
    usage = UsageModel.fit([PastRun("refund order o-7, then tell me", ("refund_order",))])
    wide = PlanningPolicy(usage=UsagePolicy(prerequisite_window=5))  # as without recall
    learned = Planner.from_router(support_desk.router, wide, usage=usage).plan(task)
    assert learned.ids == ["refund_order"] and learned.unplanned == plan.unplanned


def test_a_lookup_by_e_mail_produces_the_id_it_is_named_after(support_desk: Planner) -> None:
    """find_customer(customer_email) -> customer_id was taken for a skill passing on the
    customer it was given (its input holds "customer"), so list_orders' customer_id was left
    to the caller and the run escalated without a call; named ``email``, it was planned."""
    plan = support_desk.plan("refund the last order of jane@example.com")
    assert plan.ids == ["find_customer", "list_orders", "refund_order"]
    assert plan.step("list_orders").open_inputs == ()


def test_a_state_prerequisite_past_runs_show_is_planned_first(router: SkillRouter) -> None:
    task = "Translate this text into French: good morning"
    assert Planner.from_router(router).plan(task).ids == ["translate_text"]
    # No schema links them: translate_text takes nothing service_status outputs.
    usage = UsageModel.fit([PastRun("", ("service_status", "translate_text"))] * 3)
    plan = Planner.from_router(router, usage=usage).plan(task)
    assert plan.ids == ["service_status", "translate_text"]
    assert "ran before translate_text in 100% of its 3 past" in plan.step("service_status").reason
    few = UsageModel.fit([PastRun("", ("service_status", "translate_text"))] * 2)
    assert Planner.from_router(router, usage=few).plan(task).ids == ["translate_text"]


def test_a_similar_past_tasks_tools_join_the_plan_in_their_order(router: SkillRouter) -> None:
    task = "Let Rui know what the weather in Faro will be"
    assert "send_email" not in Planner.from_router(router).plan(task).ids
    planner = Planner.from_router(router, usage=UsageModel.fit([WEATHER_MAIL]))
    plan = planner.plan(task)
    assert plan.ids == ["geocode_city", "weather_forecast", "send_email"]
    assert "used by 100% of the most similar past tasks" in plan.step("send_email").reason


class _ShopUser(TypedDict):
    user_id: str
    email: str


class _ShopOrder(TypedDict):
    order_id: str
    total_cents: int


class _ShopRefund(TypedDict):
    refund_id: str
    order_id: str
    amount_cents: int


def _refund_functions() -> list[Any]:
    """Two providers of one refund, and what finds the order to refund (a tester's shop)."""

    def find_user(email: str) -> _ShopUser:
        """Find a customer account by e-mail address."""
        return {"user_id": "u-1", "email": email}

    def get_latest_order(user_id: str) -> _ShopOrder:
        """Get the most recent order placed by a customer, by user id."""
        return {"order_id": "o-42", "total_cents": 1999}

    def stripe_refund(order_id: str, amount_cents: int) -> _ShopRefund:
        """Refund an order's payment through Stripe."""
        return {"refund_id": "re_1", "order_id": order_id, "amount_cents": amount_cents}

    def paypal_refund(order_id: str, amount_cents: int) -> _ShopRefund:
        """Refund an order's payment through PayPal."""
        return {"refund_id": "re_2", "order_id": order_id, "amount_cents": amount_cents}

    return [find_user, get_latest_order, stripe_refund, paypal_refund]


def test_a_past_runs_near_duplicate_of_a_step_is_that_step_not_one_more(tmp_path: Path) -> None:
    """Past runs refunded through Stripe, routing chose PayPal with Stripe as its alternative:
    the plan held both refunds, and the run refunded the order twice (a tester's)."""
    router = SkillRouter.from_catalog(_refund_functions(), index_dir=tmp_path / "i")
    task = "issue a refund for bob@example.com's latest order"
    routed = Planner.from_router(router).plan(task)
    [refund] = [s for s in routed.steps if s.id.endswith("_refund")]
    other = refund.alternatives[0]
    assert other.endswith("_refund")
    past = ("find_user", "get_latest_order", other)
    recalled = UsageModel.fit([PastRun("refund jane@example.com's latest order", past)])
    # Nor is a precedent (what past runs of a step called before it) that is the step itself.
    before = UsageModel.fit([PastRun("", (other, refund.id))] * 3)
    for usage in (recalled, before):
        plan = Planner.from_router(router, usage=usage).plan(task)
        refunds = [s.id for s in plan.steps if s.id.endswith("_refund")]
        assert len(refunds) == 1, plan.ids
    # The step takes the tool past runs used; the one routed becomes its alternative.
    [step] = [
        s for s in Planner.from_router(router, usage=recalled).plan(task).steps if s.id == other
    ]
    assert step.alternatives[0] == refund.id and step.fit is None


def test_a_sub_goal_a_recalled_step_covers_is_not_left_unplanned(router: SkillRouter) -> None:
    task = "Look up the weather in Faro, then tell Rui"
    alone = Planner.from_router(router).plan(task)
    assert "send_email" not in alone.ids and alone.unplanned == ("tell Rui",)
    recalled = Planner.from_router(router, usage=UsageModel.fit([WEATHER_MAIL])).plan(task)
    assert "send_email" in recalled.ids and recalled.unplanned == ()


def test_a_task_unlike_any_past_one_is_planned_from_routing_alone(router: SkillRouter) -> None:
    task = "Is the service healthy? Translate 'hi' to Spanish"
    planner = Planner.from_router(router, usage=UsageModel.fit([WEATHER_MAIL]))
    assert planner.recall(task) == {}
    assert planner.plan(task).ids == Planner.from_router(router).plan(task).ids


INTERVIEW = "Book an interview with the candidate next week"
TRAVEL_RUNS = [
    PastRun("Cancel my flight booking ABC123, my plans changed", ("cancel_flight_booking",)),
    PastRun("Cancel the hotel reservation for next weekend", ("cancel_hotel_reservation",)),
    PastRun(
        "Book a flight from Lisbon to Paris on Friday",
        ("lookup_airport_code", "search_flights", "book_flight"),
    ),
]


def test_a_task_on_tools_no_past_run_called_is_planned_as_without_the_model(
    sample_router: SkillRouter,
) -> None:
    usage = UsageModel.fit(TRAVEL_RUNS)
    planner = Planner.from_router(sample_router, usage=usage)
    assert not planner.familiar(sample_router.route(INTERVIEW, k=20))
    assert planner.recall(INTERVIEW) == {}
    alone = Planner.from_router(sample_router).plan(INTERVIEW).ids
    # The applicants' listing gives the interview its application id.
    assert planner.plan(INTERVIEW).ids == alone == ["list_job_applicants", "schedule_interview"]
    # What the guard prevents: the hotel task reads alike enough to be recalled, and its tool
    # would replace the interview.
    unguarded = PlanningPolicy(usage=UsagePolicy(min_familiarity=0.0))
    recalled = Planner.from_router(sample_router, unguarded, usage=usage).plan(INTERVIEW)
    assert recalled.ids == ["cancel_hotel_reservation"]


def test_a_familiar_task_recalls_past_tasks_below_the_unfamiliar_floor(
    sample_router: SkillRouter,
) -> None:
    usage = UsageModel.fit(
        [
            PastRun(
                "Arrange for the hiring team to meet the applicant on Monday",
                ("list_job_applicants", "schedule_interview"),
            ),
            PastRun("Show me who applied to the data engineer opening", ("list_job_applicants",)),
        ]
    )
    planner = Planner.from_router(sample_router, usage=usage)
    rules = planner.policy.usage
    assert planner.familiar(sample_router.route(INTERVIEW, k=20))
    usage.embed(sample_router.embedder)
    below = usage.recall(
        sample_router.embedder.encode([INTERVIEW])[0],
        neighbours=rules.neighbours,
        min_similarity=rules.unfamiliar_min_similarity,
        task=INTERVIEW,
        lexical_weight=rules.lexical_weight,
    )
    assert below == {}  # no past task is that alike, yet it is recalled:
    assert planner.plan(INTERVIEW).ids == ["list_job_applicants", "schedule_interview"]


def test_a_routed_step_no_similar_past_task_used_is_left_out(router: SkillRouter) -> None:
    task = "Let Rui know what the weather in Faro will be"
    assert "geocode_city" in Planner.from_router(router).plan(task).ids
    # Past runs of such tasks were given coordinates: they never geocoded.
    usage = UsageModel.fit([PastRun(WEATHER_MAIL.task, ("weather_forecast", "send_email"))])
    assert Planner.from_router(router, usage=usage).plan(task).ids == [
        "weather_forecast",
        "send_email",
    ]


class _CountingEmbedder:
    """The router's embedder, counting the texts it embeds."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.texts = 0
        self.name = inner.name
        self.dimension = inner.dimension

    def encode(self, texts: list[str], **options: Any) -> Any:
        self.texts += len(texts)
        return self.inner.encode(texts, **options)


def test_recall_reuses_the_task_vector_routing_computed(router: SkillRouter) -> None:
    embedder = _CountingEmbedder(router.embedder)
    counted = SkillRouter(router.index, embedder, router.policy)
    planner = Planner.from_router(counted, usage=UsageModel.fit([WEATHER_MAIL]))
    task = "Let Rui know what the weather in Faro will be"
    first = planner.plan(task)
    embedder.texts = 0  # the past task is embedded once, on the first recall
    assert planner.plan(task).ids == first.ids
    assert embedder.texts == 1


def test_past_runs_of_tools_gone_from_the_catalog_do_not_empty_a_plan(
    router: SkillRouter,
) -> None:
    task = "Let Rui know what the weather in Faro will be"
    usage = UsageModel.fit([PastRun(WEATHER_MAIL.task, ("retired_weather_tool",))])
    planner = Planner.from_router(router, usage=usage)
    assert planner.recall(task) == {"retired_weather_tool": 1.0}
    assert planner.plan(task).ids == Planner.from_router(router).plan(task).ids != []


def test_an_orchestrator_that_learns_saves_each_completed_run(
    router: SkillRouter, tmp_path: Path
) -> None:
    path = tmp_path / "usage.json"
    orchestrator = Orchestrator(router, usage=path, learn=True)
    task = "Send an email to ana@example.com saying hi"
    tools = Tools()
    result = orchestrator.run_sync(
        task,
        tools={"mailgun_send_email": tools.mailgun_send_email, "send_email": tools.send_email},
        inputs={"to": "ana@example.com", "subject": "hi", "body": "hi"},
    )
    assert result.outcome == "completed"
    learned = UsageModel.load(path)
    assert learned.runs == [PastRun(task, ("mailgun_send_email",))]  # the failed call is not
    escalated = orchestrator.run_sync("order a large pepperoni pizza", tools={})
    assert escalated.outcome == "escalated"
    assert UsageModel.load(path).runs == learned.runs  # a run that did not complete teaches nothing
    graph = ToolGraph(start="start", goal="done")
    graph.add_edge("start", "mailgun_send_email", 1.0)
    graph.add_edge("mailgun_send_email", "done", 0.0)
    own = orchestrator.run_sync(
        task,
        tools={"mailgun_send_email": tools.mailgun_send_email},
        graph=graph,
        inputs={"to": "ana@example.com", "subject": "hi", "body": "hi"},
    )
    assert own.outcome == "completed"
    assert UsageModel.load(path).runs == learned.runs  # a graph you gave is not a plan
    assert Orchestrator(router, usage=path).planner.usage is not None
    assert Orchestrator(router).planner.usage is None  # optional: off unless given


async def test_learning_counts_only_the_decisions_of_its_own_run(router: SkillRouter) -> None:
    orchestrator = Orchestrator(router, learn=True)  # an in-memory model
    log = DecisionLog()
    log.record("execute", "geocode_city", "a call of an earlier run in the same log")
    log.record("complete", "Done", "the earlier run")
    task = "Send an email to ana@example.com saying hi"
    tools = Tools()
    result = await orchestrator.run(
        task,
        tools={"mailgun_send_email": tools.mailgun_send_email, "send_email": tools.send_email},
        inputs={"to": "ana@example.com", "subject": "hi", "body": "hi"},
        log=log,
    )
    assert result.outcome == "completed"
    assert orchestrator.usage is not None
    assert orchestrator.usage.runs == [PastRun(task, ("mailgun_send_email",))]


class Coordinates(TypedDict):
    latitude: float
    longitude: float


async def test_plain_functions_are_the_catalog_and_the_tools_of_one_run(tmp_path: Path) -> None:
    def geocode(address: str) -> Coordinates:
        """Find the latitude and longitude of a street address or place name."""
        return {"latitude": 38.72, "longitude": -9.14}

    def forecast(latitude: float, longitude: float, days: int = 3) -> dict[str, Any]:
        """Get the weather forecast for a location given by its latitude and longitude."""
        return {"days": [{"max_c": 19, "at": [latitude, longitude]}] * days}

    def send_email(to: str, subject: str, body: str) -> str:
        """Send an email to a recipient."""
        return "sent"

    functions = [geocode, forecast, send_email]
    orchestrator = Orchestrator(load_catalog(functions), index_dir=tmp_path / "index")
    result = await orchestrator.run(
        "what's the weather forecast in Lisbon?",
        tools={f.__name__: f for f in functions},
        inputs={"address": "Lisbon"},
    )
    # geocode is planned only because its return type says it produces the coordinates.
    assert result.outcome == "completed" and result.path == ["geocode", "forecast"]
    assert result.outputs["forecast"]["days"][0]["at"] == [38.72, -9.14]


async def test_an_argument_of_the_wrong_type_is_refused_before_the_call_not_held_against_it(
    tmp_path: Path,
) -> None:
    calls: list[int] = []

    def refund_order(order_id: int) -> str:
        """Refund an order by its numeric id."""
        calls.append(order_id)
        return "refunded"

    orchestrator = Orchestrator([refund_order], index_dir=tmp_path / "index")
    for _ in range(6):  # more than the breaker's five failures
        wrong = await orchestrator.run("refund the order", inputs={"order_id": "42"})
        fail = next(d for d in wrong.log if d.action == "fail")
        assert fail.reason == "bad_arguments: argument order_id: '42' is not of type 'integer'"
        assert wrong.log.count("retry") == 0
    assert calls == [] and orchestrator.breakers["refund_order"].state == "closed"
    right = await orchestrator.run("refund the order", inputs={"order_id": 42})
    assert right.outcome == "completed" and calls == [42]


async def test_a_call_whose_arguments_are_refused_before_it_goes_out_is_not_billed(
    tmp_path: Path,
) -> None:
    """The run's cost counted a refused call's price, as if the tool had been called."""
    calls: list[Any] = []

    def refund(order_id: int) -> str:
        calls.append(order_id)
        return "refunded"

    skill = Skill(
        id="refund_order",
        name="refund_order",
        description="Refund an order by its numeric id.",
        parameters={
            "type": "object",
            "properties": {"order_id": {"type": "integer"}},
            "required": ["order_id"],
        },
        price=0.5,
    )
    orchestrator = Orchestrator([skill], index_dir=tmp_path / "index")
    tools = {"refund_order": refund}
    refused = await orchestrator.run("refund the order", tools=tools, inputs={"order_id": "42"})
    [fail] = [d for d in refused.log if d.action == "fail"]
    assert fail.data["kind"] == "bad_arguments" and fail.data["sent"] is False
    assert "duration_ms" not in fail.data and calls == [] and refused.cost == 0.0
    done = await orchestrator.run("refund the order", tools=tools, inputs={"order_id": 42})
    assert done.outcome == "completed" and done.cost == 0.5 and calls == [42]


async def test_a_null_argument_is_refused_unless_the_function_defaults_to_none(
    tmp_path: Path,
) -> None:
    calls: list[tuple[Any, Any]] = []

    # A default of None under another type, as functions are often written: it takes None.
    def refund_payment(payment_id: str, note: str = None) -> str:  # type: ignore[assignment]  # noqa: RUF013
        """Refund a card payment by its id."""
        calls.append((payment_id, note))
        return "refunded"

    orchestrator = Orchestrator([refund_payment], index_dir=tmp_path / "index")
    null = await orchestrator.run("refund the payment", inputs={"payment_id": None})
    fail = next(d for d in null.log if d.action == "fail")
    assert fail.reason == "bad_arguments: argument payment_id: None is not of type 'string'"
    assert calls == []
    given = {"payment_id": "pi_1", "note": None}  # the function's own default
    assert (await orchestrator.run("refund the payment", inputs=given)).outcome == "completed"
    assert calls == [("pi_1", None)]


class _Zip(BaseModel):
    code: str


class _Address(BaseModel):
    street: str
    zip: _Zip  # a model in a model: its schema refers to $defs


async def test_values_a_function_takes_are_not_refused_by_the_schema_check(tmp_path: Path) -> None:
    calls: list[Any] = []

    def ship(address: _Address, dims: tuple[float, float], tags: set[str], note: str = "") -> str:
        """Ship a parcel to an address."""
        calls.append((address, dims, tags))
        return "shipped"

    orchestrator = Orchestrator([ship], index_dir=tmp_path / "index")
    given = {"address": {"street": "x", "zip": {"code": "1"}}, "dims": (1.0, 2), "tags": {"a"}}
    result = await orchestrator.run("ship the parcel", inputs=given)
    assert result.outcome == "completed" and len(calls) == 1
    deep: Any = "bottom"
    for _ in range(3000):  # nested deeper than anything the check walks: left to the function
        deep = [deep]
    nested = await orchestrator.run("ship the parcel", inputs={**given, "note": deep})
    assert nested.log.count("fail") == 0 and len(calls) == 2
    wrong = await orchestrator.run("ship the parcel", inputs={**given, "note": 5})
    fail = next(d for d in wrong.log if d.action == "fail")
    assert fail.reason == "bad_arguments: argument note: 5 is not of type 'string'"


@dataclasses.dataclass
class _Order:
    order_id: str
    total: float


class _Priority(enum.Enum):
    HIGH = "high"


async def test_a_function_returning_what_its_annotation_says_passes_it_on_in_json_form(
    tmp_path: Path,
) -> None:
    def find_order(customer_email: str) -> _Order:
        """Find a customer's most recent order by their e-mail address."""
        return _Order("o-42", 30.0)

    def refund_order(order_id: str) -> tuple[str, _Priority]:
        """Refund an order's payment to the customer's card."""
        return (f"re-{order_id}", _Priority.HIGH)

    orchestrator = Orchestrator([find_order, refund_order], index_dir=tmp_path / "index")
    result = await orchestrator.run(
        "refund the customer's last order", inputs={"customer_email": "jane@example.com"}
    )
    # Validated against the schemas the annotations gave, and the order id read by name.
    assert result.outcome == "completed" and result.path == ["find_order", "refund_order"]
    assert result.outputs == {
        "find_order": {"order_id": "o-42", "total": 30.0},
        "refund_order": ["re-o-42", "high"],
    }


async def test_values_json_has_no_word_for_reach_the_next_function_as_they_were(
    tmp_path: Path,
) -> None:
    placed = datetime.datetime(2026, 1, 2, 3, 4)

    def find_order(customer_email: str) -> dict[str, Any]:
        """Find a customer's most recent order by their e-mail address."""
        return {
            "order_id": "o-42",
            "total": Decimal("19.99"),
            "placed_at": placed,
            "lines": {1: "x"},
        }

    def refund_order(order_id: str, total: Decimal, placed_at: datetime.datetime) -> str:
        """Refund an order's payment to the customer's card."""
        return f"refunded {order_id} {total + Decimal('0.01')} placed {placed_at:%Y-%m-%d}"

    orchestrator = Orchestrator([find_order, refund_order], index_dir=tmp_path / "index")
    result = await orchestrator.run(
        "refund the customer's last order", inputs={"customer_email": "jane@example.com"}
    )
    assert result.outcome == "completed" and result.path == ["find_order", "refund_order"]
    assert result.outputs["refund_order"] == "refunded o-42 20.00 placed 2026-01-02"
    assert result.outputs["find_order"]["lines"] == {1: "x"}  # keys as the function made them


async def test_a_call_one_run_abandoned_is_not_started_again_by_the_next_while_it_runs(
    tmp_path: Path,
) -> None:
    release = threading.Event()
    started: list[float] = []

    def charge_card(customer_email: str, amount: float) -> str:
        """Charge the customer's card on file."""
        started.append(amount)
        release.wait(10)
        return "charged"

    base = Policy().model_dump()
    base["execution"]["step_timeout_s"] = 0.1
    base["execution"]["retry"]["max_attempts"] = 1
    orchestrator = Orchestrator(
        [charge_card], policy=Policy.model_validate(base), index_dir=tmp_path / "index"
    )
    inputs = {"customer_email": "jane@example.com", "amount": 25.0}
    try:
        first = await orchestrator.run("charge the customer's card", inputs=inputs)
        second = await orchestrator.run("charge the customer's card", inputs=inputs)
    finally:
        release.set()
    assert first.outcome == second.outcome == "escalated"
    assert started == [25.0]  # the second run found the first one's call still running
    busy = next(d for d in second.log if d.action == "fail")
    assert "is still running in its thread" in busy.reason


async def test_a_tool_keyed_by_no_skill_or_not_callable_is_refused_before_the_run(
    tmp_path: Path,
) -> None:
    def refund_order(order_id: int) -> str:
        """Refund an order by its numeric id."""
        return "refunded"

    orchestrator = Orchestrator([refund_order], index_dir=tmp_path / "index")
    with pytest.raises(ValueError, match=r"tools\['refund_ordr'\].*did you mean refund_order"):
        await orchestrator.run("refund order 42", tools={"refund_ordr": refund_order})
    with pytest.raises(TypeError, match=r"tools\['refund_order'\]: expected a function"):
        await orchestrator.run("refund order 42", tools={"refund_order": 42})  # type: ignore[dict-item]


def test_a_tool_echoing_its_input_in_a_nested_result_is_not_planned_to_supply_it(
    tmp_path: Path,
) -> None:
    result = {"$ref": "#/$defs/TimeResult"}
    time_result = {
        "type": "object",
        "properties": {"timezone": {"type": "string"}, "datetime": {"type": "string"}},
    }
    convert = Skill(
        id="convert_time",
        name="convert_time",
        description="Convert a time between timezones.",
        parameters={
            "type": "object",
            "properties": {
                n: {"type": "string"} for n in ("source_timezone", "time", "target_timezone")
            },
            "required": ["source_timezone", "time", "target_timezone"],
        },
        outputs={
            "type": "object",
            "properties": {"source": result, "target": result},
            "$defs": {"TimeResult": time_result},
        },
    )
    now = Skill(
        id="get_current_time",
        name="get_current_time",
        description="Get the current time in a timezone.",
        parameters={
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
        outputs=time_result,
    )
    orchestrator = Orchestrator([convert, now], index_dir=tmp_path / "index")
    # convert_time's target.timezone is the target_timezone it was given: not a source of one.
    assert orchestrator.planner.dependencies.between("convert_time", "get_current_time")
    plan = orchestrator.plan("get the current time")
    assert plan.ids == ["get_current_time"]
    assert plan.steps[0].open_inputs == ("timezone",)


async def test_a_graph_of_your_own_runs_plain_functions_with_the_inputs_you_gave(
    router: SkillRouter,
) -> None:
    from orchestrator.graph import load_graph

    graph = load_graph(Path(__file__).resolve().parent.parent / "graphs/customer_support.yaml")
    calls: list[tuple[str, dict[str, Any]]] = []

    def tool(name: str) -> Any:
        def call(order_id: str) -> dict[str, Any]:
            calls.append((name, {"order_id": order_id}))
            return {"refund_id": "re_1"} if name == "Stripe" else {}

        return call

    result = await Orchestrator(router).run(
        "refund order 42 of jane@example.com, amount 20 USD",
        tools={name: tool(name) for name in ("CRM", "Stripe", "Email")},
        graph=graph,
        inputs={"order_id": "42", "note": "by phone"},
    )
    # The run's own context (the task text) is not passed to tools the catalog does not know,
    # and each function takes the inputs its signature names (not the note, nor the e-mail
    # address and amount the task writes).
    assert result.outcome == "completed" and result.path == ["CRM", "Stripe", "Email"]
    assert calls == [(n, {"order_id": "42"}) for n in ("CRM", "Stripe", "Email")]


async def test_a_graph_step_the_plan_does_not_hold_takes_what_the_step_before_returned(
    tmp_path: Path,
) -> None:
    """On your own graph, a step got an earlier step's output only if the task's plan held it:
    a refund task's graph through a support ticket failed for want of the user_id that
    find_user had just returned (a tester's)."""
    from orchestrator.graph import ToolGraph

    tickets: list[tuple[str, str | None]] = []

    def create_support_ticket(
        user_id: str, subject: str, email: str | None = None
    ) -> dict[str, str]:
        """Open a support ticket for a customer (copied to an e-mail address, if given)."""
        tickets.append((user_id, email))
        return {"ticket_id": "t-1"}

    orchestrator = Orchestrator(
        [*_refund_functions(), create_support_ticket], index_dir=tmp_path / "i"
    )
    task = "issue a refund for jane@example.com's latest order"
    assert "create_support_ticket" not in (await orchestrator.aplan(task)).ids
    graph = ToolGraph(start="Start", goal="Done")
    for tool in ("find_user", "create_support_ticket"):
        graph.add_tool(tool)
    graph.add_edge("Start", "find_user")
    graph.add_edge("find_user", "create_support_ticket")
    graph.add_edge("create_support_ticket", "Done")
    inputs = {"find_user.email": "jane@example.com", "subject": "refund"}
    result = await orchestrator.run(task, graph=graph, inputs=inputs)
    # The required user_id from find_user; not the optional e-mail find_user also returned,
    # which a name alone does not make the ticket's.
    assert result.outcome == "completed" and tickets == [("u-1", None)]


def test_an_orchestrator_keeps_the_first_of_two_functions_sharing_a_name_when_asked(
    tmp_path: Path,
) -> None:
    """The duplicate error said "keep the first with --dedupe / dedupe=True", which the
    Orchestrator did not take; and the catalog's tools kept the last function of the two."""
    called: list[str] = []

    def first() -> Any:
        def get_latest_order(user_id: str) -> dict[str, str]:
            """Get the most recent order placed by a customer, by user id."""
            called.append("first")
            return {"order_id": "o-1"}

        return get_latest_order

    def second() -> Any:
        def get_latest_order(user_id: str) -> dict[str, str]:
            """Get the latest order of a customer."""
            called.append("second")
            return {"order_id": "o-2"}

        return get_latest_order

    functions = [first(), second()]
    with pytest.raises(DuplicateSkillError, match="dedupe=True"):
        Orchestrator(functions, index_dir=tmp_path / "a")
    orchestrator = Orchestrator(functions, index_dir=tmp_path / "b", dedupe=True)
    result = orchestrator.run_sync("get the latest order of user u-7")
    assert result.outcome == "completed" and called == ["first"]


async def test_the_sync_methods_inside_a_running_event_loop(tmp_path: Path) -> None:
    """Both failed with anyio's bare "Already running asyncio in this thread" (in a notebook,
    say): plan() needs no loop unless an LLM decomposes, and run_sync() says what to await."""
    orchestrator = Orchestrator(_refund_functions(), index_dir=tmp_path / "i")
    task = "issue a refund for jane@example.com's latest order"
    assert orchestrator.plan(task).ids == (await orchestrator.aplan(task)).ids
    with pytest.raises(RuntimeError, match=r"use `await orchestrator\.run\(\.\.\.\)` instead"):
        orchestrator.run_sync(task)


async def test_runs_sharing_a_decision_log_each_report_their_own_calls(tmp_path: Path) -> None:
    attempts: list[str] = []

    def refund_order(order_id: str) -> str:
        """Refund an order's payment to the customer's card."""
        attempts.append(order_id)
        if order_id == "o-1":
            raise RuntimeError("503 from the payment provider")
        return "refunded"

    skill = Skill(
        id="refund_order",
        name="refund_order",
        description="Refund an order's payment to the customer's card.",
        parameters={"type": "object", "properties": {"order_id": {"type": "string"}}},
        price=0.5,
    )
    orchestrator = Orchestrator([skill], index_dir=tmp_path / "index")
    log = DecisionLog()
    tools = {"refund_order": refund_order}
    first = await orchestrator.run(
        "refund the order", tools=tools, inputs={"order_id": "o-1"}, log=log
    )
    second = await orchestrator.run(
        "refund the order", tools=tools, inputs={"order_id": "o-2"}, log=log
    )
    assert first.to_dict()["retries"] == 2 and first.cost == 1.5  # three calls, each billed
    assert (second.outcome, second.cost, second.to_dict()["retries"]) == ("completed", 0.5, 0)
    assert second.run is not None and second.run.retries == 0
    assert len(second.to_dict()["decisions"]) + len(first.log) == len(log)  # the log has both


async def test_a_skill_parameter_named_task_is_not_given_the_task_text(tmp_path: Path) -> None:
    added: list[tuple[str, str | None]] = []

    def add_todo(title: str, task: str | None = None) -> str:
        """Add a to-do item with a title to the list, optionally under a parent task."""
        added.append((title, task))
        return "added"

    orchestrator = Orchestrator([add_todo], index_dir=tmp_path / "index")
    done = await orchestrator.run("add a todo titled 'buy milk' to the list")
    assert done.outcome == "completed" and added == [("buy milk", None)]
    given = await orchestrator.run("add a todo", inputs={"title": "call", "task": "errands"})
    assert given.outcome == "completed" and added[-1] == ("call", "errands")


async def test_an_input_no_skill_takes_is_refused_with_the_nearest_one(tmp_path: Path) -> None:
    refunded: list[str] = []

    def refund_order(order_id: str) -> str:
        """Refund an order by its id."""
        refunded.append(order_id)
        return "refunded"

    orchestrator = Orchestrator([refund_order], index_dir=tmp_path / "index")
    with pytest.raises(UnknownInputError, match=r"inputs\['order_idd'\]: .*did you mean order_id"):
        await orchestrator.run("refund the order", inputs={"order_idd": "o-1"})
    with pytest.raises(UnknownInputError, match="skill 'refund_order' has no input 'id'; it takes"):
        orchestrator.plan("refund the order", inputs={"refund_order.id": "o-1"})
    with pytest.raises(UnknownInputError, match="no skill has the id 'refund_ordr'; did you mean"):
        await orchestrator.aplan("refund the order", inputs={"refund_ordr.order_id": "o-1"})
    assert refunded == []  # nothing ran on a misspelled input
    done = await orchestrator.run("refund the order", inputs={"refund_order.order_id": "o-1"})
    assert done.outcome == "completed" and refunded == ["o-1"]


def test_an_input_keyed_by_a_skill_name_is_told_to_use_the_skills_id(tmp_path: Path) -> None:
    skill = Skill(
        id="billing.refund",
        name="refund_order",
        description="Refund an order by its id.",
        parameters={"type": "object", "properties": {"order_id": {"type": "string"}}},
    )
    orchestrator = Orchestrator([skill], index_dir=tmp_path / "index")
    with pytest.raises(UnknownInputError, match=r"skill.s id: billing\.refund\.order_id"):
        orchestrator.plan("refund the order", inputs={"refund_order.order_id": "o-1"})
