"""The layering rules of DESIGN.md, kept by walking each module's imports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sshpool"

VALUES = {"errors", "dsn", "result", "defaults", "commands", "tables"}
CORE = {"pool", "channel", "execute", "link", "target", "hostkeys", "shell"}
WEB_AND_DATA = {"fastapi", "starlette", "uvicorn", "httpx", "pandas", "anyio", "pydo"}


def imports(module: str) -> set[str]:
    """Top-level names imported by ``module``: ``sshpool.x`` as ``x``, third-party by package."""
    tree = ast.parse((SRC / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level and node.module:
                found.add(node.module.split(".")[0])
            elif node.level:
                found.update(a.name for a in node.names)
            elif node.module:
                root = node.module.split(".")[0]
                found.add(node.module.split(".")[1] if root == "sshpool" and "." in node.module else root)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
    return found


def existing(names: set[str]) -> list[str]:
    return sorted(n for n in names if (SRC / f"{n}.py").exists())


@pytest.mark.parametrize("module", existing(VALUES))
def test_values_use_the_standard_library_only(module: str) -> None:
    third_party = {
        n for n in imports(module) if n not in sys.stdlib_module_names and n not in VALUES and n != "__future__"
    }
    assert third_party == set()


@pytest.mark.parametrize("module", existing(CORE))
def test_core_knows_no_web_framework_http_client_or_pandas(module: str) -> None:
    assert imports(module) & WEB_AND_DATA == set()


def test_the_rest_api_never_imports_the_client() -> None:
    if (SRC / "api.py").exists():
        assert "client" not in imports("api")


def test_the_shell_goes_through_rest_only() -> None:
    if (SRC / "ctl.py").exists():
        assert imports("ctl") & (CORE | {"sync", "connection"}) == set()


def test_pandas_is_imported_lazily() -> None:
    for path in SRC.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                assert not any(n and n.startswith("pandas") for n in names), path.name
