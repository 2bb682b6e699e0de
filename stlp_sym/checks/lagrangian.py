"""The independent Lagrangian: the action's terms written out node by node and arc by arc
(:func:`unrolled_lagrangian`), compiled once to NumPy (:func:`compile_expressions`), and the
discrete action ``S_h`` on a time grid (:func:`discrete_action`). Nothing of the derivation or of
the generated code is used."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import StlpError
from ..graph.digraph import Digraph
from ..symbolic.action import Action
from ..symbolic.expansion import edge_function, node_function, parameter_entry
from ..symbolic.functions import elementary, has_kinks
from ..symbolic.vocabulary import ROLE_INDICATORS, Field, t
from .layout import memoised
from .reference import Source, central_difference


def field_registry(action: Action, graph: Digraph) -> dict[str, tuple[str, int]]:
    """Concrete function name (``x[3]``, ``w[0->1]``) -> ``(quantity, entry index)``."""
    names: dict[str, tuple[str, int]] = {}
    node_quantities = [s.name for s in action.signals] + [f.name for f in action.fields_on("node")]
    for name in node_quantities:
        for k in range(graph.n):
            names[node_function(name, k).func.__name__] = (name, k)
    for f in action.fields_on("edge"):
        for e, (j, i) in enumerate(graph.arcs()):
            names[edge_function(f.name, j, i).func.__name__] = (f.name, e)
    for f in action.fields_on("global"):
        names[f.name] = (f.name, 0)
    for name, on in action.parameter_domains.items():
        if on == "node":
            names.update({parameter_entry(name, k).name: (name, k) for k in range(graph.n)})
        else:
            arcs = enumerate(graph.arcs())
            names.update({parameter_entry(name, j, i).name: (name, e) for e, (j, i) in arcs})
    return names


class _Unroller:
    """Writes the action's terms out on a graph, one concrete function per entry."""

    def __init__(self, action: Action, graph: Digraph):
        self.action, self.graph, self.arcs = action, graph, graph.arcs()
        self.aggregates: dict[tuple[str, int], sp.Expr] = {}

    def entry(self, name: str, node: int) -> sp.Expr:
        """A node field or signal at ``node``: its function, its clamp's signal, or zero."""
        item = self.action.lookup(name)
        if not self.graph.role_mask(item.role)[node]:
            return sp.S.Zero
        clamp = self.action.clamp_of(name) if isinstance(item, Field) else None
        if clamp is not None and self.graph.role_mask(clamp.role)[node]:
            return node_function(clamp.signal, node)
        return node_function(name, node)

    def node_map(self, node: int, suffix: str = "") -> dict[sp.Basic, sp.Basic]:
        mapping: dict[sp.Basic, sp.Basic] = {}
        for item in (*self.action.signals, *self.action.fields_on("node")):
            mapping[sp.Function(item.name + suffix)(t)] = self.entry(item.name, node)
        for name, on in self.action.parameter_domains.items():
            if on == "node":
                mapping[sp.Function(name + suffix)(t)] = parameter_entry(name, node)
        for role, symbol in ROLE_INDICATORS.items():
            flag = bool(self.graph.role_mask(role)[node])
            mapping[sp.Symbol(symbol.name + suffix)] = sp.Integer(flag)
        if not suffix:
            for agg in self.action.aggregates:
                mapping[sp.Function(agg.name)(t)] = self.aggregate(agg.name, node)
        return mapping

    def on_arc(self, expr: sp.Expr, e: int) -> sp.Expr:
        j, i = self.arcs[e]
        mapping = {**self.node_map(j, "__src"), **self.node_map(i, "__dst")}
        for f in self.action.fields_on("edge"):
            mapping[f.symbol] = edge_function(f.name, j, i)
        for name, on in self.action.parameter_domains.items():
            if on == "edge":
                mapping[sp.Function(name)(t)] = parameter_entry(name, j, i)
        return expr.xreplace(mapping).doit()

    def aggregate(self, name: str, node: int) -> sp.Expr:
        if (name, node) not in self.aggregates:
            agg = next(a for a in self.action.aggregates if a.name == name)
            end = 1 if agg.direction == "in" else 0
            arcs = [e for e, arc in enumerate(self.arcs) if arc[end] == node]
            self.aggregates[name, node] = sp.Add(*(self.on_arc(agg.expr, e) for e in arcs))
        return self.aggregates[name, node]


def unrolled_lagrangian(action: Action, graph: Digraph) -> sp.Expr:
    """``L = L_global + sum_i L_node(i) + sum_e L_edge(e)`` with every sum written out.

    Node fields become ``x[i](t)`` (their clamp's signal ``u[i](t)`` on clamped nodes, zero
    outside their role), edge fields ``w[j->i](t)``, role indicators 0 or 1, aggregates the
    explicit sums of their summands over the arcs entering (leaving) the node. Nothing of the
    derivation is used.
    """
    unroller = _Unroller(action, graph)
    total = action.global_
    for node in range(graph.n):
        total += action.node.xreplace(unroller.node_map(node)).doit()
    for e in range(graph.n_arcs):
        total += unroller.on_arc(action.edge, e)
    return total


