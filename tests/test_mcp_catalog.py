"""MCP servers as a catalog: live tools/list through the SDK, qualified names, risk hints,
pagination, clear reports of servers that fail, and the policy's deny rules."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from mcp_servers import (
    FAULTY,
    broken_server,
    faulty_server,
    free_port,
    npm_server,
    time_server,
    write_config,
)

from orchestrator.catalog import Skill, load_catalog
from orchestrator.errors import CatalogError, PolicyError
from orchestrator.integrations.mcp import DenyRule, McpPolicy, load_servers_config
from orchestrator.policy import load_policy


def test_config_file_lists_each_servers_tools_live_with_qualified_ids(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "servers.json",
        {
            "time_a": time_server(),
            "time_b": time_server(),
            "memory": {"command": npm_server("mcp-server-memory")},
        },
    )
    skills = {s.id: s for s in load_catalog(config)}
    assert {"time_a/get_current_time", "time_b/get_current_time", "memory/create_entities"} <= set(
        skills
    )
    current = skills["time_b/get_current_time"]
    assert current.name == "get_current_time"
    assert current.metadata["server"] == "time_b"
    assert "timezone" in current.parameter_names()
    # Annotations become risk hints: the time tool is read-only, memory's creation is not.
    assert current.read_only is True and current.repeatable
    created = skills["memory/create_entities"]
    assert created.read_only is False and created.idempotent is False
    assert not created.repeatable


def test_output_schema_becomes_outputs_and_title_joins_the_description(tmp_path: Path) -> None:
    config = write_config(tmp_path / "servers.json", {"f": faulty_server(tmp_path / "ledger")})
    skills = {s.id: s for s in load_catalog(config)}
    lookup = skills["f/lookup_record"]
    assert lookup.outputs is not None and set(lookup.outputs["properties"]) == {"key", "value"}
    assert lookup.read_only is True
    assert "record key" in lookup.description


def test_paginated_tools_list_is_followed_to_the_end(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "servers.json",
        {
            "paged": faulty_server(tmp_path / "ledger", "--page-size", "2"),
            "whole": faulty_server(tmp_path / "ledger"),
        },
    )
    skills = load_catalog(config)
    paged = sorted(s.name for s in skills if s.id.startswith("paged/"))
    assert len(paged) > 4  # three pages or more
    assert paged == sorted(s.name for s in skills if s.id.startswith("whole/"))


def test_a_tool_a_server_lists_twice_keeps_its_first_listing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The duplicate id failed the whole catalog (every server), which the user cannot mend by
    renaming a third-party server's tool, while the gateway offered both listings."""
    server = faulty_server(tmp_path / "ledger", "--list-twice", "lookup_record")
    config = write_config(tmp_path / "servers.json", {"twice": server, "time_a": time_server()})
    with caplog.at_level(logging.WARNING, logger="orchestrator.mcp"):
        skills = load_catalog(config)
    [lookup] = [s for s in skills if s.id == "twice/lookup_record"]
    assert "record key" in lookup.description
    assert any(s.id.startswith("time_a/") for s in skills)
    assert "lists the tool 'lookup_record' twice" in caplog.text


def test_server_that_fails_to_start_is_reported_and_the_others_still_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(
        tmp_path / "servers.json",
        {
            "broken": broken_server(),
            "missing": {"command": str(tmp_path / "no-such-server")},
            "time_a": time_server(),
        },
    )
    with caplog.at_level(logging.WARNING, logger="orchestrator.mcp"):
        skills = load_catalog(config)
    assert {s.id for s in skills} == {"time_a/get_current_time", "time_a/convert_time"}
    report = caplog.text
    assert "MCP server 'broken'" in report and "fatal: no API key set" in report
    assert sys.executable in report  # its command
    assert "MCP server 'missing'" in report and "command not found" in report


def test_catalog_with_no_server_up_is_an_error_naming_each(tmp_path: Path) -> None:
    config = write_config(tmp_path / "servers.json", {"broken": broken_server()})
    with pytest.raises(CatalogError, match=r"no MCP server listed its tools.*fatal: no API key"):
        load_catalog(config)


