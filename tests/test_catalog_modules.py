"""A Python file is a catalog: its public functions are the skills (and, in a run, the tools)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from orchestrator.catalog import load_catalog, module_tools
from orchestrator.errors import CatalogError

SHOP = '''
"""A shop's tools."""
from json import dumps
from pathlib import Path
from typing import TypedDict

_imports = Path(__file__).with_suffix(".imports")  # one "x" per import
_imports.write_text((_imports.read_text() if _imports.exists() else "") + "x")


class Order(TypedDict):
    order_id: str
    total_cents: int


def find_order(customer_email: str) -> Order:
    """Find a customer's most recent order by their e-mail address."""
    return {"order_id": "o-42", "total_cents": 1999}


def refund_order(order_id: str) -> dict:
    """Refund an order's payment to the customer's card."""
    return {"refund_id": "re_1", "order_id": order_id}


refund = refund_order


def _audit(entry: str) -> None:
    """Not a tool: private."""


LIMIT = 10
'''


def _write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def test_the_public_functions_a_file_defines_are_its_skills_in_order(tmp_path: Path) -> None:
    path = _write(tmp_path, "shop_tools.py", SHOP)
    skills = load_catalog(path)
    # Not the imported dumps, the TypedDict, the private helper, the alias or the constant.
    assert [s.id for s in skills] == ["find_order", "refund_order"]
    find = skills[0]
    assert find.description == "Find a customer's most recent order by their e-mail address."
    assert find.parameters["required"] == ["customer_email"]
    assert set(find.outputs["properties"]) == {"order_id", "total_cents"}  # type: ignore[index]


def test_a_file_is_imported_once_and_its_tools_are_the_catalogs_functions(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "shop_once.py", SHOP)
    load_catalog(path)
    tools = module_tools(path)
    load_catalog(path)
    assert (tmp_path / "shop_once.imports").read_text() == "x"
    assert tools["refund_order"]("o-7") == {"refund_id": "re_1", "order_id": "o-7"}


def test_all_decides_which_functions_are_tools(tmp_path: Path) -> None:
    source = SHOP + '\n__all__ = ["refund_order", "Order"]\n'
    assert [s.id for s in load_catalog(_write(tmp_path, "shop_all.py", source))] == ["refund_order"]
    wrong = _write(tmp_path, "shop_wrong_all.py", SHOP + '\n__all__ = ["LIMIT"]\n')
    with pytest.raises(CatalogError, match=r"shop_wrong_all\.py: __all__ names 'LIMIT'"):
        load_catalog(wrong)
    missing = _write(tmp_path, "shop_missing_all.py", SHOP + '\n__all__ = ["cancel"]\n')
    with pytest.raises(CatalogError, match="names 'cancel', which it does not define"):
        load_catalog(missing)


def test_a_lambda_bound_at_the_top_level_is_a_helper_not_a_tool(tmp_path: Path) -> None:
    """It failed the whole file with "python: expected a named function", naming neither the
    file nor the variable."""
    path = _write(tmp_path, "shop_lambda.py", SHOP + "\nclean = lambda text: text.strip()\n")
    assert [s.id for s in load_catalog(path)] == ["find_order", "refund_order"]
    source = SHOP + '\nclean = lambda t: t\n__all__ = ["clean"]\n'
    named = _write(tmp_path, "shop_lambda_all.py", source)
    with pytest.raises(CatalogError, match=r"lambda_all\.py: __all__ names 'clean', a lambda"):
        load_catalog(named)


def test_a_file_that_cannot_be_imported_is_a_clear_error(tmp_path: Path) -> None:
    broken = _write(tmp_path, "broken_tools.py", "def find(:\n    pass\n")
    with pytest.raises(CatalogError, match=r"broken_tools\.py: line 1: invalid Python"):
        load_catalog(broken)
    failing = _write(tmp_path, "failing_tools.py", "import no_such_module_here\n")
    with pytest.raises(
        CatalogError, match=r"failing_tools\.py: importing it failed: ModuleNotFoundError"
    ):
        load_catalog(failing)
    # A script's exit at import had ended the whole process, silently, with its code.
    exiting = _write(tmp_path, "exiting_tools.py", "import sys\nsys.exit(3)\n")
    with pytest.raises(CatalogError, match=r"exiting_tools\.py: importing it failed: SystemExit"):
        load_catalog(exiting)
    empty = _write(tmp_path, "empty_tools.py", "LIMIT = 1\n")
    with pytest.raises(CatalogError, match=r"empty_tools\.py: defines no tools"):
        load_catalog(empty)


def test_a_folder_scan_does_not_import_python_files(tmp_path: Path) -> None:
    _write(tmp_path, "tools.jsonl", '{"name": "ping", "description": "Ping a host."}\n')
    _write(tmp_path, "helper.py", "raise SystemExit('imported')\n")
    assert [s.id for s in load_catalog(tmp_path)] == ["ping"]


def test_an_orchestrator_over_a_python_file_runs_its_functions(tmp_path: Path) -> None:
    from orchestrator import Orchestrator

    path = _write(tmp_path, "shop_api.py", SHOP)
    orchestrator = Orchestrator(path, index_dir=tmp_path / "index")
    result = orchestrator.run_sync(
        "refund jane@example.com's last order", inputs={"customer_email": "jane@example.com"}
    )
    assert result.outcome == "completed", result.log
    assert result.path == ["find_order", "refund_order"]
    assert result.outputs["refund_order"] == {"refund_id": "re_1", "order_id": "o-42"}


def test_an_orchestrator_over_functions_runs_them_and_tools_replace_some(tmp_path: Path) -> None:
    from orchestrator import Orchestrator

    calls: list[str] = []

    def find_order(customer_email: str) -> dict[str, str]:
        """Find a customer's most recent order by their e-mail address."""
        calls.append(f"find {customer_email}")
        return {"order_id": "o-42"}

    def refund_order(order_id: str) -> dict[str, str]:
        """Refund an order's payment to the customer's card."""
        calls.append(f"refund {order_id}")
        return {"refund_id": "re_1"}

    def refund_in_test_mode(order_id: str) -> dict[str, str]:
        calls.append(f"test refund {order_id}")
        return {"refund_id": "re_test"}

    orchestrator = Orchestrator([find_order, refund_order], index_dir=tmp_path / "index")
    task, inputs = "refund jane@example.com's last order", {"customer_email": "jane@example.com"}
    assert orchestrator.run_sync(task, inputs=inputs).outcome == "completed"
    result = orchestrator.run_sync(task, inputs=inputs, tools={"refund_order": refund_in_test_mode})
    assert result.outputs["refund_order"] == {"refund_id": "re_test"}
    assert calls == [
        "find jane@example.com",
        "refund o-42",
        "find jane@example.com",
        "test refund o-42",
    ]


LANGCHAIN_SHOP = '''
"""A shop's tools, written for LangChain."""
from langchain_core.tools import tool

