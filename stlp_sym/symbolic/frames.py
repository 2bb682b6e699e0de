"""Frames and neighbour sums: how index-generic equations refer to a node's neighbourhood.

A derived equation lives in the frame of one node, one arc or the whole graph (see
docs/theory.md, section 2).
In a node frame, ``x(t)`` is the node's own value and ``InSum(g)`` / ``OutSum(g)`` sum an
edge-frame expression ``g`` over the arcs entering / leaving the node. In an edge frame,
``x__src(t)`` and ``x__dst(t)`` are the values at the arc's ends. In the global frame,
``NodeSum`` and ``EdgeSum`` run over every node and every arc.

>>> from stlp_sym.symbolic.vocabulary import fn, t
>>> InSum(2 * fn("w") * fn("x__src")).diff(t)
2*InSum(w(t)*Derivative(x__src(t), t) + x__src(t)*Derivative(w(t), t))
"""

from __future__ import annotations

import sympy as sp
from sympy.core.function import AppliedUndef

from .vocabulary import ROLE_INDICATORS, End, split_end, t


class NeighbourSum(sp.Function):
    """Unevaluated sum of an expression over a set of arcs or nodes (linear in its argument)."""

    nargs = 1
    #: The frame of the summand: ``"edge"`` or ``"node"``.
    summand_frame = "edge"

    @classmethod
    def eval(cls, arg: sp.Expr) -> sp.Expr | None:
        if arg == 0:
            return sp.S.Zero
        # Factors that are the same on every arc (numbers, parameters, t) move out of the sum.
        if arg.is_Add:
            arg = sp.factor_terms(arg)
        if arg.is_Mul:
            constant, varying = arg.as_independent(AppliedUndef, *_frame_symbols(arg))
            if constant != 1:
                return constant * cls(varying)
        return None

    def _eval_derivative(self, s: sp.Symbol) -> sp.Expr:
        return self.func(self.args[0].diff(s))

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"{self.latex_prefix} \left({printer._print(self.args[0])}\right)"

    latex_prefix = r"\sum"


class InSum(NeighbourSum):
    """Sum over the arcs entering the node: ``sum_{e: dst(e)=i} g(e)``, i.e. over ``pa(i)``."""

    latex_prefix = r"\sum_{j \in pa(i)}"


class OutSum(NeighbourSum):
    """Sum over the arcs leaving the node: ``sum_{e: src(e)=i} g(e)``, i.e. over ``ch(i)``."""

    latex_prefix = r"\sum_{k \in ch(i)}"


class NodeSum(NeighbourSum):
    """Sum of a node-frame expression over every node (used by global-field equations)."""

    summand_frame = "node"
    latex_prefix = r"\sum_{i \in V}"


class EdgeSum(NeighbourSum):
    """Sum of an edge-frame expression over every arc (used by global-field equations)."""

    latex_prefix = r"\sum_{e \in A}"


SUMS = (InSum, OutSum, NodeSum, EdgeSum)


def _frame_symbols(expr: sp.Expr) -> list[sp.Symbol]:
    """Symbols whose value depends on where they are evaluated (role indicators)."""
    roles = {s.name for s in ROLE_INDICATORS.values()}
    return [s for s in expr.free_symbols if split_end(s.name)[0] in roles]


def to_end(expr: sp.Expr, end: End, node_names: set[str]) -> sp.Expr:
    """Move a node-frame expression to an arc end: ``x(t) -> x__dst(t)``, ``is_output -> ...``.

    ``node_names`` are the node-domain quantities (node fields, signals, aggregates); global
    fields, parameters and ``t`` are the same everywhere and stay.
    """
    replacements: dict[sp.Basic, sp.Basic] = {}
    for atom in expr.atoms(AppliedUndef):
        base, old_end = split_end(atom.func.__name__)
        if base in node_names and old_end is None:
            replacements[atom] = sp.Function(f"{base}__{end}")(t)
    for symbol in ROLE_INDICATORS.values():
        replacements[symbol] = sp.Symbol(f"{symbol.name}__{end}")
    return expr.xreplace(replacements)


def derivative(function: sp.Expr, order: int) -> sp.Expr:
    """``function`` differentiated ``order`` times in time (``order = 0`` gives it back)."""
    return sp.Derivative(function, (t, order)) if order else function


def occurrences(expr: sp.Expr) -> set[tuple[str, str | None, int, bool]]:
    """Every ``(base, end, order, inside_sum)`` of an undefined function in ``expr``.

    >>> from stlp_sym.symbolic.vocabulary import fn
    >>> sorted(occurrences(fn("x").diff(t) + InSum(fn("x__src"))), key=str)
    [('x', 'src', 0, True), ('x', None, 1, False)]
    """
    found: set[tuple[str, str | None, int, bool]] = set()
    _collect(expr, False, found)
    return found


def _collect(expr: sp.Basic, inside: bool, found: set) -> None:
    if isinstance(expr, sp.Derivative) and isinstance(expr.expr, AppliedUndef):
        base, end = split_end(expr.expr.func.__name__)
        found.add((base, end, int(expr.derivative_count), inside))
        return
    if isinstance(expr, AppliedUndef):
        base, end = split_end(expr.func.__name__)
        found.add((base, end, 0, inside))
        return
    inside = inside or isinstance(expr, NeighbourSum)
    for arg in expr.args:
        _collect(arg, inside, found)
