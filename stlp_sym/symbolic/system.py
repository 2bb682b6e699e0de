"""From Euler-Lagrange equations to an explicit, local first-order system (docs/theory.md, 2).

The unknowns are the highest time derivatives of each field that occur anywhere in the system
(the *leading unknowns*). A bipartite matching assigns each equation a leading unknown of its own
domain at its own node or arc; the matching need not pair a field with its own equation. The
Jacobian of the equations with respect to the leading unknowns must be block-diagonal per node
(or arc) and non-singular; each block is solved in closed form. A field whose leading unknown is
``q^(k)`` gets the states ``q, q_d1, ..., q_d(k-1)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import StructureError
from .action import Action
from .frames import NeighbourSum, derivative, occurrences
from .printing import latex_system
from .vocabulary import ROLE_INDICATORS, Aggregate, Field, t

POLICY_HINT = (
    "use a multiplier policy (penalty, ascent or exact; see docs/policies.md), "
    "e.g. `stlp derive MODEL --policy penalty`"
)


@dataclass(frozen=True)
class State:
    """One state variable: the ``order``-th time derivative of ``field``."""

    field: Field
    order: int

    @property
    def name(self) -> str:
        """``q`` for order 0, ``q_dK`` for the K-th derivative."""
        return self.field.name if self.order == 0 else f"{self.field.name}_d{self.order}"

    @property
    def expr(self) -> sp.Expr:
        """The symbolic quantity this state holds, in its domain's frame."""
        return derivative(sp.Function(self.field.name)(t), self.order)


@dataclass(frozen=True)
class FirstOrderSystem:
    """``d/dt state = rhs`` for every state, per domain, plus the algebraic fields.

    Attributes
    ----------
    states : all states, grouped by field in declaration order.
    leading : field name -> its leading unknown (highest derivative in the system).
    matching : equation (named by its field) -> the field whose leading unknown it determines.
    solution : field name -> closed-form expression of its leading unknown, in terms of states,
        algebraic fields, neighbour sums, signals, parameters and ``t``.
    """

    states: tuple[State, ...]
    leading: Mapping[str, sp.Expr]
    matching: Mapping[str, str]
    solution: Mapping[str, sp.Expr]

    def rhs(self, state: State) -> sp.Expr:
        """The time derivative of one state."""
        top = len([s for s in self.states if s.field == state.field]) - 1
        if state.order < top:
            return State(state.field, state.order + 1).expr
        return self.solution[state.field.name]

    def _repr_latex_(self) -> str:
        """The states and their equations, for notebooks."""
        return "$$\\begin{gathered}" + " \\\\ ".join(latex_system(self)) + "\\end{gathered}$$"

    @property
    def algebraic(self) -> tuple[str, ...]:
        """Fields with no state: their leading unknown is the field itself."""
        stated = {s.field.name for s in self.states}
        return tuple(name for name in self.leading if name not in stated)


def field_orders(
    action: Action, equations: Mapping[str, sp.Expr], aggregates: tuple[Aggregate, ...]
) -> dict[str, int]:
    """Highest derivative of every field in the equations (aggregates read inside-out)."""
    fields = {f.name for f in action.fields}
    orders = dict.fromkeys(fields, 0)
    exprs = [*equations.values(), *(a.expr for a in aggregates)]
    for expr in exprs:
        for base, _end, order, _inside in occurrences(expr):
            if base in fields:
                orders[base] = max(orders[base], order)
    return orders


def _aggregate_contents(expr: sp.Expr, aggregates: Mapping[str, Aggregate]) -> set[tuple[str, int]]:
    """Field occurrences hidden inside the aggregates that ``expr`` uses (all non-local)."""
    found: set[tuple[str, int]] = set()
    for base, _end, _order, _inside in occurrences(expr):
        if base in aggregates:
            found |= {(b, o) for b, _e, o, _i in occurrences(aggregates[base].expr)}
    return found


def _leading_occurrences(
    action: Action,
    name: str,
    expr: sp.Expr,
    orders: Mapping[str, int],
    aggregates: Mapping[str, Aggregate],
) -> tuple[list[str], list[str]]:
    """Fields whose leading unknown occurs in the equation of ``name``: locally, and elsewhere.

    Elsewhere means at an arc end, inside a neighbour sum or an aggregate, or in another domain:
    such an occurrence makes the block span several nodes or arcs.
    """
    domain = action.field(name).domain
    fields = {f.name: f for f in action.fields}
    local, remote = set(), set()
    hidden = {(b, "src", o, True) for b, o in _aggregate_contents(expr, aggregates)}
    for base, end, order, inside in occurrences(expr) | hidden:
        if base not in fields or order != orders[base]:
            continue
        if end is None and not inside and fields[base].domain == domain:
            local.add(base)
        else:
            remote.add(f"{base}^({order})")
    return sorted(local), sorted(remote)


