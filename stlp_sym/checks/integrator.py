"""Check 3 (theory 4.3), the integrator order: ``p = log2(|y_h - y_{h/2}| / |y_{h/2} - y_{h/4}|)``
of the module's ``step`` on a horizon scaled by the stiffness."""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import pairwise

import numpy as np

from ..codegen.integrators import INTEGRATORS
from .context import Context
from .report import Check

#: The nominal order of each method, from its record.
NOMINAL_ORDER = {name: record.order for name, record in INTEGRATORS.items()}
_INTEGRATOR_HORIZON = 0.5
_INTEGRATOR_ROUNDING = 1e-12  # |y_{h/2} - y_{h/4}| / |y| below which rounding may dominate


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


def check_integrator(ctx: Context) -> Check:
    """theory 4.3: ``p = log2(|y_h - y_{h/2}| / |y_{h/2} - y_{h/4}|)`` within 0.2 of nominal.

    The horizon is ``T = min(0.5, 2 / rho)`` with ``rho`` the stiffness (:func:`stiffness`), so
    that a stiff model reaches the asymptotic regime at a moderate number of steps; ``h`` is
    halved until the estimate is stable. The error column is ``|y_{h/2} - y_{h/4}| / max(|y|,
    1)`` at the finest ``h``. When the differences are at rounding level from the coarsest
    ``h`` on (a free particle moves on a line, which every method follows exactly), there is no
    order to observe and the check passes.
    """
    integrator = ctx.module.OPTIONS["integrator"]
    record = INTEGRATORS[integrator]
    nominal, base = record.order, record.coarse_steps
    start = {n: 0.5 * v for n, v in ctx.random_state(ctx.random_point(6, 0)[1]).items()}
    rho = stiffness(ctx, start)
    horizon = min(_INTEGRATOR_HORIZON, 2.0 / rho) if rho > 0 else _INTEGRATOR_HORIZON
    orders, steps, fine = _observed_orders(ctx, start, horizon, base)
    order = orders[-1] if orders else math.nan
    passed = abs(order - nominal) <= 0.2 or not orders
    note = (
        f"{integrator} (nominal {nominal}), T = {horizon:.3g} (stiffness {rho:.3g}), "
        f"h = T/{steps // 4}..T/{steps}"
    )
    if not orders:
        note += ": exact to rounding on this model, no order to observe"
    return Check(f"integrator order ({integrator})", fine, order, passed, note)
