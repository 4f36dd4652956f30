"""A Python file as a catalog: its public functions and LangChain tools are the skills, and the
tools that run them.

``orchestrator run "..." --catalog tools.py`` then needs no JSON: each function's signature,
docstring and return type describe its skill (as for any callable), and a run calls the
function itself rather than a simulation of it.

Importing the file runs its top-level code, as ``python tools.py`` would, with its folder on
``sys.path`` (so it can import its neighbours, as a script can). It is imported once per process
and the same function objects serve the catalog and the run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from orchestrator.catalog._callables import callable_name, callable_skill
from orchestrator.catalog._langchain import is_langchain_tool, langchain_tool_skill
from orchestrator.catalog._origin import Loaded
from orchestrator.errors import CatalogError

__all__ = ["catalog_tools", "is_python_catalog", "module_skills", "module_tools"]

_IMPORTED: dict[Path, ModuleType] = {}
"""Python catalogs imported so far, by resolved path: each file's code runs once."""


_LAMBDA = (lambda: None).__name__


def is_python_catalog(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a Python source file (read by :func:`module_tools`)."""
    return Path(path).suffix.lower() == ".py"


def module_tools(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The tools a Python file offers, by skill id, in the order it defines them: functions,
    and LangChain tools (``@tool`` functions, tool instances).

    Those named in its ``__all__`` when it has one; otherwise every function defined at its top
    level (not imported) and every LangChain tool bound there, whose name does not start with
    ``_``. Classes, constants, lambdas bound to a name and imported helper functions are not
    tools.

    Raises
    ------
    CatalogError
        The file does not exist, cannot be imported (its error is quoted, with the line of a
        syntax error), names in ``__all__`` something it lacks or that is not a tool, or
        offers no tool at all.
    """
    path = Path(path)
    module = _imported(path)
    public = getattr(module, "__all__", None)
    if public is None:
        found = [
            value
            for name, value in vars(module).items()
            if not name.startswith("_")
            and (
                is_langchain_tool(value)
                or (
                    inspect.isfunction(value)
                    and value.__module__ == module.__name__
                    and value.__name__ != _LAMBDA  # a helper: a tool has a def and a docstring
                )
            )
        ]
    else:
        found = []
        for name in public:
            if not hasattr(module, name):
                raise CatalogError(
                    f"__all__ names {name!r}, which it does not define", source=str(path)
                )
            value = getattr(module, name)
            if inspect.isfunction(value) and value.__name__ == _LAMBDA:
                raise CatalogError(
                    f"__all__ names {name!r}, a lambda: expected a function defined with def "
                    "(its name and docstring describe the skill)",
                    source=str(path),
                )
            if inspect.isfunction(value) or is_langchain_tool(value):
                found.append(value)
            elif not inspect.isclass(value):
                raise CatalogError(
                    f"__all__ names {name!r}, expected a function or a LangChain tool, got "
                    f"{type(value).__name__}",
                    source=str(path),
                )
    tools: dict[str, Any] = {}
    for tool in found:
        tools.setdefault(_tool_id(tool), tool)  # an alias counts once
    if not tools:
        raise CatalogError(
            "defines no tools: expected public functions (def at the top level, not starting "
            "with _), LangChain tools, or an __all__ naming some",
            source=str(path),
        )
    return tools


def catalog_tools(source: object) -> dict[str, Any]:
    """The tools a catalog source brings along, by skill id: a Python file's
    (:func:`module_tools`), or the callables and LangChain tools in a sequence of catalog items.

    Their skills were read from them, so they are what a run calls unless told otherwise.
    Other items (skills, dicts) and other files bring none.
    """
    if isinstance(source, str | os.PathLike):
        return module_tools(source) if is_python_catalog(source) else {}
    if isinstance(source, Sequence):
        tools: dict[str, Any] = {}
        for item in source:
            if callable(item) or is_langchain_tool(item):
                # The first of two sharing an id, as deduplication keeps its skill.
                tools.setdefault(_tool_id(item), item)
        return tools
    return {}


def _tool_id(tool: Any) -> str:
    """The id of the skill a function or LangChain tool becomes."""
    return str(tool.name) if is_langchain_tool(tool) else callable_name(tool)


def module_skills(path: Path) -> list[Loaded]:
    """The skills of a Python file's tools (see :func:`module_tools`)."""
    return [
        langchain_tool_skill(tool) if is_langchain_tool(tool) else callable_skill(tool)
        for tool in module_tools(path).values()
    ]


def _imported(path: Path) -> ModuleType:
    """The module ``path`` holds, imported once: under its own name when that is free (so that
    ``--tool name=module:function`` finds the same functions), else under a private one."""
    if not path.is_file():
        raise CatalogError("no such file", source=str(path))
    resolved = path.resolve()
    known = _IMPORTED.get(resolved)
    if known is not None:
        return known
    name = resolved.stem
    same_name = sys.modules.get(name)
    if same_name is not None and _file_of(same_name) == resolved:  # imported already, by name
        _IMPORTED[resolved] = same_name
        return same_name
    if not name.isidentifier() or name in sys.modules:
        digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
        name = f"_orchestrator_catalog_{digest}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise CatalogError("cannot be imported as a Python module", source=str(path))
    module = importlib.util.module_from_spec(spec)
    folder = str(resolved.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise CatalogError(
            f"invalid Python: {exc.msg}", source=str(path), where=f"line {exc.lineno}"
        ) from exc
    except (Exception, SystemExit) as exc:  # whatever its top-level code raises is the file's
        # error; a script's sys.exit() too, which had ended orchestrator without a word.
        del sys.modules[name]
        raise CatalogError(
            f"importing it failed: {type(exc).__name__}: {exc}", source=str(path)
        ) from exc
    _IMPORTED[resolved] = module
    return module


def _file_of(module: ModuleType) -> Path | None:
    file = getattr(module, "__file__", None)
    if not isinstance(file, str):
        return None
    try:
        return Path(file).resolve()
    except OSError:
        return None
