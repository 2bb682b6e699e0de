"""stlp_sym: SpatioTemporal Local Propagation from a symbolic action on any digraph.

State an action with SymPy, derive its Euler-Lagrange equations once per domain (node, edge,
global), expand them on a concrete graph, generate vectorised NumPy code, verify it and run it.
The names below load their modules on first use, so that ``import stlp_sym`` (and ``stlp
--help``) does not pay for importing SymPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import ActionError, GraphError, StlpError, StlpWarning, StructureError

__version__ = "0.1.0"

_LAZY = {
    name: "action"
    for name in (
        "IS_FREE",
        "IS_HIDDEN",
        "IS_INPUT",
        "IS_OUTPUT",
        "Action",
        "Aggregate",
        "Clamp",
        "Field",
        "Parameter",
        "Signal",
        "dst",
        "fn",
        "src",
        "t",
    )
}

if TYPE_CHECKING:
    from .action import (
        IS_FREE,
        IS_HIDDEN,
        IS_INPUT,
        IS_OUTPUT,
        Action,
        Aggregate,
        Clamp,
        Field,
        Parameter,
        Signal,
        dst,
        fn,
        src,
        t,
    )


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "IS_FREE",
    "IS_HIDDEN",
    "IS_INPUT",
    "IS_OUTPUT",
    "Action",
    "ActionError",
    "Aggregate",
    "Clamp",
    "Field",
    "GraphError",
    "Parameter",
    "Signal",
    "StlpError",
    "StlpWarning",
    "StructureError",
    "__version__",
    "dst",
    "fn",
    "src",
    "t",
]
