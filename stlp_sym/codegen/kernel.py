"""The kernel IR: ops typed by domain and the :class:`Kernel` they form.

Lowering (:mod:`stlp_sym.codegen.lowering`) emits :class:`Op` records; the passes run on the list
of ops before it becomes a :class:`Kernel`, one pass a module: :mod:`~stlp_sym.codegen.cse`
(common subexpressions per domain) and :mod:`~stlp_sym.codegen.schedule` (each op after what it
reads, and hop counts). Also the naming of variables: :func:`identifier`, :func:`jet_name` and
the scale argument :data:`SCALE`. :mod:`stlp_sym.codegen.ir` re-exports the public names.

>>> print(Op("y", "edge", "gather", source="x", end="src"))
edge y = gather_src(x)
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import sympy as sp

#: ``scalar``: parameters and ``t``; ``global``: one value per batch member (a global field, a
#: sum over every node or arc); ``node``/``edge``: one value per node/arc.
Domain = Literal["scalar", "global", "node", "edge"]
#: The ``rhs`` kernel's outputs are multiplied by this argument (default 1).
SCALE = sp.Symbol("_scale")


def identifier(name: str) -> str:
    """A Python identifier for a variable name (``lambda`` -> ``lambda_``)."""
    return f"{name}_" if keyword.iskeyword(name) else name


def jet_name(base: str, order: int) -> str:
    """``x`` for order 0, ``x_dK`` for the K-th time derivative."""
    return base if order == 0 else f"{base}_d{order}"


@dataclass(frozen=True)
class Op:
    """One IR instruction.

    ``kind`` is ``"expr"`` (``target = expr``), ``"gather"`` (``target = source[end]``, node to
    edge), ``"scatter"`` (``target = sum of source over arcs into dst (end "dst") or out of
    src (end "src")``, edge to node) or ``"reduce"`` (``target = sum of source over every node
    (end "nodes") or every arc (end "arcs")``, into a global). A global value needs no move to
    be read: every node and arc reads it as it reads a parameter.
    """

    target: str
    domain: Domain
    kind: Literal["expr", "gather", "scatter", "reduce"]
    expr: sp.Expr | None = None
    source: str | None = None
    end: Literal["src", "dst", "nodes", "arcs"] | None = None

    def __str__(self) -> str:
        """The compact form the passes' tests compare: ``edge y = x*w``."""
        if self.kind == "expr":
            return f"{self.domain} {self.target} = {self.expr}"
        return f"{self.domain} {self.target} = {self.kind}_{self.end}({self.source})"

    @property
    def reads(self) -> set[str]:
        """The variables this op reads."""
        if self.kind == "expr":
            return {s.name for s in self.expr.free_symbols}
        return {self.source}


@dataclass(frozen=True)
class Kernel:
    """A straight-line program: ``ops`` in execution order, from ``inputs`` to ``outputs``.

    ``inputs`` maps each variable read from outside to ``(domain, source, key)``: source is
    ``"jet"``, ``"signal"``, ``"role"``, ``"param"``, ``"time"`` or ``"argument"`` (the scale
    factor ``_scale``), key the name it is read by.
    ``outputs`` maps output names to the variable holding them; ``hops`` counts gathers and
    scatters on the longest path to each output (its neighbourhood radius); ``domains`` the
    domain (``node``, ``edge`` or ``global``) of each output, which a value computed from
    parameters only must still fill; ``reach`` the global quantities each output reads (global
    fields, sums over every node or arc), empty for a local update.
    """

    inputs: Mapping[str, tuple[Domain, str, str]]
    ops: tuple[Op, ...]
    outputs: Mapping[str, str]
    hops: Mapping[str, int]
    domains: Mapping[str, Domain] = field(default_factory=dict)
    reach: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