def test_a_config_inside_a_catalog_folder_is_an_error_saying_to_pass_it_alone(
    tmp_path: Path,
) -> None:
    """Read as a function list it failed with "missing required field 'name'"; read as live
    servers, a run over the folder would not start them to call their tools."""
    (tmp_path / "openai.jsonl").write_text(json.dumps({"name": "ping"}) + "\n")
    config = write_config(tmp_path / "servers.json", {"time_a": time_server()})
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path)
    assert caught.value.source == str(config)
    assert caught.value.reason.startswith("an mcpServers config cannot be part of a catalog folder")
    assert "--catalog servers.json" in caught.value.reason


def test_a_config_of_no_servers_is_an_empty_catalog_error(tmp_path: Path) -> None:
    """Like any other empty catalog: routing over nothing answered every task "nothing fits"."""
    config = write_config(tmp_path / "servers.json", {})
    with pytest.raises(CatalogError) as caught:
        load_catalog(config)
    assert (caught.value.source, caught.value.reason) == (
        str(config),
        "no skills found (the catalog is empty)",
    )


def test_malformed_server_entry_names_the_field(tmp_path: Path) -> None:
    config = write_config(tmp_path / "servers.json", {"x": {"args": ["a"]}})
    with pytest.raises(CatalogError, match=r"servers.json: /mcpServers/x: .*either 'command'"):
        load_servers_config(config)
    # A JSON pointer escapes "/" in a name: "/mcpServers/a/b" had read as field b of server a.
    slashed = write_config(tmp_path / "slash.json", {"a/b": {"command": "srv"}})
    with pytest.raises(CatalogError, match=r"slash.json: /mcpServers/a~1b: a server name cannot"):
        load_servers_config(slashed)


