"""Index-generic Euler-Lagrange equations of an action, derived once per domain.

For a node field ``q`` at node ``k`` (docs/theory.md section 2), the chain rule through the
aggregates gives one term per place where ``q_k`` occurs::

    dL/dq_k = dL_node/dq (at k)
            + sum_{e: src(e)=k} [ dL_node/dA (at home e) dg/dq_src (e) + dL_edge/dq_src (e) ]
            + sum_{e: dst(e)=k} [ dL_node/dA (at home e) dg/dq_dst (e) + dL_edge/dq_dst (e) ]

and the same for every time derivative ``q^(m)``. With ``P0 = dL/dq`` and
``P1 = sum_{m>=1} (-d/dt)^m dL/dq^(m) = -d/dt p`` (``p`` the Ostrogradsky momentum), the
Euler-Lagrange equation is ``P0 + P1 = 0``. The graph never enters: :func:`derive` costs the same
on any digraph, and :func:`stlp_sym.symbolic.expansion.expand` writes the equations of a
concrete graph.

Examples
--------
>>> import sympy as sp
>>> from stlp_sym.symbolic.vocabulary import Field, fn, t
>>> from stlp_sym.symbolic.action import Action
>>> q = fn("q")
>>> pendulum = Action(fields=[Field("q")], node=q.diff(t) ** 2 / 2 + sp.cos(q))
>>> d = derive(pendulum)
>>> d.equation("q")
-sin(q(t)) - Derivative(q(t), (t, 2))
>>> [s.name for s in d.system.states]
['q', 'q_d1']
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import ActionError, StructureError
from .action import Action
from .frames import EdgeSum, InSum, NodeSum, OutSum, derivative, occurrences, to_end
from .printing import latex_equations, latex_field_equation
from .size import check_size
from .system import FirstOrderSystem, explicit_system
from .vocabulary import Aggregate, Field, split_end, t


@dataclass(frozen=True)
class FieldEquation:
    """The Euler-Lagrange equation ``sign * P0 + P1 = 0`` of one field, in its domain's frame.

    ``momentum`` is ``p`` with ``P1 = -dp/dt`` (zero for a field without velocities).
    ``sign`` is ``+1`` as derived; the Hamiltonian sign flip sets it to ``-1``.
    """

    field: Field
    P0: sp.Expr
    P1: sp.Expr
    momentum: sp.Expr
    sign: int = 1

    @property
    def lhs(self) -> sp.Expr:
        """``sign * P0 + P1`` (the equation is ``lhs = 0``)."""
        return self.sign * self.P0 + self.P1

    @property
    def is_constraint(self) -> bool:
        """True for a multiplier's equation, which is the constraint it enforces."""
        return self.field.multiplier

    def _repr_latex_(self) -> str:
        """The equation in its domain's frame, for notebooks."""
        return f"$${latex_field_equation(self)}$$"


