"""Checks 2(i) and 2(ii) (theory 4.2), the right-hand-side identities at seeded random states:
``P0 = dL/dq`` against differences of the independent ``L``, and ``s P0 + P1 = 0`` with the
leading derivatives from ``rhs`` (higher ones taken along the flow)."""

from __future__ import annotations

import numpy as np

from ..codegen.integrators import INTEGRATORS
from ..errors import StlpError
from .context import POINTS, Context
from .lagrangian import kink_step
from .layout import memoised
from .reference import LazyJet, Source
from .report import Check

_P0_TOLERANCE = 1e-6
_IDENTITY_TOLERANCE = 1e-9
_FLOW_TOLERANCE = 1e-6  # (ii) when derivatives above the leading ones come from the flow
#: errors are relative to the size of the terms, but at least to 1 (the random states are O(1)):
#: a P0 or an equation that vanishes identically leaves only rounding, which is no error.
_SCALE_FLOOR = 1.0


def _p0_by_differences(ctx: Context, time: float, source: Source, delta: float = 1e-3) -> dict:
    """``dL/dq`` of every unknown entry by five-point central differences of the unrolled L.

    All entries are perturbed at once: column ``4 j + s`` holds entry ``j`` moved by
    ``(-2, -1, 1, 2)[s] * delta``.
    """
    layout = ctx.layout
    entries = [(f, i) for f in layout.fields for i in np.flatnonzero(layout.unknown[f])]
    columns = 4 * len(entries)
    offsets = np.array([-2.0, -1.0, 1.0, 2.0]) * delta

    def lookup(name: str, order: int) -> np.ndarray:
        value = np.repeat(np.asarray(source(name, order), float)[:, None], columns, axis=1)
        if order == 0:
            js = np.array([j for j, (f, _) in enumerate(entries) if f == name], dtype=int)
            rows = np.array([entries[j][1] for j in js], dtype=int)
            value[np.repeat(rows, 4), (4 * js[:, None] + np.arange(4)).ravel()] += np.tile(
                offsets, js.size
            )
        return value

    values = np.broadcast_to(ctx.lagrangian(time, ctx.params, memoised(lookup)), (columns,))
    derivative = values.reshape(-1, 4) @ np.array([1.0, -8.0, 8.0, -1.0]) / (12 * delta)
    result = {f: np.full(layout.counts[f], np.nan) for f in layout.fields}
    for (f, i), d in zip(entries, derivative, strict=True):
        result[f][i] = d
    return result


def check_p0(ctx: Context) -> Check:
    """theory 4.2(i): the generated ``P0`` equals ``dL/dq`` of the independent ``L``."""
    worst = scale = 0.0
    for point in range(POINTS):
        time, source = ctx.random_point(2, point)
        parts = ctx.el_parts(time, LazyJet(source))
        reference = _p0_by_differences(ctx, time, source, kink_step(ctx.action, 1e-3))
        for f, ref in reference.items():
            mask = ctx.layout.unknown[f]
            got = np.broadcast_to(parts[f][0], ref.shape)[mask]
            worst = max(worst, float(np.max(np.abs(got - ref[mask]), initial=0.0)))
            scale = max(scale, float(np.max(np.abs(ref[mask]), initial=0.0)))
    error = worst / max(scale, _SCALE_FLOOR)
    note = f"{POINTS} random states, 5-point differences of the unrolled L"
    return Check("P0 = dL/dq", error, None, error < _P0_TOLERANCE, note)


#: The method that moves states along the flow for the differences of ``rhs`` (order 4).
FLOW_METHOD = INTEGRATORS["rk4"]


def _flow_step(ctx: Context, time: float, state: dict, dt: float) -> dict:
    """One step of the module's ``rhs`` along the flow with the RK4 record's tableau (the
    method the package generates, not a second copy of it)."""
    tableau = FLOW_METHOD.tableau
    slopes: list[dict] = []
    for row, node in zip(tableau.a, tableau.c, strict=True):
        moved = {
            n: state[n] + dt * sum(float(a) * k[n] for a, k in zip(row, slopes, strict=True))
            for n in state
        }
        slopes.append(ctx.rates(time + float(node) * dt, moved))
    return {n: state[n] + dt * _weighted(tableau.b, slopes, n) for n in state}


def _weighted(weights, slopes: list[dict], name: str):
    """``sum_j weights_j slopes_j[name]`` (zero for no slopes)."""
    return sum(float(w) * k[name] for w, k in zip(weights, slopes, strict=True))


