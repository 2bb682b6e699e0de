"""Check 2(iii) (theory 4.2): the normalised module against the raw one (``normalise=False``)
under ``lambda = phi lambda_hat``, with multiplier chains mapped by the Leibniz rule."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import sympy as sp

from ..symbolic.vocabulary import t
from .context import POINTS, Context, Solved, install_solver, no_raw, prepare_module, state_chains
from .lagrangian import compile_expressions
from .layout import Layout
from .report import Check

_NORMALISE_TOLERANCE = 1e-9


def _factor_derivatives(ctx: Context, time: float, count: int) -> list[float]:
    """``phi(t), phi'(t), ..., phi^(count-1)(t)`` of the action's dissipation factor."""
    exprs = [sp.diff(ctx.action.factor, t, j) for j in range(count)]
    compiled = compile_expressions(exprs, {}, list(ctx.params))
    return [float(v) for v in compiled(time, ctx.params, no_raw)]


def _hat_derivatives(raw: list[np.ndarray], phis: list[float]) -> list[np.ndarray]:
    """Leibniz: ``lambda^(m) = sum_j C(m, j) phi^(j) lambda_hat^(m-j)`` solved for the hats."""
    hats: list[np.ndarray] = []
    for m, value in enumerate(raw):
        rest = sum(math.comb(m, j) * phis[j] * hats[m - j] for j in range(1, m + 1))
        hats.append((value - rest) / phis[0])
    return hats


def _raw_to_normalised(
    ctx: Context, raw: Context, time: float, raw_state: dict, solved: Solved
) -> tuple[dict, dict, dict]:
    """The normalised state and its expected rates and solved multipliers: multiplier chains
    through :func:`_hat_derivatives` (solved multipliers of the exact policy: divided by
    ``phi``), every other state and rate unchanged."""
    state, expected, multipliers = dict(raw_state), dict(solved.rates), {}
    for lam in (f.name for f in ctx.action.fields if f.multiplier):
        chain, hat_chain = raw.chains.get(lam, []), ctx.chains.get(f"{lam}_hat", [])
        phis = _factor_derivatives(ctx, time, len(chain) + 1)
        if not chain:
            multipliers[f"{lam}_hat"] = solved.multipliers[lam] / phis[0]
            continue
        hats = _hat_derivatives([raw_state[n] for n in chain] + [solved.rates[chain[-1]]], phis)
        for m, (name, hat) in enumerate(zip(chain, hat_chain, strict=True)):
            del state[name], expected[name]
            state[hat], expected[hat] = hats[m], hats[m + 1]
    return state, expected, multipliers


def _largest_gap(got: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray]) -> float:
    """``max |got - expected| / max |expected|`` over every array of ``expected``."""
    scale = max((float(np.max(np.abs(v), initial=0.0)) for v in expected.values()), default=0)
    gaps = [float(np.max(np.abs(got[n] - v), initial=0.0)) for n, v in expected.items()]
    return max(gaps, default=0.0) / (scale or 1.0)


def check_normalised(ctx: Context) -> Check:
    """theory 4.2(iii): ``lambda = phi lambda_hat`` maps the raw system onto the normalised one.

    The raw module is built with ``normalise=False`` (on the NumPy backend); at random raw
    states, the normalised ``rhs`` must give ``lambda_hat^(m+1)`` from the Leibniz rule (for
    ``phi = exp(theta t)``: ``lambda_hatdot = lambdadot / phi - theta lambda_hat``) and every
    other rate unchanged; under the exact policy the solved multipliers must satisfy
    ``lambda_hat = lambda / phi``.
    """
    from ..cache.store import build

    name = "normalised vs raw"
    if not ctx.options.normalise:
        return Check(name, math.nan, None, True, "n/a: normalise is off")
    if ctx.options.policy == "penalty" or not any(f.multiplier for f in ctx.action.fields):
        return Check(name, math.nan, None, True, "n/a: no multipliers to normalise")
    if ctx.options.policy == "ascent":
        return Check(name, math.nan, None, True, "n/a: ascent acts on lambda_hat itself")
    # the raw system is only a reference here: the NumPy backend, the reference backend,
    # needs no compilation (a numba raw module would compile a kernel for three states)
    raw_options = replace(ctx.options, normalise=False, backend="numpy")
    module = build(ctx.action, raw_options, derived=ctx.derived)
    install_solver(module)
    raw = replace(ctx, module=module, layout=Layout.of(ctx.action, ctx.graph))
    raw = replace(raw, plan=prepare_module(module, ctx.graph), chains=state_chains(module))
    worst = 0.0
    for point in range(POINTS):
        time, source = raw.random_point(4, point)
        raw_state = raw.random_state(source)
        state, rates, multipliers = _raw_to_normalised(
            ctx, raw, time, raw_state, raw.solve(time, raw_state)
        )
        got = ctx.solve(time, state)
        worst = max(
            worst, _largest_gap(got.rates, rates), _largest_gap(got.multipliers, multipliers)
        )
    note = f"{POINTS} random raw states mapped by lambda = phi lambda_hat"
    return Check(name, worst, None, worst < _NORMALISE_TOLERANCE, note)
