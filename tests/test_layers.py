"""The layering rule of DESIGN.md, kept by reading every module's imports with ``ast``.

Each group of modules sits in a row and may import only itself and the groups it is allowed
(lower rows); the runtime import graph is a DAG; no module reaches another module's ``_private``
names; sshpool imports inside functions only where a deferred import is the point; every module
on disk is in exactly one group and every group exists; no module is over 400 lines. The checks
are functions over a source tree, so the tests below also prove that each would catch its fault.
"""

from __future__ import annotations

import ast
import graphlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sshpool"
MAX_LINES = 400

VALUES = {
    "errors",
    "result",
    "dsn",
    "defaults",
    "commands",
    "tables",
    "trees",
    "clihelp",
    "selectors",
    "inputs",
    "outframes",
    "quickjson",
    "_version",
    "locate",
    "waits",
    "groups",
}
PACKAGES = {"core", "connection", "client", "runners", "inventory", "daemon", "ctl"}
SINGLES = {"bridge", "sync", "digitalocean", "__init__"}

# group -> (row, groups it may import besides itself, third-party packages it may import at module level)
RULES: dict[str, tuple[int, set[str], set[str]]] = {
    "values": (0, set(), set()),
    "bridge": (1, set(), {"anyio"}),
    "core": (2, {"values"}, {"asyncssh"}),
    "connection": (2, {"values"}, set()),
    "client": (2, {"values", "bridge"}, {"httpx", "anyio"}),
    "runners": (3, {"values", "core", "connection", "client"}, {"asyncssh", "httpx"}),
    "inventory": (3, {"values", "core"}, {"asyncssh"}),
    "daemon": (
        4,
        {"values", "core", "inventory"},
        {"asyncssh", "fastapi", "starlette", "pydantic_core", "uvicorn", "uvloop", "prometheus_client", "cryptography"},
    ),
    "ctl": (3, {"values", "client"}, set()),
    "sync": (4, {"values", "bridge", "runners", "connection"}, {"anyio"}),
    "digitalocean": (5, {"values", "sync", "core", "inventory"}, set()),
    "__init__": (6, {"values"}, set()),
}
# Where an sshpool import inside a function is the point: the package root's lazy names, and
# sshpoold's parser, which keeps `sshpoold -h` from loading the server, and sshpoolctl's lean
# front door, which loads the full CLI (or its error table, or the terminal) only for the calls that
# need it.
DEFERRED_OK = {"sshpool", "sshpool.daemon.cli", "sshpool.ctl.lean"}


@dataclass
class Module:
    name: str  # dotted, e.g. "sshpool.core.pool"
    path: Path
    lines: int
    runtime: set[str] = field(default_factory=set)  # sshpool modules imported at run time
    in_functions: set[str] = field(default_factory=set)  # ... of which inside a function
    third_party: set[str] = field(default_factory=set)  # top-level packages imported at module level
    private: list[str] = field(default_factory=list)  # "module._name" imported from another module


def group_of(name: str) -> str:
    parts = name.split(".")
    if len(parts) == 1:
        return "__init__"
    head = parts[1]
    if head in VALUES:
        return "values"
    return head


def load(src: Path) -> dict[str, Module]:
    """Every module under ``src`` (the sshpool package directory) with what it imports."""
    modules: dict[str, Module] = {}
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        text = path.read_text()
        mod = Module(name, path, len(text.splitlines()))
        _walk(ast.parse(text), mod, is_package=path.name == "__init__.py", in_function=False)
        modules[name] = mod
    for mod in modules.values():  # `from sshpool.core import pool` names a module, not a package attribute
        mod.runtime = {_closest(n, modules) for n in mod.runtime}
        mod.in_functions = {_closest(n, modules) for n in mod.in_functions}
    return modules


def _closest(name: str, modules: dict[str, Module]) -> str:
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def _walk(node: ast.AST, mod: Module, *, is_package: bool, in_function: bool) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                _walk(other, mod, is_package=is_package, in_function=in_function)
            continue
        inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        if isinstance(child, ast.Import):
            for alias in child.names:
                _note(mod, alias.name, [], inner)
        elif isinstance(child, ast.ImportFrom):
            base = _absolute(child, mod.name, is_package)
            names = [a.name for a in child.names]
            _note(mod, base, names, inner)
        _walk(child, mod, is_package=is_package, in_function=inner)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _note(mod: Module, target: str, names: list[str], in_function: bool) -> None:
    root = target.split(".")[0]
    if root == "sshpool":
        # `from sshpool.x import name`: `name` is a module of package x or an attribute of module x;
        # load() keeps the longest prefix that is a module.
        targets = {f"{target}.{n}" for n in names} if names else {target}
        mod.runtime |= targets
        if in_function:
            mod.in_functions |= targets
        mod.private += [f"{target}.{n}" for n in names if n.startswith("_") and not n.startswith("__")]
    elif root not in sys.stdlib_module_names and root != "__future__" and not in_function:
        mod.third_party.add(root)