@dataclass(frozen=True)
class Derivation:
    """Everything :func:`derive` produces for one action.

    Attributes
    ----------
    action : the action (after any action-level transform such as a penalty).
    equations : one :class:`FieldEquation` per field, in declaration order.
    aggregates : the action's aggregates plus the time derivatives of aggregates that the
        momenta introduce (``a_d1 = sum d/dt g``), which the generated code computes by scatter.
    transforms : the names of the transforms applied so far, in order.

    The explicit first-order system (:attr:`system`, or :attr:`problem` saying why there is
    none) is solved on first use, so a chain of transforms solves only its last derivation.
    """

    action: Action
    equations: tuple[FieldEquation, ...]
    aggregates: tuple[Aggregate, ...]
    transforms: tuple[str, ...] = ()

    @cached_property
    def _structure(self) -> tuple[FirstOrderSystem | None, StructureError | None]:
        return solve_structure(self.action, self.equations, self.aggregates)

    @property
    def system(self) -> FirstOrderSystem | None:
        """The explicit first-order system, or ``None`` when :attr:`problem` says why not."""
        return self._structure[0]

    @property
    def problem(self) -> StructureError | None:
        """The :class:`StructureError` that keeps the equations from being solved, if any."""
        return self._structure[1]

    def equation(self, name: str) -> sp.Expr:
        """``sign * P0 + P1`` of the field called ``name``."""
        return self.field_equation(name).lhs

    def field_equation(self, name: str) -> FieldEquation:
        """The :class:`FieldEquation` of the field called ``name``."""
        for eq in self.equations:
            if eq.field.name == name:
                return eq
        known = ", ".join(eq.field.name for eq in self.equations)
        raise ActionError(f"no field {name!r} in action {self.action.name!r}; its fields: {known}")

    def require_system(self) -> FirstOrderSystem:
        """The explicit first-order system; raises the recorded :class:`StructureError`."""
        if self.system is None:
            assert self.problem is not None
            raise self.problem
        return self.system

    def _repr_latex_(self) -> str:
        """The equations and first-order system, for notebooks."""
        lines = [line for line in latex_equations(self) if line]
        return "$$\\begin{gathered}" + " \\\\ ".join(lines) + "\\end{gathered}$$"

    def with_equations(self, equations: tuple[FieldEquation, ...], transform: str) -> Derivation:
        """A derivation with new equations (used by transforms); its system is solved anew."""
        equations = constant_parameters(equations, self.action)
        return replace(self, equations=equations, transforms=(*self.transforms, transform))


def node_quantities(action: Action) -> set[str]:
    """Names that have one value per node: node fields, signals, aggregates, parameters on
    nodes."""
    names = {f.name for f in action.fields_on("node")}
    names |= {s.name for s in action.signals} | {a.name for a in action.aggregates}
    names |= {name for name, on in action.parameter_domains.items() if on == "node"}
    return names


def without_rates(expr: sp.Expr, names: set[str]) -> sp.Expr:
    """``expr`` with the time derivatives of the quantities ``names`` (at any arc end) zero."""
    zero = {
        d: sp.S.Zero
        for d in expr.atoms(sp.Derivative)
        if isinstance(d.expr, AppliedUndef) and split_end(d.expr.func.__name__)[0] in names
    }
    return sp.expand(expr.xreplace(zero)) if zero else expr


def constant_parameters(equations: tuple[FieldEquation, ...], action: Action) -> tuple:
    """The equations with every time derivative of a parameter on nodes or arcs set to zero.

    Such a parameter is a function of time (``tau(t)``, so that it has a place, like a signal)
    that never changes; differentiation is linear, so zeroing its derivatives at the end is
    the same as never producing them."""
    names = set(action.parameter_domains)
    if not names:
        return equations

    def constant(expr: sp.Expr) -> sp.Expr:
        return without_rates(expr, names)

    return tuple(
        replace(eq, P0=constant(eq.P0), P1=constant(eq.P1), momentum=constant(eq.momentum))
        for eq in equations
    )


def max_order(action: Action, name: str) -> int:
    """Highest time derivative of the field ``name`` in the Lagrangian and aggregates."""
    exprs = [*action.lagrangian_terms.values(), *(a.expr for a in action.aggregates)]
    orders = [o for expr in exprs for (base, _, o, _) in occurrences(expr) if base == name]
    return max(orders, default=0)


class _Index:
    """What every field's equation looks up, computed once per derivation so that deriving
    costs time linear in fields + aggregates (not their product): the node quantities, the
    aggregates using each function or derivative atom, ``dL_node/dA`` per aggregate and the
    highest derivative order of each field."""

    def __init__(self, action: Action) -> None:
        self.action = action
        self.names = node_quantities(action)
        self.aggregates = {a.name: a for a in action.aggregates}
        self.users: dict[sp.Basic, list[Aggregate]] = {}
        for agg in action.aggregates:
            for atom in agg.expr.atoms(AppliedUndef, sp.Derivative):
                self.users.setdefault(atom, []).append(agg)
        self.slopes: dict[str, sp.Expr] = {}
        self.orders: dict[str, int] = {}
        exprs = [*action.lagrangian_terms.values(), *(a.expr for a in action.aggregates)]
        for expr in exprs:
            for base, _, order, _ in occurrences(expr):
                self.orders[base] = max(self.orders.get(base, 0), order)

    def slope(self, agg: Aggregate) -> sp.Expr:
        """``dL_node/dA`` of an aggregate, at its home end."""
        if agg.name not in self.slopes:
            dlda = real_diff(self.action.node, sp.Function(agg.name)(t))
            self.slopes[agg.name] = to_end(dlda, agg.home, self.names)
        return self.slopes[agg.name]


