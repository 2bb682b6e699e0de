r"""LaTeX lines of the equations written out on a graph (:func:`.expansion.expand`).

A node quantity at node 3 prints as ``x_{3}``, an edge field on the arc ``0 -> 1`` as
``w_{0 \to 1}``, with the notation of :mod:`stlp_sym.symbolic.frameprint` otherwise (dots for
time derivatives, hats, parameters).

>>> from stlp_sym.graph.digraph import Digraph
>>> from stlp_sym.symbolic.derivation import derive
>>> from stlp_sym.symbolic.expansion import expand
>>> from stlp_sym.symbolic.models import MODELS
>>> derivation = derive(MODELS["pendulum"].build())
>>> for line in expanded_latex(expand(derivation, Digraph.from_arcs(1, [])), derivation):
...     print(line)
\text{Euler-Lagrange equations on 1 node, 0 arcs}
q_{0}:\ - \sin{\left(q_{0} \right)} - \ddot{q}_{0} = 0
\text{Solved leading derivatives}
\ddot{q}_{0} = - \sin{\left(q_{0} \right)}
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.core.function import AppliedUndef

from .derivation import Derivation
from .expansion import ExpandedEquations
from .frameprint import LatexFramePrinter
from .vocabulary import t

#: ``x[3]`` (a node) or ``w[0->1]`` (an arc): the names :func:`expand` gives its functions
_CONCRETE = re.compile(r"(?P<name>.+)\[(?P<where>[^\[\]]+)\]")


class ExpandedLatexPrinter(LatexFramePrinter):
    """The frame printer for concrete functions ``x[3](t)`` and ``w[0->1](t)``: the node or
    arc is the subscript."""

    def __init__(self) -> None:
        super().__init__("global")

    def _quantity(self, expr: sp.Basic) -> tuple[str, str | None, int] | None:
        order, inner = 0, expr
        if isinstance(inner, sp.Derivative) and all(v == t for v in inner.variables):
            order, inner = int(inner.derivative_count), inner.expr
        if not isinstance(inner, AppliedUndef) or inner.args != (t,):
            return None
        found = _CONCRETE.fullmatch(inner.func.__name__)
        if found is None:  # a global field: no index
            return super()._quantity(expr)
        source, arrow, target = found["where"].partition("->")
        index = rf"{source} \to {target}" if arrow else source
        return found["name"], index, order


def _leading(derivation: Derivation, name: str, unknown: sp.Expr) -> sp.Expr:
    """The leading derivative of field ``name`` solved for, on the concrete ``unknown``."""
    leading = derivation.require_system().leading[name]
    order = int(leading.derivative_count) if isinstance(leading, sp.Derivative) else 0
    return unknown.diff(t, order) if order else unknown


def expanded_latex(expanded: ExpandedEquations, derivation: Derivation) -> list[str]:
    """One line per equation of ``expanded`` (``x_{3}:\\ lhs = 0``), then, when the
    derivation has an explicit system, one line per solved leading derivative."""
    printer = ExpandedLatexPrinter()
    graph = expanded.graph
    nodes = f"{graph.n} node{'s' * (graph.n != 1)}, {graph.n_arcs} arc{'s' * (graph.n_arcs != 1)}"
    lines = [rf"\text{{Euler-Lagrange equations on {nodes}}}"]
    for key, lhs in expanded.equations.items():
        name = printer.doprint(expanded.unknowns[key])
        lines.append(rf"{name}:\ {printer.doprint(lhs)} = 0")
    if expanded.solution:
        lines.append(r"\text{Solved leading derivatives}")
        for (name, index), rhs in expanded.solution.items():
            unknown = _leading(derivation, name, expanded.unknowns[name, index])
            lines.append(f"{printer.doprint(unknown)} = {printer.doprint(rhs)}")
    return lines
