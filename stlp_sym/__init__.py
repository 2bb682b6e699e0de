"""stlp_sym: SpatioTemporal Local Propagation from a symbolic action on any digraph.

State an action with SymPy, derive its Euler-Lagrange equations once per domain (node, edge,
global), expand them on a concrete graph, generate a vectorised module, verify it and run it.
The package's folders are the pipeline (``graph``, ``symbolic``, ``parse``, ``codegen``,
``runtime``, ``cache``, ``checks``, ``runner``, ``display``); the names below are its public
API. They load their modules on first use, so that ``import stlp_sym`` (and ``stlp --help``)
does not pay for importing SymPy.

>>> import stlp_sym
>>> stlp_sym.Digraph.from_spec("chain:3").n_arcs
2
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from . import legacy
from .errors import (
    ActionError,
    GraphError,
    InternalError,
    StlpError,
    StlpWarning,
    StructureError,
)

try:
    __version__ = version("stlp-sym")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

_LAZY = {
    **dict.fromkeys(
        (
            "IS_FREE",
            "IS_HIDDEN",
            "IS_INPUT",
            "IS_OUTPUT",
            "Aggregate",
            "Clamp",
            "Field",
            "Parameter",
            "Signal",
            "dst",
            "fn",
            "src",
            "t",
        ),
        "symbolic.vocabulary",
    ),
    **dict.fromkeys(
        (
            "erf",
            "expm1",
            "heaviside",
            "log1p",
            "logsigmoid",
            "relu",
            "sigmoid",
            "softplus",
        ),
        "symbolic.functions",
    ),
    "Action": "symbolic.action",
    "Derivation": "symbolic.derivation",
    "derive": "symbolic.derivation",
    "expand": "symbolic.expansion",
    "MODELS": "symbolic.models",
    "Digraph": "graph",
    "Options": "options",
    "compile": "codegen.driver",
    "Stages": "codegen.driver",
    "build": "cache.store",
    "verify": "checks",
    "run": "runner.loop",
    "sweep": "runner.sweep",
    "Trace": "runner.trace",
    "init_printing": "display.notebook",
}

if TYPE_CHECKING:
    from .cache.store import build
    from .checks import verify
    from .codegen.driver import Stages, compile
    from .display.notebook import init_printing
    from .graph import Digraph
    from .options import Options
    from .runner.loop import run
    from .runner.sweep import sweep
    from .runner.trace import Trace
    from .symbolic.action import Action
    from .symbolic.derivation import Derivation, derive
    from .symbolic.expansion import expand
    from .symbolic.functions import (
        erf,
        expm1,
        heaviside,
        log1p,
        logsigmoid,
        relu,
        sigmoid,
        softplus,
    )
    from .symbolic.models import MODELS
    from .symbolic.vocabulary import (
        IS_FREE,
        IS_HIDDEN,
        IS_INPUT,
        IS_OUTPUT,
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

legacy.install(__name__)


def __getattr__(name: str) -> object:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # a submodule import never shadows it later
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "IS_FREE",
    "IS_HIDDEN",
    "IS_INPUT",
    "IS_OUTPUT",
    "MODELS",
    "Action",
    "ActionError",
    "Aggregate",
    "Clamp",
    "Derivation",
    "Digraph",
    "Field",
    "GraphError",
    "InternalError",
    "Options",
    "Parameter",
    "Signal",
    "Stages",
    "StlpError",
    "StlpWarning",
    "StructureError",
    "Trace",
    "__version__",
    "build",
    "compile",
    "derive",
    "dst",
    "erf",
    "expand",
    "expm1",
    "fn",
    "heaviside",
    "init_printing",
    "log1p",
    "logsigmoid",
    "relu",
    "run",
    "sigmoid",
    "softplus",
    "src",
    "sweep",
    "t",
    "verify",
]