calls = []


@tool
def find_order(customer_email: str) -> dict:
    """Find a customer's most recent order by their e-mail address."""
    calls.append(("find_order", customer_email))
    return {"order_id": "o-42", "total_cents": 1999}


@tool("refund_order")
async def refund(order_id: str) -> dict:
    """Refund an order's payment to the customer's card."""
    calls.append(("refund_order", order_id))
    return {"refund_id": "re_1"}


def _helper() -> None:
    """Not a tool: private."""
'''


def test_langchain_tools_in_a_python_file_are_its_skills_and_run_as_tools(
    tmp_path: Path,
) -> None:
    from orchestrator import Orchestrator

    path = _write(tmp_path, "langchain_shop.py", LANGCHAIN_SHOP)
    skills = load_catalog(path)
    assert [s.id for s in skills] == ["find_order", "refund_order"]
    assert skills[0].parameters["required"] == ["customer_email"]
    assert set(skills[0].outputs["properties"]) == {"order_id", "total_cents"}  # type: ignore[index]
    orchestrator = Orchestrator(path, index_dir=tmp_path / "index")
    result = orchestrator.run_sync(
        "refund jane@example.com's last order", inputs={"customer_email": "jane@example.com"}
    )
    assert result.outcome == "completed", result.log
    assert result.outputs["refund_order"] == {"refund_id": "re_1"}
    module = sys.modules["langchain_shop"]
    assert module.calls == [("find_order", "jane@example.com"), ("refund_order", "o-42")]


def test_a_list_of_functions_and_langchain_tools_runs_both(tmp_path: Path) -> None:
    from langchain_core.tools import tool

    from orchestrator import Orchestrator

    @tool
    def find_order(customer_email: str) -> dict[str, str]:
        """Find a customer's most recent order by their e-mail address."""
        return {"order_id": f"order of {customer_email}"}

    def refund_order(order_id: str) -> dict[str, str]:
        """Refund an order's payment to the customer's card."""
        return {"refund_id": f"refund of {order_id}"}

    orchestrator = Orchestrator([find_order, refund_order], index_dir=tmp_path / "index")
    result = orchestrator.run_sync(
        "refund jane@example.com's last order", inputs={"customer_email": "jane@example.com"}
    )
    assert result.outcome == "completed", result.log
    assert result.outputs["refund_order"] == {"refund_id": "refund of order of jane@example.com"}


def test_an_orchestrator_over_descriptions_alone_needs_tools_to_run(tmp_path: Path) -> None:
    from orchestrator import Orchestrator

    catalog = _write(
        tmp_path, "tools.jsonl", '{"name": "ping", "description": "Ping a network host."}\n'
    )
    orchestrator = Orchestrator(catalog, index_dir=tmp_path / "index")
    with pytest.raises(TypeError, match="run\\(\\) needs tools="):
        orchestrator.run_sync("ping example.org")
