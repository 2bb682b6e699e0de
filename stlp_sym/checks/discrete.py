"""Check 1 (theory 4.1), the discrete action: ``dS_h/de (q + e v)`` against
``sum_k h EL(t_k) . v_k`` with ``EL`` from the module's ``el_parts``, of order 2 in ``h``."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .context import Context
from .lagrangian import kink_step
from .layout import memoised
from .reference import LazyJet, Source, bump_function, fitted_order, five_point
from .report import Check

_ACTION_HORIZON = 2.0  # T of the discrete-action check
_ACTION_STEPS = (100, 200, 400, 800)  # h = T/100 .. T/800
_ORDER_RANGE = (1.8, 2.2)
_ACTION_TOLERANCE = 1e-3
_ROUNDING = 1e-11  # relative error below which the discrete EL counts as exact
_SMOOTH_STEP = 1e-3  # of the five-point difference in e (smaller on actions with kinks)


def _trajectory_source(ctx: Context, time: np.ndarray) -> Source:
    """The smooth test trajectories on a time grid: ``(entries, len(time))`` per quantity."""
    raw = lambda name, order: ctx.trajectories[name](time, order)  # noqa: E731
    return memoised(ctx.layout.complete(raw, ctx.signal_source(time)))


def _el_on_grid(ctx: Context, time: np.ndarray, source: Source, active: np.ndarray) -> dict:
    """``EL = P0 + P1`` of every field from the module's ``el_parts``, exact jets, per point."""
    fields = ctx.layout.fields
    el = {f: np.zeros((ctx.layout.counts[f], time.size)) for f in fields}
    for k in np.flatnonzero(active):
        jet = LazyJet(lambda name, order, k=k: source(name, order)[:, k])
        parts = ctx.module.el_parts(time[k], jet, ctx.plan, ctx.params, jet)
        for f in fields:
            el[f][:, k] = np.broadcast_to(parts[f][0] + parts[f][1], el[f].shape[:1])
    return el


def _moved(base: Mapping[str, np.ndarray], direction: Mapping, eps: float) -> dict:
    """``q + eps v`` for the quantities that have a direction, ``q`` for the others."""
    return {n: q + eps * direction[n] if n in direction else q for n, q in base.items()}


def _action_error(
    ctx: Context, time: np.ndarray, source: Source, el: dict, weights: dict, stride: int
) -> float:
    """Relative gap between ``dS_h/de (q + e v)`` (five-point in ``e``) and
    ``sum_k h EL(t_k) . v_k`` on the grid ``time[::stride]``, with ``v = weights * bump(t)``."""
    grid_t = time[::stride]
    h = float(grid_t[1] - grid_t[0])
    v = {f: w[:, None] * bump_function(grid_t, _ACTION_HORIZON) for f, w in weights.items()}
    exact = h * sum(float(np.sum(el[f][:, ::stride] * v[f])) for f in v)
    used = {name for name, _, _ in ctx.lagrangian.arguments}
    base = {name: source(name, 0)[:, ::stride] for name in used}
    eps = kink_step(ctx.action, _SMOOTH_STEP)
    along = five_point(lambda e: ctx.discrete_action(grid_t, _moved(base, v, e)), eps)
    return abs(along - exact) / max(abs(exact), 1e-300)


def check_discrete_action(ctx: Context) -> Check:
    """theory 4.1: ``dS_h/de`` along ``v`` against ``sum_k h EL(t_k) . v_k``, order 2 in ``h``.

    ``EL`` is computed once on the finest grid (the coarser grids are its subsets). When the
    error is at rounding level for every ``h`` (the discrete Euler-Lagrange equations are exact,
    which happens e.g. when no derivative enters them), the order is ``None`` and the check
    passes on the error alone.
    """
    fine = _ACTION_STEPS[-1]
    time = np.arange(fine + 1) * _ACTION_HORIZON / fine
    source = _trajectory_source(ctx, time)
    el = _el_on_grid(ctx, time, source, bump_function(time, _ACTION_HORIZON) > 0)
    rng = np.random.default_rng([ctx.seed, 1])
    weights = {f: rng.normal(size=mask.size) * mask for f, mask in ctx.layout.unknown.items()}
    errors = [_action_error(ctx, time, source, el, weights, fine // n) for n in _ACTION_STEPS]
    note = f"T = {_ACTION_HORIZON:g}, h = T/{_ACTION_STEPS[0]}..T/{fine}"
    # the five-point rounding error scales as 1 / step
    if max(errors) < _ROUNDING * _SMOOTH_STEP / kink_step(ctx.action, _SMOOTH_STEP):
        return Check("discrete action", errors[-1], None, True, note + "; EL exact (rounding)")
    order = fitted_order([_ACTION_HORIZON / n for n in _ACTION_STEPS], errors)
    lo, hi = _ORDER_RANGE
    passed = lo <= order <= hi and errors[-1] < _ACTION_TOLERANCE
    return Check("discrete action", errors[-1], order, passed, note + "; error at finest h")
