"""Lowering: frame expressions -> a typed step IR of gathers, scatters and assignments.

Every assignment has a domain: ``scalar`` (parameters and ``t`` only), ``global`` (one value,
per batch member: a global field and what is computed from it), ``node`` (one value per node) or
``edge`` (one value per arc). A gather (``x[src]``, ``x[dst]``) is the only move from node to
edge, a scatter (sum over incoming arcs into ``dst``, over outgoing arcs into ``src``) the only
move from edge to node; a reduction (sum over every node or every arc) the only move into a
global, which every node and arc then reads as it reads a parameter. Subexpressions of an edge
expression that depend on one end only (``c/r * lambda_hat_i * sigma'(a_i)``) are computed on the
nodes and gathered once (*hoisting*), and CSE runs per domain. Because the moves are explicit,
the locality of each output is the number of gathers and scatters on its longest path
(:attr:`Kernel.hops`); an output that reads a global quantity is not local, and
:attr:`Kernel.reach` names what it reads.

The kernel records are in :mod:`stlp_sym.codegen.kernel`, their passes in
:mod:`stlp_sym.codegen.cse` and :mod:`stlp_sym.codegen.schedule`, the lowering of expressions
with hoisting in :mod:`stlp_sym.codegen.lowering`; this module re-exports their public names and
assembles the step IR (:func:`lower`).

>>> from stlp_sym.symbolic.models import MODELS
>>> from stlp_sym.symbolic.transforms import apply_options
>>> step = lower(apply_options(MODELS["stlp"].build(), MODELS["stlp"].options))
>>> step.rhs.hops["lambda_hat"], step.rhs.hops["x"], step.rhs.hops["w_d1"]
(4, 2, 3)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import sympy as sp

from ..errors import StructureError
from ..symbolic.action import Action
from ..symbolic.derivation import Derivation, derive
from ..symbolic.vocabulary import Clamp, Field, Parameter, Signal, t
from .exact import lower_exact
from .kernel import SCALE, Domain, Kernel, Op, identifier, jet_name
from .lowering import build_kernel
from .rates import fold_scale, split_decay

__all__ = [
    "SCALE",
    "Domain",
    "Kernel",
    "Op",
    "StateInfo",
    "StepIR",
    "build_kernel",
    "derive_raw",
    "identifier",
    "jet_name",
    "lower",
    "split_decay",
]


@dataclass(frozen=True)
class StateInfo:
    """A state of the generated module: its name, field, derivative order, domain and role."""

    name: str
    field: str
    order: int
    top: int
    domain: Literal["node", "edge", "global"]
    role: str
    clamp_signal: str | None = None
    clamp_role: str | None = None


@dataclass(frozen=True)
class StepIR:
    """Everything render needs: states, parameters, signals and the kernels."""

    name: str
    states: tuple[StateInfo, ...]
    parameters: tuple[Parameter, ...]
    signals: tuple[Signal, ...]
    rhs: Kernel
    #: top state -> ``k`` (parameters only) with ``rate = rhs kernel output - k * state``.
    decays: Mapping[str, sp.Expr]
    energy: Kernel | None
    el: Kernel | None
    #: the sparse system of the exact policy (then ``rhs`` computes its coefficients).
    exact: object | None = None
    fields: tuple[Field, ...] = ()
    clamps: tuple[Clamp, ...] = ()
    #: ``{"output": field, "target": signal}`` (either None): what a run records and scores.
    observed: Mapping[str, str | None] = field(
        default_factory=lambda: {"output": None, "target": None}
    )

    @property
    def global_fields(self) -> tuple[str, ...]:
        """The global fields (their values carry no node or arc axis)."""
        return tuple(f.name for f in self.fields if f.domain == "global")


def state_chains(orders: Mapping[str, int], action: Action) -> dict[str, list[str]]:
    """Field -> its chain of state names (``["w", "w_d1"]``); fields of order 0 have none."""
    return {
        f.name: [jet_name(f.name, k) for k in range(orders[f.name])]
        for f in action.fields
        if orders[f.name] > 0
    }


def _state_infos(action: Action, chains: Mapping[str, list[str]]) -> tuple[StateInfo, ...]:
    infos = []
    for name, chain in chains.items():
        f = action.field(name)
        clamp = action.clamp_of(name)
        for order, state in enumerate(chain):
            infos.append(
                StateInfo(
                    name=state,
                    field=name,
                    order=order,
                    top=len(chain),
                    domain=f.domain,
                    role=f.role,
                    clamp_signal=clamp.signal if clamp and order == 0 else None,
                    clamp_role=clamp.role if clamp and order == 0 else None,
                )
            )
    return tuple(infos)


def _scaled(expr: sp.Expr, factor: sp.Expr) -> sp.Expr:
    """``expr / factor``, with exponentials combined so that the factor cancels symbolically."""
    return sp.expand(sp.powsimp(sp.expand(expr / factor)))


def _energy_targets(derivation: Derivation, raw: Derivation) -> dict[str, tuple[str, sp.Expr]]:
    """``L/phi`` and ``H/phi = (sum p qdot - L)/phi`` per node and per arc, and of the global
    term when the action has one (momenta ``p`` from ``raw``, the unflipped derivation of the
    same action)."""
    action = derivation.action
    targets = {}
    terms = [("node", action.node), ("edge", action.edge)]
    if action.fields_on("global") or action.global_ != 0:
        terms.append(("global", action.global_))
    for domain, term in terms:
        kinetic = sp.S.Zero
        for eq in raw.equations:
            if eq.field.domain == domain:
                kinetic += eq.momentum * eq.field.symbol.diff(t)
        targets[f"L_{domain}"] = (domain, _scaled(term, action.factor))
        targets[f"H_{domain}"] = (domain, _scaled(kinetic - term, action.factor))
    return targets


def derive_raw(derivation: Derivation) -> Derivation:
    """The untransformed derivation of the (possibly transformed) action of ``derivation``."""
    return derive(derivation.action)


def _explicit_rhs(derivation: Derivation, cse: bool) -> tuple[Kernel, dict, dict]:
    """The kernel of the leading derivatives (times ``_scale``) and each top state's decay."""
    action, system = derivation.action, derivation.require_system()
    if system.algebraic:
        raise StructureError(
            f"fields {list(system.algebraic)} have no state (algebraic); code generation needs "
            "a multiplier policy for them (penalty, ascent or exact)"
        )
    orders = {f.name: 0 for f in action.fields}
    for state in system.states:
        orders[state.field.name] = state.order + 1
    chains = state_chains(orders, action)
    targets, decays = {}, {}
    for name, chain in chains.items():
        rest, decays[chain[-1]] = split_decay(system.solution[name], name, len(chain) - 1)
        targets[chain[-1]] = (action.field(name).domain, fold_scale(rest))
    return build_kernel(action, derivation.aggregates, targets, cse), decays, chains


