"""Read the declarative files (policies, graphs, scenarios) with errors that name the file, and
write output files atomically.

One reader, so every kind of file fails the same way: the path, what it was meant to be, and
what went wrong, raised as the caller's own error class. One writer, so no reader ever sees a
half-written catalog, cache or trace.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Collection
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import OrchestratorError

__all__ = [
    "describe_yaml_error",
    "field_path",
    "json_lines",
    "keep_mode",
    "read_document",
    "read_json_lines",
    "read_text",
    "replace_dir",
    "staging_dir",
    "unwritable_because",
    "write_text_atomic",
]


def keep_mode(target: Path, temp: Path) -> None:
    """Give ``temp``, about to replace ``target``, the mode of the file it replaces, or the
    mode a new file gets under the process's umask: ``mkstemp`` makes it 0600, which had left
    a shared trace or catalog readable by its owner only."""
    try:
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = _umask()
        if umask is None:
            return  # not knowable without changing it: the temporary file's 0600 stays
        mode = 0o666 & ~umask
    os.chmod(temp, mode)


def _umask() -> int | None:
    """The process's umask, read without setting it: ``os.umask`` can only be read by
    changing it, and another thread creating a file meanwhile would get the changed one."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return None
    line = next((ln for ln in status.splitlines() if ln.startswith("Umask:")), None)
    return int(line.split()[1], 8) if line is not None else None


def unwritable_because(target: Path, *, folder: bool = False) -> str | None:
    """Why a file (a ``folder``) cannot be written at ``target``, as far as the paths show
    before any work: a folder where a file is to go, or a file where one of its folders
    should be (created if missing)."""
    if target.is_dir() and not folder:
        return f"{target} is a folder; give a file path"
    for above in target.parents:
        if above.exists():
            if not above.is_dir():
                return f"{above} is a file, not a folder: {target} cannot be written there"
            return None
    return None


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename, so
    the file is either the old one or the whole new one."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """``write_text_atomic`` for bytes (an archive)."""
    target = Path(path)
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        keep_mode(target, Path(temp_name))
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def staging_dir(target: Path) -> Path:
    """A new, empty sibling folder of ``target`` to build its replacement in (see
    :func:`replace_dir`), with the permissions ``mkdir`` gives under the user's umask:
    ``tempfile.mkdtemp`` makes folders only their owner can read, so an index built by CI or a
    service account was unreadable to everyone else."""
    for _ in range(100):
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(6)}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"{target.parent}: no free name for a staging folder")


def replace_dir(staging: Path, target: Path) -> None:
    """Swap the finished folder ``staging`` (a sibling of ``target``) in for ``target``, then
    delete the old one.

    On Linux the two are exchanged in one step (``renameat2`` with ``RENAME_EXCHANGE``), so
    ``target`` always exists; a reader that opened files of both (one read before, one after)
    must check it read one version (``SkillIndex.load`` compares the manifest before and
    after). Elsewhere, or on a file system without the exchange, the old folder is renamed
    away first and ``target`` is missing for the moment between the two renames."""
    if not target.exists():
        os.replace(staging, target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # it now holds the old folder
        return
    retired = target.with_name(f".{target.name}.old-{os.getpid()}-{time.monotonic_ns()}")
    os.replace(target, retired)
    os.replace(staging, target)
    shutil.rmtree(retired, ignore_errors=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


@cache
def _renameat2() -> Any:
    """The C library's ``renameat2``, typed; None off Linux or with an older C library."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    path, at = ctypes.c_char_p, ctypes.c_int  # (dirfd, path) twice, then the flags
    renameat2.argtypes = [at, path, at, path, ctypes.c_uint]
    return renameat2


def _exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths with Linux's ``renameat2``; false where it is unavailable
    (another system, an old C library, a file system that does not support it)."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    done = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if done == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(error, os.strerror(error), str(second))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _at(line: int, column: int) -> str:
    return f"line {line}, column {column}"


def describe_yaml_error(
    exc: yaml.YAMLError, text: str, first_line: int = 1
) -> tuple[str | None, str]:
    """Where a YAML error in ``text`` is ("line L, column C", counted from ``first_line``, the
    line of the file the text starts on; ``None`` when PyYAML does not say) and what is wrong,
    each on one line: PyYAML's own message spans several lines and quotes the input back, which
    is not what a user fixing their file needs."""
    if isinstance(exc, yaml.reader.ReaderError):
        # A bad character has no mark, only its offset in the text.
        before = text[: exc.position]
        at = _at(before.count("\n") + first_line, exc.position - (before.rfind("\n") + 1) + 1)
        return at, f"unacceptable character #x{exc.character:04x}: {exc.reason}"
    if not isinstance(exc, yaml.MarkedYAMLError):
        return None, _one_line(str(exc))
    mark = exc.problem_mark
    located = _at(mark.line + first_line, mark.column + 1) if mark is not None else None
    problem = _one_line(exc.problem or exc.context or type(exc).__name__)
    # The context only helps when it points elsewhere, e.g. where an unclosed quote was opened.
    if exc.problem and exc.context and exc.context_mark is not None:
        context_at = _at(exc.context_mark.line + first_line, exc.context_mark.column + 1)
        if context_at != located:
            problem += f" ({_one_line(exc.context)} at {context_at})"
    return located, problem


