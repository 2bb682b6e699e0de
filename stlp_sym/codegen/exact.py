"""The ``exact`` multiplier policy: the leading derivatives and multipliers as one sparse system.

After :func:`~stlp_sym.symbolic.transforms.exact`, each constraint reads
``Gddot + 2 a Gdot + b^2 G = 0``
and reaches the parents' accelerations through the second derivative of the net input, so no
local explicit form exists. The equations are linear in the unknowns (each non-multiplier field's
highest derivative and each multiplier), so per step they form ``A u = b``. A row of ``A`` holds
the equation of one node or arc; its entries are the coefficients of the unknowns at that node
or arc (``local``), at the far end of an arc (``in`` / ``out`` sums of node equations, ``arc``
for edge equations). The generated module computes the coefficient arrays and returns ``A`` as
COO triplets; the runner solves the system with :mod:`scipy.sparse`. The solve is not local:
``A`` couples a neuron with its parents, children and co-parents.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import StructureError
from ..symbolic.action import Action
from ..symbolic.derivation import Derivation, node_quantities
from ..symbolic.frames import InSum, NeighbourSum, OutSum, derivative, to_end
from ..symbolic.system import field_orders
from ..symbolic.vocabulary import Aggregate, split_end, t
from .kernel import Kernel
from .lowering import build_kernel


@dataclass(frozen=True)
class Entry:
    """A family of entries of ``A``: the rows of one equation, the columns of one unknown.

    ``kind`` is ``"local"`` (same node or arc), ``"in"`` / ``"out"`` (node equation, one entry
    per arc entering / leaving the row's node; the unknown sits at the arc's ``end``, or on the
    arc itself when ``end`` is None) or ``"arc"`` (edge equation, node unknown at ``end``).
    ``output`` names the kernel output holding the values.
    """

    equation: str
    unknown: str
    kind: str
    end: str | None
    output: str


@dataclass(frozen=True)
class ExactSystem:
    """The sparse system's blocks, its entries, and the kernel that computes their values."""

    unknowns: tuple[tuple[str, str, int], ...]
    entries: tuple[Entry, ...]
    kernel: Kernel


def _unknown_atoms(action: Action, orders: dict[str, int]) -> dict[sp.Expr, tuple[str, str | None]]:
    """Every frame symbol of an unknown: ``x''``, ``x__src''``, ``lambda_hat__dst``, ``w''``."""
    atoms = {}
    for f in action.fields:
        ends = (None, "src", "dst") if f.domain == "node" else (None,)
        for end in ends:
            name = f.name if end is None else f"{f.name}__{end}"
            atoms[derivative(sp.Function(name)(t), orders[f.name])] = (f.name, end)
    return atoms


def _split_sums(expr: sp.Expr, unknowns: dict) -> tuple[sp.Expr, dict[sp.Symbol, NeighbourSum]]:
    """Replace each neighbour sum that contains unknowns by a placeholder symbol."""
    placeholders = {}
    for index, s in enumerate(sorted(expr.atoms(NeighbourSum), key=sp.default_sort_key)):
        if s.args[0].has(*unknowns):
            if not isinstance(s, InSum | OutSum):
                raise StructureError("the exact policy does not support global fields")
            placeholders[sp.Dummy(f"S{index}")] = s
    return expr.xreplace({s: p for p, s in placeholders.items()}), placeholders


def _expand_aggregates(expr: sp.Expr, aggregates: dict[str, Aggregate], unknowns: dict) -> sp.Expr:
    """Aggregates whose definition holds unknowns (``a_d1 = sum d/dt (w wdot)`` holds
    ``wddot``) as the arc sums they stand for, so that their coefficients enter ``A``."""
    replacements = {}
    for atom in expr.atoms(AppliedUndef):
        base, end = split_end(atom.func.__name__)
        agg = aggregates.get(base)
        if agg is None or not agg.expr.has(*unknowns):
            continue
        if end is not None:
            raise StructureError(
                f"aggregate {base!r} holds unknowns of the exact policy and is read at an arc "
                "end; the exact policy needs it at its own node"
            )
        replacements[atom] = (InSum if agg.direction == "in" else OutSum)(agg.expr)
    return expr.xreplace(replacements)


def _check_linear(coefficient: sp.Expr, unknowns: dict, placeholders: dict, where: str) -> None:
    if coefficient.has(*unknowns, *placeholders):
        raise StructureError(f"{where} is not linear in the unknowns; the exact policy needs it")


def _equation_entries(action: Action, name: str, expr: sp.Expr, unknowns: dict, targets: dict):
    """The entries of one equation's rows, adding their coefficient expressions to targets."""
    domain = action.field(name).domain
    where = f"the equation of {name!r}"
    flat, placeholders = _split_sums(expr, unknowns)
    entries = []

    def add(unknown: str, kind: str, end: str | None, frame: str, value: sp.Expr) -> None:
        if value != 0:
            output = f"A_{name}_{unknown}_{kind}" + (f"_{end}" if end else "")
            targets[output] = (frame, value)
            entries.append(Entry(name, unknown, kind, end, output))

    for atom, (field, end) in unknowns.items():
        coefficient = sp.expand(flat.diff(atom))
        _check_linear(coefficient, unknowns, placeholders, where)
        kind = "local" if end is None else "arc"
        if kind == "local" and action.field(field).domain != domain:
            if coefficient != 0:
                raise StructureError(f"{where} reads {field!r} of another domain")
            continue
        add(field, kind, end, domain, coefficient)
    names = node_quantities(action)
    for placeholder, arc_sum in placeholders.items():
        factor = flat.diff(placeholder)
        _check_linear(factor, unknowns, placeholders, where)
        home = "dst" if isinstance(arc_sum, InSum) else "src"
        kind = "in" if home == "dst" else "out"
        for atom, (field, end) in unknowns.items():
            slope = sp.expand(arc_sum.args[0].diff(atom))
            _check_linear(slope, unknowns, placeholders, where)
            add(field, kind, end, "edge", to_end(factor, home, names) * slope)
    rest = expr.xreplace(dict.fromkeys(unknowns, sp.S.Zero))
    targets[f"b_{name}"] = (domain, -rest)
    return entries


def lower_exact(derivation: Derivation, cse: bool = True) -> ExactSystem:
    """The sparse system of a derivation transformed by the exact policy."""
    action = derivation.action
    if action.fields_on("global"):
        names = [f.name for f in action.fields_on("global")]
        raise StructureError(
            f"the exact policy does not support global fields ({', '.join(names)}): its sparse "
            "system is assembled per node and arc; use policy none, penalty or ascent"
        )
    equations = {eq.field.name: eq.lhs for eq in derivation.equations}
    orders = field_orders(action, equations, ())
    unknowns = _unknown_atoms(action, orders)
    targets: dict[str, tuple[str, sp.Expr]] = {}
    entries = []
    aggregates = {a.name: a for a in derivation.aggregates}
    for name, expr in equations.items():
        expr = _expand_aggregates(expr, aggregates, unknowns)
        entries += _equation_entries(action, name, expr, unknowns, targets)
    for name in equations:
        if not any(e.equation == name for e in entries):
            raise StructureError(f"the equation of {name!r} contains no unknown")
    kernel = build_kernel(action, derivation.aggregates, targets, cse)
    blocks = tuple((f.name, f.domain, orders[f.name]) for f in action.fields)
    return ExactSystem(blocks, tuple(entries), kernel)
