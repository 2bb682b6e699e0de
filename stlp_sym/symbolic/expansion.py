"""The equations of a concrete graph: index-generic templates with their sums written out.

:func:`expand` is the only place where the graph meets the derivation. Every node field ``x``
at node ``k`` becomes the function ``x[k](t)``, every edge field ``w`` on the arc ``j -> i``
becomes ``w[j->i](t)``, a global field keeps its name; clamped entries become their signal
(``u[k](t)``) and entries outside a field's role become zero.

>>> import sympy as sp
>>> from stlp_sym.symbolic.vocabulary import Aggregate, Field, fn, src, t
>>> from stlp_sym.symbolic.action import Action
>>> from stlp_sym.symbolic.derivation import derive
>>> from stlp_sym.graph.digraph import Digraph
>>> x, w = fn("x"), fn("w")
>>> act = Action(fields=[Field("x"), Field("w", "edge")], aggregates=[Aggregate("a", w * src(x))],
...              node=x.diff(t) ** 2 / 2 - fn("a") ** 2 / 2, edge=w.diff(t) ** 2 / 2)
>>> eqs = expand(derive(act), Digraph.from_arcs(2, [(0, 1)]))
>>> eqs.equations["x", 0]
-w[0->1](t)**2*x[0](t) - Derivative(x[0](t), (t, 2))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

import sympy as sp
from sympy.core.function import AppliedUndef

from ..graph.digraph import Digraph
from .action import Action
from .derivation import Derivation
from .frames import EdgeSum, InSum, NodeSum, OutSum, derivative
from .printing import latex_expanded
from .vocabulary import ROLE_INDICATORS, Aggregate, Parameter, split_end, t


def node_function(name: str, node: int) -> sp.Expr:
    """The concrete function of a node quantity at one node: ``x[3](t)``."""
    return sp.Function(f"{name}[{node}]")(t)


def edge_function(name: str, source: int, target: int) -> sp.Expr:
    """The concrete function of an edge field on the arc ``source -> target``."""
    return sp.Function(f"{name}[{source}->{target}]")(t)


def parameter_entry(name: str, node: int, target: int | None = None) -> sp.Symbol:
    """The value of a parameter on nodes at ``node`` (``tau[3]``), or of a parameter on arcs
    on the arc ``node -> target`` (``m[0->1]``): a constant symbol."""
    return sp.Symbol(f"{name}[{node}]" if target is None else f"{name}[{node}->{target}]")


@dataclass(frozen=True)
class ExpandedEquations:
    """The Euler-Lagrange equations and the solved system of one graph.

    ``equations[(field, index)]`` is the left-hand side of ``sign P0 + P1 = 0`` at a node
    (index = node id), an arc (index = arc position in the dst-sorted order) or the whole graph
    (index 0). ``solution`` holds the leading derivatives solved for, keyed the same way
    (empty when the derivation has no explicit system). ``unknowns`` maps each key to the
    concrete function it determines, ``leading`` to the derivative of it that ``solution``
    gives (empty without a system).
    """

    graph: Digraph
    equations: Mapping[tuple[str, int], sp.Expr]
    solution: Mapping[tuple[str, int], sp.Expr]
    unknowns: Mapping[tuple[str, int], sp.Expr]
    leading: Mapping[tuple[str, int], sp.Expr] = field(default_factory=dict)

    #: rows shown by :meth:`_repr_latex_` before the rest is elided
    SHOWN = 24

    def _repr_latex_(self) -> str:
        """The solved system (or the equations, without one) for notebooks, one row per unknown."""
        rows = latex_expanded(self)
        if len(rows) > self.SHOWN:
            rows = [*rows[: self.SHOWN], rf"&\vdots \quad \text{{{len(rows) - self.SHOWN} more}}"]
        return "$$\\begin{aligned}" + " \\\\ ".join(rows) + "\\end{aligned}$$"


class _Expander:
    """Substitutes the graph into node-, edge- and global-frame expressions."""

    def __init__(self, action: Action, aggregates: tuple[Aggregate, ...], graph: Digraph):
        self.action = action
        self.graph = graph
        self.aggregates = {a.name: a for a in aggregates}
        self.arcs = list(zip(graph.src.tolist(), graph.dst.tolist(), strict=True))
        self.aggregate_at = cache(self._aggregate_at)

    def member(self, role: str, node: int) -> bool:
        return bool(self.graph.role_mask(role)[node])

    def node_value(self, name: str, node: int) -> sp.Expr:
        """What a node quantity is at ``node``: unknown, signal, aggregate sum or zero."""
        if name in self.aggregates:
            return self.aggregate_at(name, node)
        item = self.action.lookup(name)
        if isinstance(item, Parameter):
            return parameter_entry(name, node)
        if not self.member(item.role, node):
            return sp.S.Zero
        clamp = self.action.clamp_of(name)
        if clamp is not None and self.member(clamp.role, node):
            return node_function(clamp.signal, node)
        return node_function(name, node)

    def _aggregate_at(self, name: str, node: int) -> sp.Expr:
        agg = self.aggregates[name]
        position = 1 if agg.direction == "in" else 0
        arcs = [arc for arc in self.arcs if arc[position] == node]
        return sp.Add(*(self.on_arc(agg.expr, arc) for arc in arcs))

    def _role_values(self, node: int, suffix: str) -> dict[sp.Basic, sp.Basic]:
        return {
            sp.Symbol(symbol.name + suffix): sp.Integer(self.member(role, node))
            for role, symbol in ROLE_INDICATORS.items()
        }

    def on_arc(self, expr: sp.Expr, arc: tuple[int, int]) -> sp.Expr:
        """An edge-frame expression on the arc ``(source, target)``."""
        replacements = {**self._role_values(arc[0], "__src"), **self._role_values(arc[1], "__dst")}
        for atom in expr.atoms(AppliedUndef):
            base, end = split_end(atom.func.__name__)
            if end is not None:
                replacements[atom] = self.node_value(base, arc[0] if end == "src" else arc[1])
            elif isinstance(self.action.lookup(base), Parameter):
                replacements[atom] = parameter_entry(base, *arc)
            elif self.action.lookup(base).domain == "edge":
                replacements[atom] = edge_function(base, *arc)
        return _finish(expr.xreplace(replacements))

    def at_node(self, expr: sp.Expr, node: int) -> sp.Expr:
        """A node-frame expression at ``node``, its neighbour sums written out."""
        expr = expr.replace(
            InSum, lambda g: sp.Add(*(self.on_arc(g, a) for a in self.arcs if a[1] == node))
        ).replace(OutSum, lambda g: sp.Add(*(self.on_arc(g, a) for a in self.arcs if a[0] == node)))
        replacements = self._role_values(node, "")
        for atom in expr.atoms(AppliedUndef):
            base, end = split_end(atom.func.__name__)
            item = self.action.lookup(base)
            if end is None and "[" not in base and (item is None or _is_node_quantity(item)):
                replacements[atom] = self.node_value(base, node)
        return _finish(expr.xreplace(replacements))

    def on_graph(self, expr: sp.Expr) -> sp.Expr:
        """A global-frame expression, its sums over nodes and arcs written out."""
        expr = expr.replace(
            NodeSum, lambda g: sp.Add(*(self.at_node(g, k) for k in range(self.graph.n)))
        ).replace(EdgeSum, lambda g: sp.Add(*(self.on_arc(g, a) for a in self.arcs)))
        return _finish(expr)


def _is_node_quantity(item: object) -> bool:
    return getattr(item, "domain", "node") == "node"


def _finish(expr: sp.Expr) -> sp.Expr:
    """Evaluate the derivatives that substitution made trivial (``d/dt 0``, ``d/dt (a+b)``)."""
    return expr.replace(
        lambda e: isinstance(e, sp.Derivative) and not isinstance(e.expr, AppliedUndef),
        lambda e: e.doit(),
    )


def _locations(expander: _Expander, domain: str, field_name: str) -> list[tuple[int, sp.Expr]]:
    """``(index, concrete unknown)`` of every entry of a field that has an equation."""
    graph = expander.graph
    if domain == "edge":
        return [(e, edge_function(field_name, *arc)) for e, arc in enumerate(expander.arcs)]
    if domain == "global":
        return [(0, sp.Function(field_name)(t))]
    found = []
    for node in range(graph.n):
        value = expander.node_value(field_name, node)
        if value == node_function(field_name, node):
            found.append((node, value))
    return found


def expand(derivation: Derivation, graph: Digraph) -> ExpandedEquations:
    """The equations (and solved leading derivatives) of ``derivation`` on ``graph``.

    Parameters
    ----------
    derivation : from :func:`~stlp_sym.symbolic.derivation.derive`, possibly transformed.
    graph : the digraph; clamped entries and entries outside a field's role get no equation.
    """
    expander = _Expander(derivation.action, derivation.aggregates, graph)
    system = derivation.system
    equations, solution, unknowns, leading = {}, {}, {}, {}
    for eq in derivation.equations:
        name, domain = eq.field.name, eq.field.domain
        for index, unknown in _locations(expander, domain, name):
            at = {
                "node": lambda e, i=index: expander.at_node(e, i),
                "edge": lambda e, i=index: expander.on_arc(e, expander.arcs[i]),
                "global": expander.on_graph,
            }[domain]
            equations[name, index] = at(eq.lhs)
            unknowns[name, index] = unknown
            if system is not None:
                solution[name, index] = at(system.solution[name])
                order = _order(system.leading[name])
                leading[name, index] = derivative(unknown, order)
    return ExpandedEquations(graph, equations, solution, unknowns, leading)


def _order(expr: sp.Expr) -> int:
    """How many times a leading unknown is differentiated in time (``x(t)``: 0)."""
    return int(expr.derivative_count) if isinstance(expr, sp.Derivative) else 0