# How pydantic names the member of a union that failed: "tuple[str, str, float]", or, last in
# the location, a plain type ("graph.str"); a node named "str" in the middle stays.
_UNION_TAG = re.compile(r"[a-z-]+\[.*\]")
_LAST_UNION_TAG = re.compile(r"str|int|float|bool|none|dict|list")


def field_path(loc: tuple[int | str, ...], tags: Collection[str] = ()) -> str:
    """A pydantic error location as the user wrote it ("edges.0", "faults.0.ms"), without the
    union member tags pydantic inserts after a field ("edges.0.tuple[str, str, float]"), nor
    the caller's own ``tags`` (a discriminated union's kinds)."""

    def tag(i: int, part: str) -> bool:
        last = i == len(loc) - 1 and _LAST_UNION_TAG.fullmatch(part) is not None
        return part in tags or last or _UNION_TAG.fullmatch(part) is not None

    parts = [str(p) for i, p in enumerate(loc) if not (i and isinstance(p, str) and tag(i, p))]
    return ".".join(parts)


def read_text(path: Path, fail: Callable[[str], OrchestratorError]) -> str:
    """The file's text, without a byte-order mark (as Windows editors write one). A file that
    cannot be read, or is not UTF-8, raises ``fail(problem)``, e.g. "No such file or
    directory" or "not UTF-8 text: invalid start byte"."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise fail(exc.strerror or type(exc).__name__) from exc
    except UnicodeDecodeError as exc:
        raise fail(f"not UTF-8 text: {exc.reason}") from exc


def _read_text(path: Path, error: type[OrchestratorError], what: str) -> str:
    return read_text(path, lambda problem: error(f"{path}: cannot read {what} ({problem})"))


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key written twice in one mapping. PyYAML keeps the last,
    so a scenario with two ``expect:`` blocks or a graph with a node declared twice dropped
    the first without a word."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:
                continue  # an unhashable key: the base constructor says what is wrong with it
            if first is not key_node:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first at line {first.start_mark.line + 1})",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


# YAML 1.2 writes floats without a dot ("1e-3", "5e+2"), which PyYAML's YAML 1.1 rules read as
# text: resolved as floats here, so a policy's "initial_s: 1e-3" is the number it says.
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key, value in pairs:
        if key in mapping:
            raise ValueError(f"duplicate key {key!r}")
        mapping[key] = value
    return mapping


def read_document(path: Path, error: type[OrchestratorError], what: str) -> Any:
    """Parse ``path`` as JSON (``.json``) or YAML (anything else); ``what`` names the file's
    role in messages ("policy file", "scenario", ...). An empty YAML file reads as ``None``.

    A syntax error is one line naming the file and where: ``FILE: line L, column C: not valid
    YAML: <problem>``. A key written twice in one mapping is an error too.
    """
    text = _read_text(path, error, what)
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            at = _at(exc.lineno, exc.colno)
            raise error(f"{path}: {at}: not valid JSON: {exc.msg}") from exc
        except ValueError as exc:
            raise error(f"{path}: not valid JSON: {exc}") from exc
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as exc:
        where, problem = describe_yaml_error(exc, text)
        located = f"{path}: {where}" if where else str(path)
        raise error(f"{located}: not valid YAML: {problem}") from exc


def json_lines(text: str) -> list[str]:
    """The lines of a JSON Lines text: split at "\n" only (and a "\r" before it), since JSON
    strings may hold U+2028, U+0085 and other characters ``str.splitlines`` breaks a line at."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def read_json_lines(path: Path, error: type[OrchestratorError], what: str) -> list[tuple[int, Any]]:
    """``(line number, value)`` for every non-blank line of a JSON Lines file; an unreadable file
    or a line that is not JSON raises ``error`` naming the file and the line."""
    text = _read_text(path, error, what)
    records = []
    for number, line in enumerate(json_lines(text), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise error(f"{path}: line {number}: not valid JSON ({exc.msg})") from exc
    return records