def _match(action: Action, incidence: Mapping[str, list[str]]) -> dict[str, str]:
    """A perfect bipartite matching of equations to leading unknowns, or a StructureError."""
    graph = nx.Graph()
    equations = [("eq", f.name) for f in action.fields]
    graph.add_nodes_from(equations, bipartite=0)
    graph.add_nodes_from((("unknown", f.name) for f in action.fields), bipartite=1)
    for name, unknowns in incidence.items():
        graph.add_edges_from((("eq", name), ("unknown", u)) for u in unknowns)
    matching = nx.bipartite.hopcroft_karp_matching(graph, top_nodes=equations)
    result = {eq[1]: matching[eq][1] for eq in equations if eq in matching}
    unmatched = [f.name for f in action.fields if f.name not in result]
    if unmatched:
        raise StructureError(
            f"the equations of {', '.join(map(repr, unmatched))} cannot be paired with leading "
            "unknowns of their own (structurally singular system); check that every field "
            "has a kinetic term or a constraint that determines it"
        )
    return result


def _vanishes(expr: sp.Expr, points: int = 3) -> bool:
    """Whether ``expr`` (a leading block's determinant) is identically zero.

    A nonzero value at a seeded point proves it is not: every field, derivative, neighbour sum
    and symbol is given a value in ``[0.3, 0.9]`` (inside the domains of the whitelisted
    functions). Only when all values are ~0 does ``simplify`` decide; it alone can take
    minutes on the determinant of a penalised velocity constraint.
    """
    rng = np.random.default_rng(0)
    atoms = set(expr.atoms(sp.Derivative)) | {
        a for a in sp.preorder_traversal(expr) if isinstance(a, AppliedUndef | NeighbourSum)
    }
    for _ in range(points):
        values = {a: sp.Float(rng.uniform(0.3, 0.9)) for a in atoms}
        number = expr.xreplace(values)
        number = number.xreplace({s: sp.Float(rng.uniform(0.3, 0.9)) for s in number.free_symbols})
        try:
            value = complex(number.evalf())
        except (TypeError, ValueError):
            break
        if np.isfinite(value) and abs(value) > 1e-9:
            return False
    return sp.simplify(expr) == 0


def _solve_domain(
    names: list[str],
    equations: Mapping[str, sp.Expr],
    leading: Mapping[str, sp.Expr],
    matching: Mapping[str, str],
) -> dict[str, sp.Expr]:
    """Solve the equations of one domain for its leading unknowns, block by block.

    Blocks are the connected components of the Jacobian's pattern, the equations being
    identified with the unknowns they are matched to.
    """
    unknowns = [leading[n] for n in names]
    zero = dict.fromkeys(unknowns, sp.S.Zero)
    pattern = nx.Graph()
    pattern.add_nodes_from(names)
    jac = dict.fromkeys(((eq, u) for eq in names for u in names), sp.S.Zero)
    owners = {leading[u]: u for u in names}
    for eq in names:
        # only the unknowns the equation holds (linear in fields, not their square)
        present = equations[eq].atoms(sp.Derivative, AppliedUndef)
        for u in sorted({owners[a] for a in present if a in owners}, key=names.index):
            entry = sp.expand(equations[eq].diff(leading[u]))
            if entry.has(*unknowns):
                hint = (
                    f" (field {u!r} never appears differentiated: give it a kinetic term)"
                    if leading[u] == sp.Function(u)(t)
                    else ""
                )
                raise StructureError(
                    f"the equation of field {eq!r} is nonlinear in {leading[u]}, the leading "
                    f"unknown of field {u!r}{hint}; only equations linear in their highest "
                    "derivatives are solved"
                )
            jac[eq, u] = entry
            if entry != 0:
                pattern.add_edge(matching[eq], u)
    owner = {matching[eq]: eq for eq in names}
    solution: dict[str, sp.Expr] = {}
    for block in sorted(sorted(c) for c in nx.connected_components(pattern)):
        rows = [owner[u] for u in block]
        matrix = sp.Matrix([[jac[e, u] for u in block] for e in rows])
        rest = sp.Matrix([equations[e].xreplace(zero) for e in rows])
        if _vanishes(matrix.det()):
            raise StructureError(
                f"the leading block of the equations of {rows} in the unknowns "
                f"{[str(leading[u]) for u in block]} is singular; " + POLICY_HINT
            )
        values = [-rest[0] / matrix[0, 0]] if len(block) == 1 else list(-matrix.LUsolve(rest))
        solution.update({u: sp.expand(v) for u, v in zip(block, values, strict=True)})
    return solution


