"""The package's layout is its pipeline: no import cycles, no layer reaching up, no private names.

Every ``import`` statement of every module counts, also those inside functions; only the imports
under ``if TYPE_CHECKING:`` are left out, because they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "stlp_sym"
#: the pipeline's folders, in order: a module imports only from its own folder or earlier ones
LAYERS = (
    "graph",
    "symbolic",
    "parse",
    "codegen",
    "runtime",
    "cache",
    "checks",
    "runner",
    "display",
)
#: modules at the top level below every folder (and importable from all of them)
BASE = {"stlp_sym", "stlp_sym.errors", "stlp_sym.options", "stlp_sym.files", "stlp_sym.legacy"}


def module_name(path: Path) -> str:
    parts = ("stlp_sym", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(tree: ast.AST):
    """Import statements that can run: every one outside ``if TYPE_CHECKING:`` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and is_type_checking(node):
            yield from (n for orelse in node.orelse for n in runtime_imports_of(orelse))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from runtime_imports(node)


def runtime_imports_of(node: ast.AST):
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    yield from runtime_imports(node)


def imported(name: str, node: ast.Import | ast.ImportFrom) -> list[tuple[str, list[str]]]:
    """``(module, names)`` pairs of the package's own modules that ``node`` imports."""
    if isinstance(node, ast.Import):
        return [(a.name, []) for a in node.names if a.name.split(".")[0] == "stlp_sym"]
    if node.level:
        is_package = MODULES[name].name == "__init__.py"
        base = name.split(".")[: len(name.split(".")) - node.level + is_package]
        target = ".".join([*base, *([node.module] if node.module else [])])
    else:
        target = node.module or ""
    if target.split(".")[0] != "stlp_sym":
        return []
    names = [a.name for a in node.names]
    found = [(target, names)]
    # ``from . import x`` imports the submodule x
    found += [(f"{target}.{n}", []) for n in names if f"{target}.{n}" in MODULES]
    return found


def import_table() -> dict[str, list[tuple[str, list[str]]]]:
    table = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        table[name] = [pair for node in runtime_imports(tree) for pair in imported(name, node)]
    return table


def layer(name: str) -> int | None:
    parts = name.split(".")
    if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS):
        return LAYERS.index(parts[1])
    return None


def cycles(table) -> list[list[str]]:
    graph = nx.DiGraph()
    for name, targets in table.items():
        graph.add_node(name)
        graph.add_edges_from((name, t) for t, _ in targets if t in table and t != name)
    return sorted(sorted(c) for c in nx.simple_cycles(graph))


def upward_imports(table) -> list[str]:
    wrong = []
    for name, targets in table.items():
        own = layer(name)
        for target, _ in targets:
            if target in BASE or own is None:
                continue
            theirs = layer(target)
            if theirs is None or theirs > own:
                wrong.append(f"{name} imports {target}")
    return wrong


def private_imports(table) -> list[str]:
    return [
        f"{name} imports {n} from {target}"
        for name, targets in table.items()
        for target, names in targets
        for n in names
        if n.startswith("_") and not n.startswith("__")
    ]


def test_no_import_cycles() -> None:
    assert cycles(import_table()) == []


def test_folders_import_only_from_themselves_and_earlier_folders() -> None:
    assert upward_imports(import_table()) == []


def test_no_private_name_is_imported_from_another_module() -> None:
    assert private_imports(import_table()) == []


def test_every_folder_says_what_comes_in_and_goes_out() -> None:
    for folder in LAYERS:
        doc = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text()))
        assert doc and "In:" in doc and "Out:" in doc, folder


def test_the_checks_fail_on_a_planted_cycle_upward_and_private_import(monkeypatch) -> None:
    """A cycle through a function-level import, a folder reaching up and a private name."""
    table = {
        "stlp_sym.graph.a": [("stlp_sym.symbolic.b", ["_g"])],
        "stlp_sym.symbolic.b": [("stlp_sym.graph.a", [])],
    }
    assert cycles(table) == [["stlp_sym.graph.a", "stlp_sym.symbolic.b"]]
    assert upward_imports(table) == ["stlp_sym.graph.a imports stlp_sym.symbolic.b"]
    assert private_imports(table) == ["stlp_sym.graph.a imports _g from stlp_sym.symbolic.b"]


def test_imports_inside_functions_count_and_type_checking_ones_do_not() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .b import B\n"
        "def f():\n    from .c import _h\n"
    )
    found = [pair for node in runtime_imports(tree) for pair in imported("stlp_sym.errors", node)]
    assert found == [("stlp_sym.c", ["_h"])]
