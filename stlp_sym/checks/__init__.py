"""Checks: a generated module against finite differences and the unrolled derivation.

In: an action, options, a graph (and optionally a module to check instead of the built one).
Out: a :class:`Report` of named checks, each with its measured error and tolerance.

The checks are those of ``docs/theory.md`` section 4; "theory 4.N" in the modules below
refers to its subsections.

:func:`verify` runs four groups of checks on one graph and returns a :class:`Report`:

1. **discrete action** -- ``S_h = sum_k h L(t_k, q_k, D q_k, ...)`` over the interior of the grid
   ``t_k = k h``, with central differences ``D``; for a direction ``v`` that vanishes near both
   ends and on clamped entries, ``dS_h/de (q + e v)`` must approach ``sum_k h EL(t_k) . v_k``
   (``EL = P0 + P1`` from the module's ``el_parts``) as ``O(h^2)``.
2. **rhs identities** at seeded random states: (i) ``P0 = dL/dq`` against central differences
   of ``L``; (ii) ``s P0 + P1 = 0`` with the leading derivatives from the module's ``rhs``;
   (iii) the normalised and the raw module agree under ``lambda = phi lambda_hat``.
3. **integrator order** -- ``p = log2(|y_h - y_{h/2}| / |y_{h/2} - y_{h/4}|)`` of ``step``.
4. **unrolled reference** -- ``rhs`` against the derivation written out on the graph
   (:func:`stlp_sym.symbolic.expansion.expand`), evaluated at random points.

A module of the exact policy (multipliers from a sparse solve per step, no explicit system) is
checked with the runner's solver: its multipliers join the jets, and the unrolled reference checks
that the expanded equations vanish instead of comparing with an explicit solution.

``L`` is evaluated independently of the derivation and of the generated code: the action's node,
edge and global terms are written out node by node and arc by arc (:func:`unrolled_lagrangian`)
and lambdified once. The action checked is the module's own, i.e. after the options' transforms
(for a normalised module it is written in ``lambda_hat``), so ``lagrangian``, ``el_parts`` and
the independent ``L`` all refer to the same functional.

This package holds the entry points (:func:`verify`, :func:`verify_model`); one module per check
family -- ``discrete`` (1), ``identities`` (2(i), 2(ii)), ``normalised`` (2(iii)), ``integrator``
(3), ``unrolled`` (4) -- on the shared ``context``, the references ``reference`` (differences,
test functions, jets), ``layout`` and ``lagrangian`` (the independent ``L``), and ``report``. The
names the checks are built from are re-exported here.

>>> Digraph.from_spec(DEFAULT_GRAPH).n_arcs
12
>>> central_weights(2).tolist()
[1.0, -2.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from types import ModuleType
from typing import TYPE_CHECKING

from ..errors import StlpError
from ..graph.digraph import Digraph
from ..symbolic.action import Action
from ..symbolic.transforms import Options
from .context import DEFAULT_GRAPH, build_context
from .context import Context as Context
from .context import Solved as Solved
from .discrete import check_discrete_action
from .identities import check_p0, check_rhs_identity
from .identities import flow_derivative as flow_derivative
from .integrator import NOMINAL_ORDER as NOMINAL_ORDER
from .integrator import check_integrator
from .integrator import stiffness as stiffness
from .lagrangian import Compiled as Compiled
from .lagrangian import compile_expressions as compile_expressions
from .lagrangian import discrete_action, unrolled_lagrangian
from .layout import Layout as Layout
from .normalised import check_normalised
from .reference import LazyJet as LazyJet
from .reference import Sinusoids as Sinusoids
from .reference import Source as Source
from .reference import central_weights
from .reference import split_jet_key as split_jet_key
from .report import Check, Report
from .unrolled import MAX_UNROLLED_ARCS as MAX_UNROLLED_ARCS
from .unrolled import check_unrolled

if TYPE_CHECKING:
    from ..codegen.driver import Stages
    from ..symbolic.models import Model


def is_one_node(action: Action) -> bool:
    """True for actions with no edge fields and no aggregates (one-node mechanics models)."""
    return not action.fields_on("edge") and not action.aggregates


#: The checks run on graphs of at most this many arcs (about a minute at 1,000 arcs, a complete
#: graph of 32 nodes; they unroll the action symbolically over the whole graph).
MAX_VERIFY_ARCS = 1000


def _graph_text(graph: Digraph) -> str:
    name = graph.name or "graph"
    return f"{name} ({graph.n} nodes, {graph.n_arcs} arcs)"


def verify(
    action: Action,
    options: Options,
    graph: Digraph,
    *,
    module: ModuleType | None = None,
    seed: int = 0,
    stages: Stages | None = None,
    params: Mapping | None = None,
) -> Report:
    """Run the checks of docs/theory.md section 4 on the module of ``action`` under ``options``.

    Parameters
    ----------
    action : the action (before the options' transforms).
    options : the options the module is built with.
    graph : the graph the checks run on.
    module : a generated module to check instead of ``build(action, options)`` (e.g. an edited
        one); it must have been generated from ``action`` and ``options``.
    seed : seeds every random trajectory, state, direction and parameter value.
    stages : :func:`stlp_sym.compile` of ``action`` and ``options``, when the caller has it
        (nothing is derived again).
    params : parameter values to check at instead of seeded ones (arrays, in the graph's node
        and stored arc order, for parameters on nodes or arcs).
    """
    if graph.n_arcs > MAX_VERIFY_ARCS:
        raise StlpError(
            f"verify: graph {_graph_text(graph)} has more than {MAX_VERIFY_ARCS} arcs; the "
            "checks unroll the action symbolically over the whole graph (their time grows "
            "faster than the arcs): verify on a smaller graph"
        )
    ctx = build_context(action, options, graph, module, seed, stages, params)
    checks = (
        check_discrete_action(ctx),
        check_p0(ctx),
        check_rhs_identity(ctx),
        check_normalised(ctx),
        check_integrator(ctx),
        check_unrolled(ctx),
    )
    notes = (
        f"parameters: defaults scaled by seeded factors in [0.8, 1.25] (seed {seed}), one "
        "per node or arc for parameters on nodes or arcs"
        + (f"; given values of {sorted(params)}" if params else ""),
    )
    return Report(action.name, _graph_text(graph), options, checks, notes)


def verify_model(
    model: Model,
    options: Options,
    graph_spec: str = DEFAULT_GRAPH,
    *,
    module: ModuleType | None = None,
    stages: Stages | None = None,
    params: Callable[[Action, Digraph], Mapping] | None = None,
) -> Report:
    """:func:`verify` for a :class:`~stlp_sym.symbolic.models.Model` on a graph spec.

    A one-node mechanics model (:func:`is_one_node`) given :data:`DEFAULT_GRAPH` runs on a
    one-node graph instead, and the report says so. ``stages`` (the model's action compiled
    under ``options``) and its ``module`` spare building and deriving again. ``params(action,
    graph)`` gives parameter values to check at (e.g. read from a file).
    """
    action = stages.action if stages is not None else model.build()
    graph = Digraph.from_spec(graph_spec)
    replaced = graph_spec == DEFAULT_GRAPH and is_one_node(action)
    if replaced:
        graph = Digraph.from_arcs(1, [], name="one-node")
    given = params(action, graph) if params is not None else None
    report = verify(action, options, graph, module=module, stages=stages, params=given)
    if replaced:
        note = f"one-node mechanics model: default graph {DEFAULT_GRAPH} replaced by one node"
        report = replace(report, notes=(note, *report.notes))
    return replace(report, model=model.name)


__all__ = [
    "DEFAULT_GRAPH",
    "Check",
    "Report",
    "central_weights",
    "discrete_action",
    "unrolled_lagrangian",
    "verify",
    "verify_model",
]
