"""The runtime helpers a generated module calls, as the verbatim source of their functions.

The helpers are real modules in ``stlp_sym/runtime/`` (linted and unit-tested as code); a
generated module must stay standalone, so render pastes into it the functions it calls, and the
functions those call, and nothing else. The runtime files are read here as text (never
imported): their top-level functions are indexed by name with the names each one reads.

>>> sorted(functions_called("x = scatter_dst(e, plan)\\n"))
['scatter_dst']
>>> "def scatter_dst(" in pasted_source(["scatter_dst"])[0]
True
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import InternalError

#: The runtime files whose functions may be pasted, in the order they are pasted.
RUNTIME_FILES = (
    "plan",
    "params",
    "clamps",
    "rates",
    "integrate",
    "exact",
    "energy",
    "loop",
    "compiled",
    "chunk",
)


@dataclass(frozen=True)
class RuntimeFunction:
    """One top-level function of a runtime file: its source and the names its body reads."""

    name: str
    file: str
    source: str
    reads: frozenset[str]
    doc: str


def runtime_dir() -> Path:
    """The folder of the runtime helpers (``stlp_sym/runtime``)."""
    return Path(__file__).resolve().parents[1] / "runtime"


@cache
def runtime_functions() -> dict[str, RuntimeFunction]:
    """Every top-level function of :data:`RUNTIME_FILES`, by name, in pasting order."""
    found: dict[str, RuntimeFunction] = {}
    for stem in RUNTIME_FILES:
        text = (runtime_dir() / f"{stem}.py").read_text(encoding="utf-8")
        for node in ast.parse(text).body:
            if not isinstance(node, ast.FunctionDef):
                continue
            if node.name in found:
                raise InternalError(f"runtime function {node.name!r} is defined twice")
            reads = frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
            found[node.name] = RuntimeFunction(
                name=node.name,
                file=stem,
                source=ast.get_source_segment(text, node),
                reads=reads,
                doc=ast.get_docstring(node) or "",
            )
    return found


def functions_called(code: str) -> set[str]:
    """The runtime functions that ``code`` (module text without them) names, and, transitively,
    the ones those call."""
    index = runtime_functions()
    pending = [n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)]
    called: set[str] = set()
    while pending:
        name = pending.pop()
        if name in index and name not in called:
            called.add(name)
            pending.extend(index[name].reads)
    return called


def pasted_source(names: Iterable[str]) -> list[str]:
    """The source of the runtime functions ``names``, verbatim, in a fixed order."""
    wanted = set(names)
    return [f.source for name, f in runtime_functions().items() if name in wanted]


def summary(name: str) -> str:
    """The first paragraph of a runtime function's docstring (one line)."""
    return " ".join(runtime_functions()[name].doc.split("\n\n")[0].split())