def flow_derivative(ctx: Context, time: float, state: dict, field: str, extra: int) -> np.ndarray:
    """``d^extra/dt^extra`` of the leading derivative of ``field`` along the flow (1 or 2).

    Five-point central differences of ``rhs`` at ``t + j delta``, ``j = -2..2``, the states
    moved there by one RK4 step; error ``O(delta^4)`` (plus rounding ``eps / delta^extra``).
    """
    if extra not in (1, 2):
        raise StlpError(f"verify: cannot take {extra} derivatives above the leading one")
    delta = 1e-3 if extra == 1 else 1e-2
    values = []
    for j in (-2, -1, 0, 1, 2):
        moved = _flow_step(ctx, time, state, j * delta) if j else state
        values.append(ctx.leading(time + j * delta, moved, field))
    weights = {1: [1, -8, 0, 8, -1], 2: [-1, 16, -30, 16, -1]}[extra]
    return sum(w * v for w, v in zip(weights, values, strict=True)) / (12 * delta**extra)


def flow_jet(ctx: Context, time: float, state: dict, used: set[str], lead: float = 1.0) -> LazyJet:
    """The jet of a state: its states, the leading derivatives from ``rhs`` and the solved
    multipliers (times ``lead``), higher orders along the flow (their names are added to
    ``used``), clamped entries from the signals."""
    solved = ctx.solve(time, state)

    def raw(name: str, order: int) -> np.ndarray:
        chain = ctx.chains.get(name, [])
        if order < len(chain):
            return state[chain[order]]
        if order == len(chain):
            return lead * (solved.rates[chain[-1]] if chain else solved.multipliers[name])
        used.add(f"{name}_d{order}")
        return flow_derivative(ctx, time, state, name, order - len(chain))

    return LazyJet(ctx.layout.complete(raw, ctx.signal_source(time)))


def check_rhs_identity(ctx: Context) -> Check:
    """theory 4.2(ii): ``s P0 + P1 = 0`` at random states with leading derivatives from rhs.

    ``s = -1`` on non-multipliers when flipped, else ``+1``; multipliers are skipped under the
    ascent and exact policies, which replace their equation. The jet holds the states, the
    leading derivatives (and an exact-policy module's solved multipliers); ``P0`` and ``P1`` need
    no more for an explicit system (its leading unknowns are the highest derivatives in the
    equations), but any higher one asked for is taken along the flow (:func:`flow_derivative`)
    and named in the note. The error is
    ``max |s P0 + P1| / max(|P0|, |P1|, |P0|_0, |P1|_0, 1)`` over the fields, ``_0`` with the
    leading derivatives set to zero (the size of what they must cancel).
    """
    replaced = ctx.options.policy in ("ascent", "exact")
    multipliers = {f.name for f in ctx.derivation.action.fields if f.multiplier}
    fields = [f for f in ctx.layout.fields if not (replaced and f in multipliers)]
    worst, used = 0.0, set()
    for point in range(POINTS):
        time, source = ctx.random_point(3, point)
        state = ctx.random_state(source)
        parts = ctx.el_parts(time, flow_jet(ctx, time, state, used))
        rest = ctx.el_parts(time, flow_jet(ctx, time, state, set(), lead=0.0))
        residual = scale = 0.0
        for f in fields:
            mask = ctx.layout.unknown[f]
            sign = -1 if ctx.options.flip and f not in multipliers else 1
            p0, p1 = (np.broadcast_to(p, mask.shape)[mask] for p in parts[f])
            r0, r1 = (np.broadcast_to(p, mask.shape)[mask] for p in rest[f])
            sizes = np.abs(np.concatenate([p0, p1, r0, r1]))
            scale = max(scale, float(np.max(sizes, initial=0.0)))
            residual = max(residual, float(np.max(np.abs(sign * p0 + p1), initial=0.0)))
        worst = max(worst, residual / max(scale, _SCALE_FLOOR))
    notes = [f"{POINTS} random states; jet = states + leading derivatives from rhs"]
    if replaced and multipliers:
        policy = ctx.options.policy
        notes.append(f"skipped {sorted(multipliers)} ({policy} replaces their equation)")
    if ctx.options.policy == "exact":
        notes.append("multipliers from the sparse solve")
    tolerance = _IDENTITY_TOLERANCE
    if used:
        notes.append(f"{sorted(used)} by differences of rhs along the flow")
        tolerance = _FLOW_TOLERANCE
    return Check("s P0 + P1 = 0", worst, None, worst < tolerance, "; ".join(notes))