@dataclass(frozen=True)
class Compiled:
    """Expressions in concrete functions of a graph, lambdified once.

    ``arguments`` lists ``(quantity, entry, order)`` per value argument; calling with
    ``lookup(quantity, order) -> array over entries (+ trailing axes)`` evaluates them.
    ``parameters`` lists ``(name, entry)`` per parameter argument (entry None for a scalar, the
    node or arc of a parameter on nodes or arcs, whose value in ``params`` is an array).
    """

    function: Callable
    parameters: tuple[tuple[str, int | None], ...]
    arguments: tuple[tuple[str, int, int], ...]

    def __call__(self, time: float | np.ndarray, params: Mapping[str, float], lookup: Source):
        values = [lookup(name, order)[index] for name, index, order in self.arguments]
        given = [
            params[name] if entry is None or np.ndim(params[name]) == 0 else params[name][entry]
            for name, entry in self.parameters
        ]
        return self.function(time, *given, *values)


#: The step of five-point differences of ``L`` on an action with kinks (see :func:`kink_step`).
KINK_STEP = 1e-6


def kink_step(action: Action, smooth: float) -> float:
    """The step of a five-point difference of the unrolled ``L``: ``smooth`` for a smooth
    action, :data:`KINK_STEP` for one with kinks (``abs``, ``max``, ...), so that a stencil
    seldom straddles a kink, where the difference is meaningless; its rounding error grows
    to about ``1e-16 / KINK_STEP`` relative, far below the checks' tolerances."""
    terms = [*action.lagrangian_terms.values(), *(a.expr for a in action.aggregates)]
    return KINK_STEP if has_kinks(*terms) else smooth


def compile_expressions(
    exprs: sp.Expr | Sequence[sp.Expr],
    registry: Mapping[str, tuple[str, int]],
    parameters: Sequence[str],
) -> Compiled:
    """Replace concrete functions and their derivatives by plain symbols and lambdify."""
    exprs_list = [exprs] if isinstance(exprs, sp.Expr) else list(exprs)
    found: dict[sp.Basic, tuple[str, int, int]] = {}
    for expr in exprs_list:
        for atom in expr.atoms(sp.Derivative) | expr.atoms(AppliedUndef):
            inner, order = atom, 0
            if isinstance(atom, sp.Derivative):
                inner, order = atom.expr, int(atom.derivative_count)
            name = inner.func.__name__
            if name not in registry or inner.args != (t,):
                raise StlpError(f"verify: cannot evaluate {atom} on the graph")
            found[atom] = (*registry[name], order)
    arguments = sorted(set(found.values()))
    symbols = {arg: sp.Symbol(f"_v{k}") for k, arg in enumerate(arguments)}
    replacements = {atom: symbols[arg] for atom, arg in found.items()}
    time = sp.Symbol("_t")
    names = sorted({s.name for e in exprs_list for s in e.free_symbols} - {t.name})
    unknown = sorted(set(names) - set(parameters) - set(registry))
    if unknown:
        raise StlpError(f"verify: unexpected symbols {unknown} in the unrolled expressions")
    entries = tuple(registry.get(n, (n, None)) for n in names)
    params = {sp.Symbol(n): sp.Symbol(f"_p{k}") for k, n in enumerate(names)}
    replacements.update({t: time, **params})
    # the vocabulary's functions by their textbook formulas: a reference computed otherwise
    # than the generated code's stable forms (NumPy has no erf: math.erf on each entry)
    ready = [elementary(e.xreplace(replacements)) for e in exprs_list]
    function = sp.lambdify(
        [time, *params.values(), *symbols.values()],
        ready[0] if isinstance(exprs, sp.Expr) else ready,
        modules=[{"erf": np.vectorize(math.erf, otypes=[float])}, "numpy"],
        cse=True,
    )
    return Compiled(function, entries, tuple(arguments))


def discrete_action(
    lagrangian: Compiled, params: Mapping[str, float], time: np.ndarray, grid: Mapping
) -> float:
    """``S_h = sum_k h L(t_k, q_k, D q_k, D^2 q_k, ...)`` over the interior points ``k``.

    ``grid[q]`` holds the values of quantity ``q`` at ``time`` (last axis); ``D^m`` are the
    central differences of :func:`central_weights`, and the interior leaves out the widest
    stencil's half-width at both ends.
    """
    h = float(time[1] - time[0])
    margin = max(((o + 1) // 2 for _, _, o in lagrangian.arguments), default=0)
    cache = memoised(lambda name, order: central_difference(grid[name], order, h, margin))
    inner = time[margin : time.size - margin]
    values = np.broadcast_to(lagrangian(inner, params, cache), inner.shape)
    return h * float(np.sum(values))