def _through_aggregates(action: Action, wrt: sp.Expr, index: _Index | None = None) -> sp.Expr:
    """``sum_A dL_node/dA (at home e) * dg_A/d(wrt)``: an edge-frame expression."""
    index = index or _Index(action)
    total = sp.S.Zero
    for agg in index.users.get(wrt, ()):
        dg = real_diff(agg.expr, wrt)
        if dg != 0:
            total += index.slope(agg) * dg
    return total


def real_derivatives(expr: sp.Expr) -> sp.Expr:
    """What is left of differentiating ``abs`` and ``sign``, for real arguments, almost
    everywhere (a convention): ``DiracDelta`` and every derivative of ``sign`` are 0 (the delta at
    ``u = 0`` is dropped, as NumPy code would see it), ``re(u) = u`` and ``im(u) = 0``.
    Unevaluated, ``Derivative(sign(u), u)`` would be read by lowering as a field ``sign``."""
    if not expr.has(sp.sign, sp.re, sp.im, sp.DiracDelta):
        return expr
    expr = expr.replace(
        lambda e: isinstance(e, sp.Derivative) and isinstance(e.expr, sp.sign),
        lambda e: sp.S.Zero,
    )
    expr = expr.replace(sp.DiracDelta, lambda *args: sp.S.Zero)
    expr = expr.replace(sp.re, lambda u: u).replace(sp.im, lambda u: sp.S.Zero)
    # ``Derivative(re(u), u)`` became ``Derivative(u, u)``, ``Derivative(im(u), t)`` became
    # ``Derivative(0, t)``: evaluate every derivative that is not d/dt of a field.
    return expr.replace(
        lambda e: (
            isinstance(e, sp.Derivative)
            and (not isinstance(e.expr, AppliedUndef) or any(v != t for v in e.variables))
        ),
        lambda e: e.doit(deep=False),
    )


def real_diff(expr: sp.Expr, *wrt: sp.Expr) -> sp.Expr:
    """``expr.diff(*wrt)`` for real quantities: ``|u|`` is differentiated as ``u sign(u)``
    (``d|u| = sign(u) du``, see :func:`real_derivatives`), never through ``re(u)``, ``im(u)``
    (which SymPy uses since it does not know that fields are real)."""
    if expr.has(sp.Abs):
        expr = expr.replace(sp.Abs, lambda u: u * sp.sign(u))
    return real_derivatives(expr.diff(*wrt))


def _node_partial(action: Action, name: str, order: int, index: _Index) -> sp.Expr:
    """``dL/dq^(m)`` for a node field ``q`` at node ``k``, in the node frame."""
    local = derivative(sp.Function(name)(t), order)
    total = real_diff(action.node, local)
    for end, arc_sum in (("src", OutSum), ("dst", InSum)):
        at_end = derivative(sp.Function(f"{name}__{end}")(t), order)
        summand = real_diff(action.edge, at_end) + _through_aggregates(action, at_end, index)
        total += arc_sum(sp.expand(summand))
    return total


def _edge_partial(action: Action, name: str, order: int, index: _Index) -> sp.Expr:
    """``dL/dw^(m)`` for an edge field ``w`` at arc ``e``, in the edge frame."""
    local = derivative(sp.Function(name)(t), order)
    return real_diff(action.edge, local) + _through_aggregates(action, local, index)


