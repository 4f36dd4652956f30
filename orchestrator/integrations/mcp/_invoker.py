"""MCP as one implementation of the executor's ``Invoker``: a call is one ``tools/call``.

The executor knows nothing about MCP: this invoker maps a qualified tool id to its server session,
passes the step's arguments, and turns every kind of failure (a lost connection, a timeout, a
rate-limit refusal, output that breaks ``outputSchema``, an ``isError`` result a plan step cannot
use) into the executor's ``ToolFailure`` classes, which decide retries, reroutes and escalation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any, Literal

from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent

from orchestrator._json_schema import schema_validator
from orchestrator.catalog import Skill
from orchestrator.errors import (
    MalformedOutputError,
    RateLimitedError,
    ToolAnswerError,
    ToolArgumentError,
    ToolCallError,
    ToolFailure,
    ToolUnavailableError,
)
from orchestrator.execution import ArgumentRefusal, step_inputs
from orchestrator.integrations.mcp._servers import McpServers
from orchestrator.integrations.mcp._tools import split_name

__all__ = ["McpInvoker", "executor_arguments", "rate_limit_of", "result_text"]

# The error result an SDK server sends for arguments its input schema refuses (JSON-RPC's
# invalid params, as text): the call did not fit the tool.
_INVALID_ARGUMENTS = re.compile(r"MCP error -32602\b")
# MCP has no code for "rate limited", so only the words can say it, and only words no other
# error uses by accident: a bare 429 is as likely an order number or a file name, and a quota
# (of storage, of seats) is not lifted by waiting.
_RATE_LIMIT = re.compile(r"\brate[ _-]?limit|\btoo many requests\b", re.IGNORECASE)
_RETRY_AFTER = re.compile(r"retry[ _-]?after\D{0,4}(\d+(?:\.\d+)?)\s*(ms|s)?", re.IGNORECASE)

ArgumentsOf = Callable[[str, Mapping[str, Any]], dict[str, Any]]


def executor_arguments(tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The MCP arguments of a step: the run's ``inputs`` when the executor passes its
    ``{"inputs", "upstream"}`` envelope, else the mapping itself (``step_inputs``)."""
    return dict(step_inputs(arguments))


def rate_limit_of(text: str) -> tuple[bool, float | None]:
    """Whether ``text`` words a rate-limit refusal ("rate limit", "rate-limited", "429 Too
    Many Requests"), and the retry-after it names (seconds)."""
    if not _RATE_LIMIT.search(text):
        return False, None
    match = _RETRY_AFTER.search(text)
    if match is None:
        return True, None
    value = float(match.group(1))
    return True, value / 1000.0 if (match.group(2) or "").lower() == "ms" else value


def result_text(result: CallToolResult) -> str:
    """The text blocks of a result, joined (what an ``isError`` result says went wrong)."""
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent)).strip()


