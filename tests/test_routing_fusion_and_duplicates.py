"""Pure parts of routing: rank fusion, rank-fusion reranking, duplicate grouping, policy checks."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator import PolicyError, Skill, load_policy
from orchestrator.routing import Candidate, RankFusionReranker, reciprocal_rank_fusion
from orchestrator.routing._duplicates import Contract, contract_of, group_duplicates, is_duplicate
from orchestrator.routing._policy import DuplicatePolicy


def test_item_ranked_by_both_retrievers_beats_one_ranked_first_by_only_one() -> None:
    scores = reciprocal_rank_fusion([[7, 1, 2], [1, 3, 4]], k=60)
    assert max(scores, key=lambda item: scores[item]) == 1
    assert scores[7] == pytest.approx(1 / 61)
    assert scores[1] == pytest.approx(1 / 62 + 1 / 61)


def test_fusion_rejects_a_non_positive_rank_offset() -> None:
    with pytest.raises(ValueError, match="k must be positive"):
        reciprocal_rank_fusion([[1]], k=0)


def _candidate(row: int, **signals: float) -> Candidate:
    values = {
        "bm25": 0.0,
        "bm25_signature": 0.0,
        "dense_head": 0.0,
        "dense_best": 0.0,
        "rrf": 0.0,
        "coverage": 0.0,
        "coverage_signature": 0.0,
    }
    values.update(signals)
    return Candidate(row=row, **values)


def test_rank_fusion_prefers_the_candidate_most_signals_agree_on() -> None:
    reranker = RankFusionReranker({"bm25": 1, "dense_best": 1, "coverage": 1}, k=60)
    lexical_only = _candidate(0, bm25=9.0, dense_best=0.1, coverage=0.2)
    balanced = _candidate(1, bm25=5.0, dense_best=0.8, coverage=0.9)
    scores = reranker.score("q", [lexical_only, balanced])
    assert scores[1] > scores[0]


def test_a_zero_weight_silences_a_signal() -> None:
    reranker = RankFusionReranker(
        {s: 0.0 for s in ("bm25_signature", "dense_head", "dense_best", "coverage")}
        | {"bm25": 1.0, "coverage_signature": 0.0},
        k=60,
    )
    scores = reranker.score("q", [_candidate(0, bm25=1.0, dense_best=0.9), _candidate(1, bm25=2.0)])
    assert scores[1] > scores[0]


def test_unknown_rank_signal_in_a_policy_file_names_the_field(tmp_path) -> None:  # type: ignore[no-untyped-def]
    policy = tmp_path / "policy.yaml"
    policy.write_text("routing:\n  rerank:\n    weights: {bm25: 1, popularity: 2}\n")
    with pytest.raises(
        PolicyError, match=r"policy\.yaml: field routing\.rerank\.weights.*popularity"
    ):
        load_policy(policy)


def test_policy_file_overrides_only_what_it_sets(tmp_path) -> None:  # type: ignore[no-untyped-def]
    policy = tmp_path / "policy.yaml"
    policy.write_text("routing:\n  no_fit:\n    threshold: 0.9\n")
    loaded = load_policy(policy)
    assert loaded.routing.no_fit.threshold == 0.9
    assert loaded.routing.no_fit.weights == load_policy().routing.no_fit.weights
    assert loaded.routing.retrieval == load_policy().routing.retrieval


POLICY = DuplicatePolicy()
REFUND = Contract(
    name=frozenset({"stripe", "creat", "refund"}),
    parameters=frozenset({"payment", "id", "amount", "reason"}),
    outputs=frozenset({"refund", "id", "status", "amount"}),
)
OTHER_PROVIDER_REFUND = Contract(
    name=frozenset({"razorpay", "refund", "payment"}),
    parameters=frozenset({"payment", "id", "amount", "note"}),
    outputs=frozenset({"refund", "id", "status", "amount"}),
)
REFUND_STATUS = Contract(
    name=frozenset({"get", "refund", "status"}),
    parameters=frozenset({"refund", "id"}),
    outputs=frozenset({"refund", "id", "status", "amount"}),
)


def test_two_providers_of_one_operation_are_duplicates_despite_different_wording() -> None:
    assert is_duplicate(0.55, REFUND, OTHER_PROVIDER_REFUND, POLICY)


def test_related_operation_with_other_inputs_is_not_a_duplicate() -> None:
    assert not is_duplicate(0.75, REFUND, REFUND_STATUS, POLICY)


def test_same_tool_name_and_parameters_on_two_servers_are_duplicates() -> None:
    twin = Contract(name=REFUND.name, parameters=REFUND.parameters, outputs=frozenset())
    assert is_duplicate(0.1, twin, Contract(REFUND.name, REFUND.parameters, frozenset()), POLICY)


def test_a_read_only_skill_or_another_http_method_never_stands_in_for_a_write() -> None:
    # A REST resource's GET and PUT: same parameters, same outputs, the same words.
    read = Contract(REFUND.name, REFUND.parameters, REFUND.outputs, read_only=True)
    write = Contract(REFUND.name, REFUND.parameters, REFUND.outputs, read_only=False)
    assert not is_duplicate(0.99, read, write, POLICY)
    unknown = Contract(REFUND.name, REFUND.parameters, REFUND.outputs)
    assert is_duplicate(0.99, read, unknown, POLICY)
    # A resource's POST (create) and PATCH (update): both write, yet two operations.
    create = Contract(REFUND.name, REFUND.parameters, REFUND.outputs, False, "POST")
    update = Contract(REFUND.name, REFUND.parameters, REFUND.outputs, False, "PATCH")
    assert not is_duplicate(0.99, create, update, POLICY)
    other_provider = Contract(REFUND.name, REFUND.parameters, REFUND.outputs, False, "POST")
    assert is_duplicate(0.99, create, other_provider, POLICY)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (("start_vm", "Start a stopped virtual machine."), ("stop_vm", "Stop a running VM.")),
        (("encrypt_text", "Encrypt a text."), ("decrypt_text", "Decrypt a text.")),
        (("lock_account", "Lock a user account."), ("unlock_account", "Unlock it.")),
        (("turn_on_light", "Switch a light."), ("turn_off_light", "Switch a light.")),
        (("vm_power", "Start a VM."), ("vm_power_control", "Stop a VM.")),
    ],
)
def test_opposite_operations_never_stand_in_for_each_other(
    ours: tuple[str, str], theirs: tuple[str, str]
) -> None:
    """Same parameters, nearly the same words: a failed ``start_vm`` had healed to ``stop_vm``."""
    vm = {"type": "object", "properties": {"vm_id": {"type": "string"}}}
    a, b = (
        contract_of(Skill(name=name, description=text, parameters=vm))
        for name, text in (ours, theirs)
    )
    assert not is_duplicate(0.99, a, b, POLICY)
    copy = contract_of(Skill(name=f"{ours[0]}_v2", description=ours[1], parameters=vm))
    assert is_duplicate(0.99, a, copy, POLICY), "a copy of the same operation still groups"


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (("rotate_x", "Rotate the object around the X axis."), ("rotate_y", "... the Y axis.")),
        (("run_step_1", "Run the first step."), ("run_step_2", "Run the second step.")),
        (("getUser", "Get a user by id."), ("get_users", "Get users by id.")),
    ],
)
def test_siblings_of_one_family_never_stand_in_for_each_other(
    ours: tuple[str, str], theirs: tuple[str, str]
) -> None:
    """Same parameters, nearly the same words: a failed ``rotate_y`` had healed to
    ``rotate_x``, the wrong axis, and the run said ``completed``."""
    angle = {"type": "object", "properties": {"angle": {"type": "number"}}}
    a, b = (
        contract_of(Skill(name=name, description=text, parameters=angle))
        for name, text in (ours, theirs)
    )
    assert not is_duplicate(0.99, a, b, POLICY)
    served_twice = contract_of(Skill(name=ours[0], description="", parameters=angle))
    assert is_duplicate(0.1, a, served_twice, POLICY), "one tool on two servers still groups"
    version = contract_of(Skill(name=f"{ours[0]}_v2", description=ours[1], parameters=angle))
    assert is_duplicate(0.99, a, version, POLICY), "a copy of the same operation still groups"


def test_one_letter_inputs_tell_two_contracts_apart() -> None:
    def tool(name: str, *inputs: str) -> Contract:
        schema = {"type": "object", "properties": {n: {"type": "number"} for n in inputs}}
        return contract_of(Skill(name=name, parameters=schema))

    assert not is_duplicate(0.9, tool("move", "x"), tool("move", "y"), POLICY)
    assert is_duplicate(0.9, tool("move", "x", "y"), tool("move", "x", "y"), POLICY)


def test_tools_of_one_program_on_servers_that_are_not_replicas_never_group() -> None:
    def served(launch: str, program: str) -> Contract:
        return Contract(
            REFUND.name, REFUND.parameters, REFUND.outputs, launch=launch, program=program
        )

    docs, secrets = served("replicas:docs", "fs-server"), served("replicas:secrets", "fs-server")
    assert not is_duplicate(0.99, docs, secrets, POLICY)  # one program, other folders
    assert is_duplicate(0.99, docs, served("replicas:docs", "fs-server"), POLICY)
    # Two programs offering one operation are two providers of it, as anywhere.
    assert is_duplicate(0.99, docs, served("replicas:weather", "weather-server"), POLICY)


def test_a_generic_result_is_no_shared_contract_but_records_fields_are() -> None:
    from orchestrator.catalog import Skill

    def tool(name: str, outputs: dict[str, object]) -> Skill:
        path = {"type": "object", "properties": {"path": {"type": "string"}}}
        return Skill(id=name, name=name, parameters=path, outputs=outputs)

    text = {"type": "object", "properties": {"content": {"type": "string"}}}
    # Every tool of an MCP filesystem server answers {content}: a listing is no file's info.
    listing, info = contract_of(tool("list_directory", text)), contract_of(tool("get_info", text))
    assert not is_duplicate(0.5, listing, info, POLICY)
    hits = {"type": "array", "items": {"type": "object", "properties": {"url": {}, "title": {}}}}
    results = {"type": "object", "properties": {"results": hits}}
    bing, brave = contract_of(tool("bing_search", results)), contract_of(tool("brave", results))
    assert bing.outputs == {"url", "titl"} and is_duplicate(0.5, bing, brave, POLICY)


def test_groups_are_led_by_their_best_ranked_member() -> None:
    vectors = np.eye(4, dtype=np.float32)
    vectors[2] = vectors[0]  # item 2 repeats item 0 word for word
    contracts = [REFUND, REFUND_STATUS, OTHER_PROVIDER_REFUND, REFUND_STATUS]
    groups = group_duplicates(vectors, contracts, POLICY)
    assert groups == [[0, 2], [1, 3]]