def _global_partial(action: Action, name: str, order: int, index: _Index) -> sp.Expr:
    """``dL/dG^(m)`` for a global field ``G``: its own term plus sums over nodes and arcs."""
    local = derivative(sp.Function(name)(t), order)
    on_arcs = real_diff(action.edge, local) + _through_aggregates(action, local, index)
    on_nodes = NodeSum(real_diff(action.node, local))
    return real_diff(action.global_, local) + on_nodes + EdgeSum(on_arcs)


_PARTIALS = {"node": _node_partial, "edge": _edge_partial, "global": _global_partial}


def _name_aggregate_derivatives(
    expr: sp.Expr, action: Action, found: dict[str, Aggregate], index: _Index | None = None
) -> sp.Expr:
    """Replace ``d^m/dt^m a`` by the derived aggregate ``a_dm`` (recorded in ``found``)."""
    aggregates = (index or _Index(action)).aggregates
    replacements: dict[sp.Basic, sp.Basic] = {}
    for d in expr.atoms(sp.Derivative):
        if not isinstance(d.expr, AppliedUndef):
            continue
        base, end = split_end(d.expr.func.__name__)
        if base not in aggregates:
            continue
        order = int(d.derivative_count)
        name = f"{base}_d{order}"
        source = aggregates[base]
        derived = source.expr
        for _ in range(order):  # one order at a time, each made real (see real_derivatives)
            derived = real_diff(derived, t)
        derived = without_rates(derived, set(action.parameter_domains))
        found[name] = Aggregate(name, derived, source.direction, base)
        replacements[d] = sp.Function(name if end is None else f"{name}__{end}")(t)
    return expr.xreplace(replacements)


def field_equation(
    action: Action, field: Field, found: dict[str, Aggregate], index: _Index | None = None
) -> FieldEquation:
    """``P0``, ``P1`` and the momentum of one field (docs/theory.md section 2)."""
    index = index or _Index(action)

    def partial(action: Action, name: str, order: int) -> sp.Expr:
        return real_derivatives(_PARTIALS[field.domain](action, name, order, index))

    momentum = sp.S.Zero
    for order in range(index.orders.get(field.name, 0), 0, -1):
        # Horner form of p = sum_{m>=1} (-d/dt)^(m-1) dL/dq^(m).
        momentum = partial(action, field.name, order) - real_diff(momentum, t)
    p0 = partial(action, field.name, 0)
    p1 = -real_diff(momentum, t)
    name = _name_aggregate_derivatives
    return FieldEquation(
        field=field,
        P0=name(p0, action, found, index),
        P1=name(p1, action, found, index),
        momentum=name(momentum, action, found, index),
    )


def solve_structure(
    action: Action, equations: tuple[FieldEquation, ...], aggregates: tuple[Aggregate, ...]
) -> tuple[FirstOrderSystem | None, StructureError | None]:
    """The explicit first-order system, or the :class:`StructureError` explaining its absence."""
    try:
        return explicit_system(
            action, {eq.field.name: eq.lhs for eq in equations}, aggregates
        ), None
    except StructureError as problem:
        return None, problem


def derive(action: Action) -> Derivation:
    """Derive the index-generic Euler-Lagrange equations and, when possible, solve them.

    Parameters
    ----------
    action : the action; its graph-independent terms are all that is used.

    Returns
    -------
    Derivation
        Per field ``P0``, ``P1`` and momentum; the explicit first-order system, or the reason it
        does not exist (``derivation.problem``; ``derivation.require_system()`` raises it).
    """
    found: dict[str, Aggregate] = {}
    index = _Index(action)
    equations = tuple(field_equation(action, f, found, index) for f in action.fields)
    equations = constant_parameters(equations, action)
    for eq in equations:
        check_size(eq.P0 + eq.P1, f"the equation of field {eq.field.name!r}")
    aggregates = (*action.aggregates, *(found[name] for name in sorted(found)))
    return Derivation(action, equations, aggregates)