def known_roles(action: Action, field: Field) -> dict[sp.Symbol, sp.Integer]:
    """Role indicators whose value is fixed wherever the node field ``field`` has an equation.

    A field restricted to the free nodes, or clamped on the inputs, has no equation on the
    inputs, so there ``is_free = 1`` and ``is_input = 0``; this keeps ``[i in N]`` factors out
    of the solved system (no division by an indicator).
    """
    if field.domain != "node":
        return {}
    clamp = action.clamp_of(field.name)
    values: dict[str, int] = {}
    if field.role in ("free", "hidden", "output") or (clamp is not None and clamp.role == "input"):
        values.update(is_input=0, is_free=1)
    if field.role == "input":
        values.update(is_input=1, is_free=0, is_hidden=0, is_output=0)
    if field.role == "output":
        values.update(is_output=1, is_hidden=0)
    if field.role == "hidden":
        values.update(is_hidden=1, is_output=0)
    return {sp.Symbol(name): sp.Integer(value) for name, value in values.items()}


def _role(role: str) -> sp.Expr:
    return sp.S.One if role == "all" else ROLE_INDICATORS[role]


def _mask_partial_fields(
    action: Action, equations: Mapping[str, sp.Expr], orders: Mapping[str, int]
) -> dict[str, sp.Expr]:
    """In the other fields' equations, the leading unknown of a node field that has no equation
    on some nodes (its role, its clamp) is zero where the field does not exist and the signal's
    derivative where it is clamped. Without this, a block coupling it with a field that exists
    there (``x'' + k y'' = ...`` with ``x`` clamped on the inputs) is solved on every node as if
    both equations held."""
    masked = dict(equations)
    for f in action.fields_on("node"):
        clamp, order = action.clamp_of(f.name), orders[f.name]
        on = _role(clamp.role) * _role(f.role) if clamp else sp.S.Zero
        live = _role(f.role) - on
        if order == 0 or live == 1:
            continue
        lead = derivative(sp.Function(f.name)(t), order)
        value = live * lead
        if clamp is not None:
            value += on * derivative(sp.Function(clamp.signal)(t), order)
        for name, expr in masked.items():
            if name != f.name and expr.has(lead):
                known = known_roles(action, action.field(name))
                masked[name] = sp.expand(expr.xreplace({lead: value}).xreplace(known))
    return masked


def explicit_system(
    action: Action, equations: Mapping[str, sp.Expr], aggregates: tuple[Aggregate, ...]
) -> FirstOrderSystem:
    """Match, check and solve the equations (one per field) for their leading unknowns.

    Raises
    ------
    StructureError
        For an equation with no leading unknown of its own (an algebraic constraint), a block
        spanning several nodes or arcs, a singular or nonlinear block.
    """
    equations = {
        name: expr.xreplace(known_roles(action, action.field(name)))
        for name, expr in equations.items()
    }
    orders = field_orders(action, equations, aggregates)
    equations = _mask_partial_fields(action, equations, orders)
    by_name = {a.name: a for a in aggregates}
    incidence, remote = {}, {}
    for name, expr in equations.items():
        incidence[name], remote[name] = _leading_occurrences(action, name, expr, orders, by_name)
        if not incidence[name]:
            kind = "constraint" if action.field(name).multiplier else "equation"
            raise StructureError(
                f"the {kind} of field {name!r} is algebraic: it contains no leading unknown of "
                f"its own ({expr} = 0); " + POLICY_HINT
            )
    for name, unknowns in remote.items():
        if unknowns:
            raise StructureError(
                f"the equation of field {name!r} contains the leading unknown(s) "
                f"{', '.join(unknowns)} of neighbouring nodes, arcs or another domain: its block "
                "spans several nodes or arcs, so it has no local explicit form. Reformulate the "
                "action, or for an algebraic constraint " + POLICY_HINT
            )
    matching = _match(action, incidence)
    leading = {f.name: derivative(sp.Function(f.name)(t), orders[f.name]) for f in action.fields}
    solution: dict[str, sp.Expr] = {}
    for domain in ("node", "edge", "global"):
        names = [f.name for f in action.fields_on(domain)]
        solved = _solve_domain(names, equations, leading, matching)
        for name, value in solved.items():  # where the field exists (as in its own equation)
            solution[name] = sp.expand(value.xreplace(known_roles(action, action.field(name))))
    states = tuple(State(f, order) for f in action.fields for order in range(orders[f.name]))
    return FirstOrderSystem(states, leading, matching, solution)