def lower(
    derivation: Derivation, cse: bool = True, energy: bool = True, raw: Derivation | None = None
) -> StepIR:
    """The step IR of a derivation: the ``rhs`` kernel, energies and Euler-Lagrange parts.

    ``raw`` is the unflipped derivation of ``derivation.action`` (derived here when not given);
    its ``P0``, ``P1`` become the ``el`` kernel. With the exact policy the ``rhs`` kernel computes
    the sparse system's coefficients (:mod:`stlp_sym.codegen.exact`) and :attr:`StepIR.exact`
    describes its blocks.

    Raises
    ------
    StructureError
        If the derivation has no explicit system (and is not exact), uses algebraic fields,
        global fields under the exact policy, or contains a construct the NumPy printer does not
        support.
    """
    action = derivation.action
    exact = None
    if "exact" in derivation.transforms:
        exact = lower_exact(derivation, cse)
        rhs, decays = exact.kernel, {}
        chains = state_chains({name: order for name, _, order in exact.unknowns}, action)
        # A multiplier whose own derivative is the unknown (a constraint on a velocity: the
        # field's equation reads lambda') has states like any field; one solved for itself has none.
    else:
        rhs, decays, chains = _explicit_rhs(derivation, cse)
    energy_kernel = el_kernel = None
    if energy:
        raw = raw or derive_raw(derivation)
        energy_kernel = build_kernel(
            action, derivation.aggregates, _energy_targets(derivation, raw), cse
        )
        el_targets = {}
        for eq in raw.equations:
            el_targets[f"P0_{eq.field.name}"] = (eq.field.domain, eq.P0)
            el_targets[f"P1_{eq.field.name}"] = (eq.field.domain, eq.P1)
        el_kernel = build_kernel(action, raw.aggregates, el_targets, cse)
    return StepIR(
        name=action.name,
        decays=decays,
        states=_state_infos(action, chains),
        parameters=action.parameters,
        signals=action.signals,
        rhs=rhs,
        energy=energy_kernel,
        el=el_kernel,
        exact=exact,
        fields=action.fields,
        clamps=action.clamps,
        observed=action.observed,
    )
