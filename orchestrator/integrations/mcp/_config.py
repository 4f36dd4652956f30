"""The ``mcpServers`` config file MCP clients already use, read into one ``ServerSpec`` per server.

``{"mcpServers": {NAME: {"command", "args", "env", "cwd"}}}`` starts a stdio server;
``{NAME: {"url", "headers"}}`` connects to a streamable-HTTP server. One file serves several
clients, so keys other clients keep (Cline's ``autoApprove``, ``timeout``) are ignored with a
warning, and a server on a transport orchestrator does not speak (``"type": "sse"``) is kept,
to be reported as not started, rather than failing the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orchestrator.catalog._origin import json_pointer
from orchestrator.errors import CatalogError

__all__ = [
    "SERVERS_KEY",
    "ServerSpec",
    "is_servers_config_file",
    "load_servers_config",
    "parse_servers_config",
]

SERVERS_KEY = "mcpServers"
SUPPORTED_TYPES = ("stdio", "http", "streamable-http", "streamableHttp")

logger = logging.getLogger("orchestrator.mcp")


class ServerSpec(BaseModel):
    """How to reach one server: a command to start (stdio) or a URL (streamable HTTP)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] | None = None
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    # Accepted because other MCP clients write them; "disabled" servers are skipped, and a
    # server of another type is not started (see ``unsupported``).
    type: str | None = None
    disabled: bool = False

    @field_validator("command")
    @classmethod
    def _names_a_program(cls, command: str | None) -> str | None:
        if command is not None and not command.strip():
            raise ValueError("expected the program that starts the server, got an empty string")
        return command

    @model_validator(mode="after")
    def _one_transport(self) -> ServerSpec:
        if (self.command is None) == (self.url is None):
            raise ValueError(
                "expected either 'command' (a stdio server) or 'url' (streamable HTTP)"
            )
        if "/" in self.name:
            raise ValueError("a server name cannot contain '/' (it separates server and tool)")
        return self

    @property
    def unsupported(self) -> str | None:
        """Why the server cannot be started, when its ``type`` is a transport orchestrator does
        not speak (the deprecated HTTP+SSE one, say); None otherwise."""
        if self.type is None or self.type in SUPPORTED_TYPES:
            return None
        return (
            f"its transport {self.type!r} (the 'type' field) is not supported: only stdio "
            "('command') and streamable HTTP ('url')"
        )

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "stdio" if self.command is not None else "http"

    @property
    def launch_key(self) -> str:
        """Equal for two servers started the same way (command, arguments, environment, folder;
        or URL and headers), whatever their names: replicas of one server. Two filesystem
        servers on other folders, or one server with two accounts' keys, are not."""
        launch = self.model_dump(include={"command", "args", "env", "cwd", "url", "headers"})
        payload = json.dumps(launch, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    @property
    def program(self) -> str:
        """The program the server runs (its command, or its URL's host): one program started
        with other arguments serves other data (another folder, another account)."""
        if self.command is not None:
            return self.command
        parts = urlsplit(str(self.url))
        return f"{parts.scheme}://{parts.netloc}"

    def describe(self) -> str:
        """The command line or URL, for error messages and status tables."""
        if self.command is not None:
            return shlex.join([self.command, *self.args])
        return str(self.url)


# The keys a server entry may have; "name" is the entry's key, not a field of its own.
_SPEC_FIELDS = frozenset(ServerSpec.model_fields) - {"name"}


def parse_servers_config(
    document: Any, *, source: str = "<config>", base: Path | None = None
) -> list[ServerSpec]:
    """The servers of a parsed config document, in file order; relative ``cwd`` is resolved
    against ``base`` (the config file's folder)."""
    if not isinstance(document, Mapping) or not isinstance(document.get(SERVERS_KEY), Mapping):
        raise CatalogError(f"expected an object with an {SERVERS_KEY!r} object", source=source)
    specs = []
    for name, entry in document[SERVERS_KEY].items():
        where = json_pointer(SERVERS_KEY, name)  # "a/b" as /mcpServers/a~1b, not field b of a
        if not isinstance(entry, Mapping):
            raise CatalogError(
                f"expected an object, got {type(entry).__name__}", source=source, where=where
            )
        fields = {k: v for k, v in entry.items() if k in _SPEC_FIELDS}
        ignored = sorted(str(k) for k in entry if k not in _SPEC_FIELDS)
        if ignored:
            logger.warning(
                "%s: %s: ignoring %s (not used by orchestrator)", source, where, ", ".join(ignored)
            )
        if base is not None and isinstance(fields.get("cwd"), str):
            fields["cwd"] = str((base / fields["cwd"]).resolve())
        try:
            spec = ServerSpec.model_validate({**fields, "name": name})
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = json_pointer(*first["loc"])
            # Our own checks' words, without pydantic's "Value error, " before them.
            error = first.get("ctx", {}).get("error")
            message = str(error) if first["type"] == "value_error" and error else first["msg"]
            raise CatalogError(message, source=source, where=where + loc) from exc
        if not spec.disabled:
            specs.append(spec)
    return specs


def load_servers_config(path: str | Path) -> list[ServerSpec]:
    """Read an ``mcpServers`` config file.

    Raises
    ------
    CatalogError
        The file is unreadable, not JSON, or a server entry is malformed (a JSON pointer
        names it).
    """
    file = Path(path)
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"cannot read config ({exc.strerror})", source=str(file)) from exc
    except json.JSONDecodeError as exc:
        raise CatalogError(
            f"not valid JSON ({exc.msg})", source=str(file), where=f"line {exc.lineno}"
        ) from exc
    return parse_servers_config(document, source=str(file), base=file.resolve().parent)


def is_servers_config_file(path: Path) -> bool:
    """Whether ``path`` is a JSON file with an ``mcpServers`` object (not a tools catalog)."""
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(document, dict) and isinstance(document.get(SERVERS_KEY), dict)


def config_servers(source: object) -> list[ServerSpec] | None:
    """The servers of a catalog source that is an ``mcpServers`` config file (they serve its
    skills); None for any other source."""
    if not isinstance(source, str | os.PathLike):
        return None
    path = Path(source)
    return load_servers_config(path) if is_servers_config_file(path) else None
