"""An independent reference: the action written out on a concrete graph, one function per entry.

Deliberately naive (a Python loop over nodes and arcs, then SymPy's ``euler_equations``), so that
it shares nothing with the index-generic derivation it checks.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.calculus.euler import euler_equations
from sympy.core.function import AppliedUndef

from stlp_sym.symbolic.action import Action
from stlp_sym.symbolic.expansion import edge_function, node_function
from stlp_sym.symbolic.vocabulary import Field, Signal, t


def _roles(graph, node: int) -> dict[str, bool]:
    inp, out = bool(graph.inputs[node]), bool(graph.outputs[node])
    return {
        "all": True,
        "input": inp,
        "output": out,
        "hidden": not inp and not out,
        "free": not inp,
    }


def _node_entry(action: Action, graph, name: str, node: int):
    item = action.lookup(name)
    if not _roles(graph, node)[item.role]:
        return sp.S.Zero
    for clamp in action.clamps:
        if clamp.field == name and _roles(graph, node)[clamp.role]:
            return sp.Function(f"{clamp.signal}[{node}]")(t)
    return sp.Function(f"{name}[{node}]")(t)


def _node_map(action, graph, node, suffix=""):
    mapping = {}
    for item in action.fields + action.signals:
        if isinstance(item, Signal) or item.domain == "node":
            mapping[sp.Function(item.name + suffix)(t)] = _node_entry(
                action, graph, item.name, node
            )
    for role, flag in _roles(graph, node).items():
        if role != "all":
            mapping[sp.Symbol(f"is_{role}{suffix}")] = sp.Integer(flag)
    for p in action.parameters:  # one constant symbol per node: tau[3]
        if p.on == "node":
            mapping[sp.Function(p.name + suffix)(t)] = sp.Symbol(f"{p.name}[{node}]")
    return mapping


def _arc_map(action, graph, j, i):
    mapping = {**_node_map(action, graph, j, "__src"), **_node_map(action, graph, i, "__dst")}
    for f in action.fields_on("edge"):
        mapping[sp.Function(f.name)(t)] = sp.Function(f"{f.name}[{j}->{i}]")(t)
    for p in action.parameters:  # one constant symbol per arc: m[0->1]
        if p.on == "edge":
            mapping[sp.Function(p.name)(t)] = sp.Symbol(f"{p.name}[{j}->{i}]")
    return mapping


def _sub(expr, mapping):
    return expr.xreplace(mapping).doit()


def unrolled_lagrangian(action: Action, graph):
    """``L`` of the whole graph and the list of its unknown functions."""
    arcs = list(graph.arcs())
    total = action.global_
    for node in range(graph.n):
        mapping = _node_map(action, graph, node)
        for agg in action.aggregates:
            end = 1 if agg.direction == "in" else 0
            mapping[sp.Function(agg.name)(t)] = sum(
                (_sub(agg.expr, _arc_map(action, graph, *arc)) for arc in arcs if arc[end] == node),
                sp.S.Zero,
            )
        total += _sub(action.node, mapping)
    for arc in arcs:
        total += _sub(action.edge, _arc_map(action, graph, *arc))
    unknowns = {}
    for f in action.fields:
        if f.domain == "global":
            unknowns[f.name, 0] = sp.Function(f.name)(t)
        elif f.domain == "edge":
            for index, (j, i) in enumerate(arcs):
                unknowns[f.name, index] = edge_function(f.name, j, i)
        else:
            for node in range(graph.n):
                entry = _node_entry(action, graph, f.name, node)
                if entry == node_function(f.name, node):
                    unknowns[f.name, node] = entry
    return total, unknowns


def unrolled_equations(action: Action, graph) -> dict:
    """``{(field, index): EL expression}`` from SymPy's ``euler_equations`` on the unrolled L."""
    lagrangian, unknowns = unrolled_lagrangian(action, graph)
    keys = list(unknowns)
    eqs = euler_equations(lagrangian, [unknowns[k] for k in keys], t)
    return {k: eq.lhs - eq.rhs for k, eq in zip(keys, eqs, strict=True)}


def random_point(exprs, seed: int) -> dict:
    """Seeded random values for every function, derivative and symbol in ``exprs``."""
    atoms = set()
    for expr in exprs:
        atoms |= expr.atoms(sp.Derivative) | expr.atoms(AppliedUndef) | expr.free_symbols
    rng = np.random.default_rng(seed)
    ordered = sorted(atoms, key=sp.srepr)
    return {a: sp.Float(rng.uniform(0.2, 1.2)) for a in ordered}


def evaluate(expr, point) -> float:
    """``expr`` at ``point`` (derivatives replaced before the functions inside them)."""
    value = expr.xreplace(point)
    return complex(sp.N(value)).real


__all__ = ["Field", "evaluate", "random_point", "unrolled_equations", "unrolled_lagrangian"]