def test_keys_of_other_clients_are_ignored_with_a_warning_and_disabled_servers_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A Cline config (``autoApprove``, ``disabled``, ``timeout``) had been refused whole."""
    config = write_config(
        tmp_path / "servers.json",
        {
            "time_a": time_server(autoApprove=[], disabled=False, timeout=60),
            "off": time_server(disabled=True),
        },
    )
    with caplog.at_level(logging.WARNING, logger="orchestrator.mcp"):
        specs = load_servers_config(config)
    assert [s.name for s in specs] == ["time_a"]
    assert "/mcpServers/time_a: ignoring autoApprove, timeout" in caplog.text


@pytest.mark.anyio
async def test_a_server_on_an_unsupported_transport_or_a_missing_folder_is_reported_alone(
    tmp_path: Path,
) -> None:
    from orchestrator.integrations.mcp import McpServers

    config = write_config(
        tmp_path / "servers.json",
        {
            "time_a": time_server(),
            "legacy": {"type": "sse", "url": "http://127.0.0.1:9/sse"},
            "elsewhere": time_server(cwd="no-such-folder"),
        },
    )
    async with McpServers(load_servers_config(config)) as servers:
        status = {s.server: s for s in servers.status()}
        failures = {name: str(f) for name, f in servers.failures.items()}
    assert status["time_a"].state == "up" and set(failures) == {"legacy", "elsewhere"}
    assert "transport 'sse' (the 'type' field) is not supported" in failures["legacy"]
    missing = str(tmp_path / "no-such-folder")
    assert f"working directory {missing} (the 'cwd' field) does not exist" in failures["elsewhere"]
    assert "command not found" not in failures["elsewhere"]
    assert status["legacy"].state == status["elsewhere"].state == "down"
    assert status["elsewhere"].last_error is not None and "'cwd'" in status["elsewhere"].last_error


def test_an_empty_command_is_a_config_error_naming_the_field(tmp_path: Path) -> None:
    config = write_config(tmp_path / "servers.json", {"x": {"command": "", "args": ["a"]}})
    with pytest.raises(
        CatalogError, match=r"servers.json: /mcpServers/x/command: expected the program"
    ):
        load_servers_config(config)


def test_streamable_http_server_is_listed_from_its_url(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(FAULTY), "--ledger", str(tmp_path / "ledger"), "--port", str(port)],
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=0.5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        config = write_config(
            tmp_path / "servers.json", {"remote": {"url": url, "headers": {"X-Test": "1"}}}
        )
        ids = {s.id for s in load_catalog(config)}
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "remote/lookup_record" in ids


def test_offline_tools_list_file_still_loads_with_risk_hints(tmp_path: Path) -> None:
    listing = {
        "tools": [
            {
                "name": "delete_row",
                "inputSchema": {"type": "object", "properties": {"id": {"type": "string"}}},
                "annotations": {"destructiveHint": True},
            },
            {
                "name": "get_row",
                "inputSchema": {"type": "object"},
                "annotations": {"readOnlyHint": True},
            },
        ]
    }
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(listing), encoding="utf-8")
    skills = {s.id: s for s in load_catalog(path)}
    assert skills["delete_row"].destructive is True and not skills["delete_row"].repeatable
    assert skills["get_row"].read_only is True and skills["get_row"].destructive is False


def _skill(server: str, name: str, **hints: bool) -> Skill:
    return Skill(id=f"{server}/{name}", name=name, metadata={"server": server}, **hints)


def test_default_policy_denies_nothing() -> None:
    policy = load_policy().mcp
    assert policy.deny == ()
    assert policy.denied_by(_skill("fs", "delete_file", destructive=True)) is None


def test_deny_rules_match_by_pattern_server_and_annotation() -> None:
    policy = McpPolicy(
        deny=(
            DenyRule(tool="fs/write_*"),
            DenyRule(server="scratch*"),
            DenyRule(annotation="destructiveHint", reason="no deletes"),
        )
    )
    assert policy.denied_by(_skill("fs", "write_file")) == policy.deny[0]
    assert policy.denied_by(_skill("fs", "read_file", destructive=False)) is None
    assert policy.denied_by(_skill("scratch2", "anything")) == policy.deny[1]
    rule = policy.denied_by(_skill("db", "drop", destructive=True))
    assert rule is not None and rule.describe() == "deny destructiveHint=true (no deletes)"


def test_policy_file_with_a_rule_without_condition_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("mcp:\n  deny:\n    - reason: nothing to match\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"mcp\.deny\.0"):
        load_policy(path)


@pytest.mark.anyio
async def test_config_file_loads_from_inside_an_event_loop(tmp_path: Path) -> None:
    config = write_config(tmp_path / "servers.json", {"time_a": time_server()})
    skills = load_catalog(config)  # a sync API called from async code
    assert {s.id for s in skills} == {"time_a/get_current_time", "time_a/convert_time"}


def test_replicas_are_servers_started_alike_or_declared_and_so_on_through_either() -> None:
    from mcp_types import Tool

    from orchestrator.integrations.mcp import McpPolicy, McpServers, parse_servers_config
    from orchestrator.integrations.mcp._tools import tool_skill
    from orchestrator.planning._planner import provider_of

    fs = {"command": "mcp-server-filesystem"}
    config = {
        "fs1": {**fs, "args": ["/srv/a"]},
        "fs2": {**fs, "args": ["/srv/a"]},  # started as fs1 is
        "fs3": {**fs, "args": ["/mnt/mirror-of-a"]},  # declared fs1's replica
        "other": {**fs, "args": ["/srv/b"]},
    }
    specs = parse_servers_config({"mcpServers": config})
    policy = McpPolicy(replicas=(("fs1", "fs3"), ("fs-1", "other")))  # "fs-1": not in this config
    servers = McpServers(specs, policy=policy)  # not started: nothing is run, nothing is opened
    keys = {spec.name: servers.replica_key(spec) for spec in specs}
    assert keys["fs1"] == keys["fs2"] == keys["fs3"] != keys["other"]
    # Replicas are one provider to the planner, which keeps a task's steps with one provider.
    read = Tool(name="read_file", input_schema={"type": "object"})
    skill = tool_skill("fs3", read, source="mcp:fs3", launch=keys["fs3"])
    assert provider_of(skill) == keys["fs1"] and skill.id == "fs3/read_file"
