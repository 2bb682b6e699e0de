"""Check 4 (theory 4.4), the unrolled reference: ``rhs`` against the derivation expanded on the
graph (:func:`stlp_sym.symbolic.expansion.expand`), lambdified and evaluated at random states."""

from __future__ import annotations

import numpy as np

from ..graph.digraph import Digraph
from ..symbolic.expansion import ExpandedEquations, expand
from .context import DEFAULT_GRAPH, POINTS, Context, context_on
from .identities import flow_jet
from .lagrangian import compile_expressions, field_registry
from .reference import LazyJet, Source
from .report import Check

#: The unrolled-reference check runs on graphs of at most this many arcs.
MAX_UNROLLED_ARCS = 60
_UNROLLED_TOLERANCE = 1e-9


def _jet_source(jet: LazyJet) -> Source:
    return lambda name, order: jet[name if order == 0 else f"{name}_d{order}"]


def _solution_gap(ctx: Context, expanded: ExpandedEquations) -> tuple[float, str]:
    """Generated leading derivatives against the expanded solution, relative to its size."""
    keys = list(expanded.solution)
    registry = field_registry(ctx.layout.action, expanded.graph)
    exprs = [expanded.solution[k] for k in keys]
    compiled = compile_expressions(exprs, registry, list(ctx.params))
    worst = scale = 0.0
    for point in range(POINTS):
        time, source = ctx.random_point(5, point)
        rates = ctx.rates(time, ctx.random_state(source))
        reference = np.array(compiled(time, ctx.params, source), dtype=float).reshape(-1)
        got = np.array([rates[ctx.chains[f][-1]][i] for f, i in keys], dtype=float)
        worst = max(worst, float(np.max(np.abs(got - reference), initial=0.0)))
        scale = max(scale, float(np.max(np.abs(reference), initial=0.0)))
    return worst / (scale or 1.0), f"{len(keys)} leading derivatives"


def _equation_residual(ctx: Context, expanded: ExpandedEquations) -> tuple[float, str]:
    """Residual of the expanded equations with the generated leading derivatives and solved
    multipliers, relative to their size with those set to zero (systems with no explicit form,
    e.g. the exact policy)."""
    keys = list(expanded.equations)
    registry = field_registry(ctx.layout.action, expanded.graph)
    exprs = [expanded.equations[k] for k in keys]
    compiled = compile_expressions(exprs, registry, list(ctx.params))
    worst = 0.0
    for point in range(POINTS):
        time, source = ctx.random_point(5, point)
        state = ctx.random_state(source)
        values = []
        for lead in (1.0, 0.0):
            jet = flow_jet(ctx, time, state, set(), lead=lead)
            values.append(np.array(compiled(time, ctx.params, _jet_source(jet)), dtype=float))
        scale = float(np.max(np.abs(np.concatenate(values)), initial=0.0)) or 1.0
        worst = max(worst, float(np.max(np.abs(values[0]), initial=0.0)) / scale)
    return worst, f"residuals of {len(keys)} equations"


def check_unrolled(ctx: Context) -> Check:
    """theory 4.4: ``rhs`` against the derivation expanded on the graph
    (:func:`stlp_sym.symbolic.expansion.expand`), lambdified and evaluated at random states.

    With an explicit system the leading derivatives are compared with the expanded solution;
    without one (the exact policy) the expanded equations must vanish at the generated leading
    derivatives and solved multipliers. Graphs of more than :data:`MAX_UNROLLED_ARCS` arcs are
    replaced by :data:`DEFAULT_GRAPH`.
    """
    note = ""
    if ctx.graph.n_arcs > MAX_UNROLLED_ARCS:
        note = f"graph has {ctx.graph.n_arcs} > {MAX_UNROLLED_ARCS} arcs: run on {DEFAULT_GRAPH}; "
        small = Digraph.from_spec(DEFAULT_GRAPH)
        ctx = context_on(
            small, ctx.action, ctx.options, ctx.derived, ctx.derivation, ctx.module, ctx.seed
        )
    expanded = expand(ctx.derivation, ctx.graph)
    # An exact-policy module solves its sparse system even where the stabilised equations
    # happen to have a local explicit form: its multipliers have no states to compare.
    if ctx.derivation.system is not None and "exact" not in ctx.derivation.transforms:
        error, what = _solution_gap(ctx, expanded)
    else:
        error, what = _equation_residual(ctx, expanded)
    note += f"{what} at {POINTS} random states"
    return Check("unrolled reference", error, None, error < _UNROLLED_TOLERANCE, note)
