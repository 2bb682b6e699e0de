"""Check 3 (theory 4.3), the integrator order: ``p = log2(|y_h - y_{h/2}| / |y_{h/2} - y_{h/4}|)``
of the module's ``step`` on a horizon scaled by the stiffness."""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import pairwise

import numpy as np
import sympy as sp

from ..codegen.integrators import INTEGRATORS
from ..symbolic.functions import KINKS, has_kinks
from .context import Context
from .identities import flow_jet
from .lagrangian import Compiled, compile_expressions, field_registry, unrolled_lagrangian
from .reference import Source
from .report import Check

#: The nominal order of each method, from its record.
NOMINAL_ORDER = {name: record.order for name, record in INTEGRATORS.items()}
_INTEGRATOR_HORIZON = 0.5
_INTEGRATOR_ROUNDING = 1e-12  # |y_{h/2} - y_{h/4}| / |y| below which rounding may dominate
_KINK_SCAN_STEPS = 256  # steps of the trajectory on which kink crossings are looked for


def _flat(state: Mapping[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([np.ravel(state[n]) for n in sorted(state)])


def _unflat(vector: np.ndarray, like: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    sizes = np.cumsum([like[n].size for n in sorted(like)])[:-1]
    return dict(zip(sorted(like), np.split(vector, sizes), strict=True))


def stiffness(ctx: Context, state: Mapping[str, np.ndarray], iterations: int = 20) -> float:
    """Spectral scale ``rho ~ |J v| / |v|`` of ``J = d rhs / d state`` at ``t = 0``.

    Power iteration with ``J v ~ (rhs(y + e v) - rhs(y - e v)) / (2 e)`` from a seeded start.
    """
    y = _flat(state)
    v = np.random.default_rng([ctx.seed, 6]).normal(size=y.size)
    rho, eps = 0.0, 1e-6
    for _ in range(iterations):
        v /= np.linalg.norm(v) or 1.0
        ahead, behind = (_flat(ctx.rates(0.0, _unflat(y + e * v, state))) for e in (eps, -eps))
        v = (ahead - behind) / (2 * eps)
        rho = float(np.linalg.norm(v))
    return rho


def _integrate(ctx: Context, start: dict, horizon: float, steps: int) -> np.ndarray:
    """The state after ``steps`` calls of the module's ``step`` from 0 to ``horizon``."""
    state, h = {n: v.copy() for n, v in start.items()}, horizon / steps
    for k in range(steps):
        state = ctx.module.step(k * h, h, state, ctx.plan, ctx.params, ctx.signals_at)
    return _flat(state)


def _observed_orders(
    ctx: Context, start: dict, horizon: float, base: int
) -> tuple[list[float], int, float]:
    """Orders ``log2(|y_h - y_{h/2}| / |y_{h/2} - y_{h/4}|)`` for ``h = T/base, T/(2 base), ...``
    until two successive estimates agree within 0.1 (the asymptotic regime), rounding would
    dominate the differences, or ``h`` reaches ``T / (64 base)``.

    Returns the estimates, the finest step count and ``|y_{h/2} - y_{h/4}| / max(|y|, 1)`` there.
    """
    ends = [_integrate(ctx, start, horizon, base), _integrate(ctx, start, horizon, 2 * base)]
    orders: list[float] = []
    steps, fine = 2 * base, math.nan
    while steps < 64 * base:
        ends.append(_integrate(ctx, start, horizon, 2 * steps))
        size = max(float(np.linalg.norm(ends[-1])), 1.0)
        coarse, difference = (float(np.linalg.norm(a - b)) for a, b in pairwise(ends[-3:]))
        if difference < _INTEGRATOR_ROUNDING * size:
            break
        steps, fine = 2 * steps, difference / size
        orders.append(math.log2(coarse / difference))
        if len(orders) >= 2 and abs(orders[-1] - orders[-2]) < 0.1:
            break
    return orders, steps, fine


def kink_arguments(ctx: Context) -> Compiled | None:
    """The arguments of the kinks of the unrolled ``L`` (``u`` of ``|u|``, ``a - b`` of
    ``max(a, b)``), compiled; ``None`` for a smooth action. The rates jump or bend only where
    one of them changes sign (the derivative of ``|u|`` is ``sign(u)``, of ``max(a, b)``
    ``heaviside(a - b)``)."""
    action = ctx.derivation.action
    if not has_kinks(*action.lagrangian_terms.values(), *(a.expr for a in action.aggregates)):
        return None
    arguments = set()
    for kink in unrolled_lagrangian(action, ctx.graph).atoms(*KINKS):
        first, *rest = kink.args
        if isinstance(kink, sp.Max | sp.Min):
            arguments |= {first - other for other in rest}
        else:
            arguments.add(first)
    arguments = sorted((a for a in arguments if not a.is_number), key=sp.default_sort_key)
    if not arguments:
        return None
    return compile_expressions(arguments, field_registry(action, ctx.graph), list(ctx.params))


def _jet_source(ctx: Context, time: float, state: dict) -> Source:
    jet = flow_jet(ctx, time, state, set())
    return lambda name, order: jet[name if order == 0 else f"{name}_d{order}"]


def first_crossing(ctx: Context, kinks: Compiled, start: dict, horizon: float) -> float:
    """The first time in ``(0, horizon]`` at which a kink argument has another sign than at
    the start, on the module's trajectory of :data:`_KINK_SCAN_STEPS` steps; ``horizon`` when
    none does (an argument that stays exactly zero, such as a sum over no arcs, never does)."""
    state, h = {n: v.copy() for n, v in start.items()}, horizon / _KINK_SCAN_STEPS
    signs = np.sign(np.asarray(kinks(0.0, ctx.params, _jet_source(ctx, 0.0, state)), float))
    for k in range(_KINK_SCAN_STEPS):
        state = ctx.module.step(k * h, h, state, ctx.plan, ctx.params, ctx.signals_at)
        values = kinks((k + 1) * h, ctx.params, _jet_source(ctx, (k + 1) * h, state))
        if np.any(np.sign(np.asarray(values, float)) != signs):
            return max(k, 1) * h
    return horizon


def check_integrator(ctx: Context) -> Check:
    """theory 4.3: ``p = log2(|y_h - y_{h/2}| / |y_{h/2} - y_{h/4}|)`` within 0.2 of nominal.

    The horizon is ``T = min(0.5, 2 / rho)`` with ``rho`` the stiffness (:func:`stiffness`), so
    that a stiff model reaches the asymptotic regime at a moderate number of steps; ``h`` is
    halved until the estimate is stable. The error column is ``|y_{h/2} - y_{h/4}| / max(|y|,
    1)`` at the finest ``h``. On an action with kinks the horizon ends before the first time a
    kink argument changes sign (:func:`first_crossing`). When the differences are at rounding
    level from the coarsest ``h`` on (a free particle moves on a line, which every method
    follows exactly), there is no order to observe and the check passes.
    """
    integrator = ctx.module.OPTIONS["integrator"]
    record = INTEGRATORS[integrator]
    nominal, base = record.order, record.coarse_steps
    start = {n: 0.5 * v for n, v in ctx.random_state(ctx.random_point(6, 0)[1]).items()}
    rho = stiffness(ctx, start)
    horizon = min(_INTEGRATOR_HORIZON, 2.0 / rho) if rho > 0 else _INTEGRATOR_HORIZON
    kinks, shortened = kink_arguments(ctx), ""
    if kinks is not None:
        # across a kink the rates jump or bend and no method keeps its order: the order is
        # observed on the part of the trajectory before the first crossing
        crossing = first_crossing(ctx, kinks, start, horizon)
        if crossing < horizon:
            horizon, shortened = crossing, " (ends before the first kink crossing)"
    orders, steps, fine = _observed_orders(ctx, start, horizon, base)
    order = orders[-1] if orders else math.nan
    passed = abs(order - nominal) <= 0.2 or not orders
    note = (
        f"{integrator} (nominal {nominal}), T = {horizon:.3g}{shortened} (stiffness {rho:.3g}), "
        f"h = T/{steps // 4}..T/{steps}"
    )
    if not orders:
        note += ": exact to rounding on this model, no order to observe"
    return Check(f"integrator order ({integrator})", fine, order, passed, note)