class McpInvoker:
    """Call tools of live MCP servers by qualified id (``server/tool``).

    Parameters
    ----------
    servers
        The entered server pool.
    skills
        The catalog of the pool's tools (``servers.skills()`` when omitted), for output schemas.
    arguments_of
        How a step's arguments become the tool's arguments (default: the run's inputs).
    timeout_s
        Per-call timeout (the policy's ``mcp.call_timeout_s`` when omitted).
    output
        What a call returns. ``"content"`` (default): the tool's ``structuredContent`` when it
        sends one, else its text; this is what the executor checks against the tool's
        outputSchema and what later steps of a plan read fields from. ``"result"``: the
        ``CallToolResult`` as the server sent it (content blocks and all), for a caller that
        passes it on, as the gateway does. Such a caller gets an ``isError`` result back too:
        it is the tool's answer (MCP's tool execution error, there for the model to read and
        correct), not a failure of the call, so it is not retried, rerouted or charged to the
        server's health. With ``"content"`` it raises ``ToolAnswerError``, which is not retried
        or held against the tool either (a plan's later steps cannot read an error, so the step
        is rerouted), or ``ToolArgumentError`` for the SDKs' "invalid params" answer. Either way
        an error worded as a rate limit raises ``RateLimitedError`` (retried after a while),
        but only for a tool safe to call again (``Skill.repeatable``): the words are a guess, and
        a wrong one would run a payment twice; for any other tool it stays the tool's answer.
    """

    def __init__(
        self,
        servers: McpServers,
        skills: Mapping[str, Skill] | None = None,
        *,
        arguments_of: ArgumentsOf = executor_arguments,
        timeout_s: float | None = None,
        output: Literal["content", "result"] = "content",
    ) -> None:
        self.servers = servers
        self.skills = dict(skills) if skills is not None else {s.id: s for s in servers.skills()}
        self.arguments_of = arguments_of
        self.timeout_s = timeout_s if timeout_s is not None else servers.policy.call_timeout_s
        self.output = output
        self._validators: dict[str, Validator] = {}

    def use_skills(self, skills: Mapping[str, Skill]) -> None:
        """Check calls against these tools' schemas from now on (the servers re-listed them)."""
        self.skills = dict(skills)
        self._validators.clear()

    async def invoke(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        server, name = split_name(tool)
        if server not in self.servers.connections:
            raise ToolUnavailableError(f"no MCP server {server!r} is configured", tool=tool)
        call_arguments = self.arguments_of(tool, arguments)
        self._check_required(tool, call_arguments)
        try:
            result = await self.servers.connection(server).call(
                name, call_arguments, qualified=tool, timeout_s=self.timeout_s
            )
        except ToolCallError as exc:  # a JSON-RPC error: its words may say "rate limit"
            limited = self._rate_limited(tool, exc.reason)
            if limited is None:
                raise
            raise limited from exc
        if result.is_error:
            text = result_text(result) or "the tool reported an error without text"
            limited = self._rate_limited(tool, text)
            if limited is not None:
                raise limited
            if self.output == "result":
                return result  # not checked against outputSchema: that is for a success
            if _INVALID_ARGUMENTS.match(text):  # how SDK servers answer arguments they refuse
                raise ToolArgumentError(text, tool=tool)
            raise ToolAnswerError(text, tool=tool)
        self._validate(tool, result)
        if self.output == "result":
            return result
        if result.structured_content is not None:
            return result.structured_content
        return result_text(result)

    def _rate_limited(self, tool: str, text: str) -> RateLimitedError | None:
        """A rate-limit refusal read from an error's words, for a tool safe to call again.

        Retrying a refusal for load is right only if the call did not run, and words cannot
        prove that; so a tool not safe to repeat (a listed tool not marked read-only or
        idempotent, or one not listed at all) is never retried on the strength of its wording."""
        skill = self.skills.get(tool)
        if skill is None or not skill.repeatable:
            return None
        limited, retry_after = rate_limit_of(text)
        return RateLimitedError(text, tool=tool, retry_after=retry_after) if limited else None

    async def probe(self, tool: str) -> bool:
        """Recovery probe for a half-open breaker: the server is up, or restarts now."""
        server, _ = split_name(tool)
        connection = self.servers.connections.get(server)
        if connection is None:
            return False
        try:
            session = await connection.ensure_up(tool)
            await session.send_ping()
        except (ToolFailure, MCPError, OSError):
            return False
        return True

    def refusal(self, tool: str, names: Collection[str]) -> ArgumentRefusal | None:
        """Before a run: the tool's server must be configured and ``names`` must hold every
        required argument of its ``inputSchema``."""
        server, _ = split_name(tool)
        if server not in self.servers.connections:
            return ArgumentRefusal.not_served(f"no MCP server {server!r} is configured")
        return self._unfit(tool, names)

    def _unfit(self, tool: str, names: Collection[str]) -> ArgumentRefusal | None:
        skill = self.skills.get(tool)
        required = skill.required_parameters() if skill is not None else []
        missing = [n for n in required if n not in names]
        if not missing:
            return None
        return ArgumentRefusal(
            f"missing required argument(s) {missing} of the tool's inputSchema", tuple(missing)
        )

    def _check_required(self, tool: str, arguments: Mapping[str, Any]) -> None:
        """Refuse a call that lacks a required argument of the tool's ``inputSchema`` before it
        is sent: the server would refuse it as an error, which the executor would retry."""
        refused = self._unfit(tool, arguments)
        if refused is not None:
            raise ToolArgumentError(refused.why, tool=tool, missing=refused.missing, sent=False)

    def _validate(self, tool: str, result: CallToolResult) -> None:
        """Check ``structuredContent`` against the tool's ``outputSchema``, whatever the server
        claims (the SDK checks too, but only for tools its session listed)."""
        skill = self.skills.get(tool)
        if skill is None or skill.outputs is None:
            return
        validator = self._validators.get(tool)
        if validator is None:
            validator = self._validators[tool] = schema_validator(skill.outputs)
        if result.structured_content is None:
            raise MalformedOutputError(
                "no structuredContent, but the tool declares an outputSchema", tool=tool
            )
        error = best_match(validator.iter_errors(result.structured_content))
        if error is not None:
            where = "/" + "/".join(str(p) for p in error.absolute_path)
            raise MalformedOutputError(f"structuredContent {where}: {error.message}", tool=tool)