def misplaced(modules: dict[str, Module]) -> list[str]:
    """Modules in no group, and groups that have no module (a rule about nothing passes vacuously)."""
    known = VALUES | PACKAGES | (SINGLES - {"__init__"})
    present = {m.split(".")[1] for m in modules if "." in m}
    return sorted(m for m in modules if "." in m and m.split(".")[1] not in known) + [
        f"missing: {g}" for g in sorted(known - present)
    ]


def wrong_imports(modules: dict[str, Module]) -> list[str]:
    bad = []
    for mod in modules.values():
        group = group_of(mod.name)
        _, allowed, third = RULES[group]
        for target in sorted(mod.runtime):
            other = group_of(target)
            if other == group or other in allowed:
                continue
            if group == "__init__" and target in mod.in_functions:
                continue  # the lazy public names
            bad.append(f"{mod.name} imports {target} ({group} may not import {other})")
        extra = mod.third_party - third
        if group == "values" or group == "connection":
            extra = mod.third_party  # stdlib only (pandas only inside a function)
        bad += [f"{mod.name} imports {t} at module level" for t in sorted(extra)]
    return bad


def cycles(modules: dict[str, Module]) -> list[str]:
    graph = {name: {t for t in mod.runtime if t in modules and t != name} for name, mod in modules.items()}
    # A package's __init__ importing its own modules is how packages work, not a cycle.
    for name in graph:
        graph[name] = {t for t in graph[name] if not (name.startswith(t + ".") and t in modules)}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        return [" -> ".join(exc.args[1])]
    return []


def private_imports(modules: dict[str, Module]) -> list[str]:
    return [f"{m.name} imports {p}" for m in modules.values() for p in m.private]


def deferred_imports(modules: dict[str, Module]) -> list[str]:
    return [
        f"{m.name} imports {t} inside a function"
        for m in modules.values()
        if m.name not in DEFERRED_OK
        for t in sorted(m.in_functions)
    ]


def too_long(modules: dict[str, Module]) -> list[str]:
    return [f"{m.name}: {m.lines} lines" for m in modules.values() if m.lines > MAX_LINES]


TREE = load(SRC)


def test_every_module_is_in_exactly_one_group_and_every_group_exists() -> None:
    assert misplaced(TREE) == []


def test_each_group_imports_only_what_its_row_allows() -> None:
    assert wrong_imports(TREE) == []


def test_the_import_graph_has_no_cycle() -> None:
    assert cycles(TREE) == []


def test_no_module_takes_another_modules_private_names() -> None:
    assert private_imports(TREE) == []


def test_imports_inside_functions_only_where_deferring_is_the_point() -> None:
    assert deferred_imports(TREE) == []


def test_no_module_is_over_400_lines() -> None:
    assert too_long(TREE) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> dict[str, Module]:
    root = tmp_path / "sshpool"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return load(root)


def test_a_new_cycle_is_caught(tmp_path: Path) -> None:
    tree = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "core/__init__.py": "",
            "core/a.py": "from sshpool.core.b import x\n",
            "core/b.py": "def f():\n    from sshpool.core.a import y\n",
        },
    )
    assert cycles(tree) != []


def test_a_type_checking_import_is_no_cycle(tmp_path: Path) -> None:
    tree = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "errors.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sshpool.result import R\n",
            "result.py": "from sshpool.errors import E\n",
        },
    )
    assert cycles(tree) == []


def test_a_private_cross_import_is_caught(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"__init__.py": "", "core/__init__.py": "", "core/a.py": "from .b import _hidden\n"})
    assert private_imports(tree) == ["sshpool.core.a imports sshpool.core.b._hidden"]


def test_a_401_line_module_is_caught(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"__init__.py": "", "dsn.py": "x = 1\n" * 401, "errors.py": "x = 1\n" * 400})
    assert too_long(tree) == ["sshpool.dsn: 401 lines"]


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    tree = _tree(
        tmp_path,
        {"__init__.py": "", "ctl/__init__.py": "", "ctl/cli.py": "import sshpool.core.pool\n", "core/pool.py": ""},
    )
    assert wrong_imports(tree) == ["sshpool.ctl.cli imports sshpool.core.pool (ctl may not import core)"]


def test_a_module_outside_every_group_and_a_missing_group_are_caught(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"__init__.py": "", "stray.py": ""})
    assert "sshpool.stray" in misplaced(tree)
    assert "missing: core" in misplaced(tree)


@pytest.mark.parametrize("group", sorted(PACKAGES | VALUES | (SINGLES - {"__init__"})))
def test_every_named_group_is_on_disk(group: str) -> None:
    assert (SRC / group).is_dir() or (SRC / f"{group}.py").is_file()
