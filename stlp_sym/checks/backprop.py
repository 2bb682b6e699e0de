"""The back-propagation limit (docs/theory.md section 5), for any module with a second-order
arc field: the force on the weights against the finite-difference gradient of the static loss.

Freeze the arc fields, make the dissipation factor constant (its parameters 0) and hold the
signals constant; the node states then have a fixed point (found by a root solve of ``rhs``,
not by stepping). There, the weight field ``w``'s equation ``d/dt (m w') = -dL/dw`` reads
``force = m w'' = -dL/dw``, and because every node field is stationary, ``dL/dw`` is the total
derivative of the *static* objective ``L*(w) = L(fixed point of w)``: for model ``stlp`` that
is ``r_w w + dloss/dw``, the costates being the back-propagation deltas. The force comes from
the module's ``rhs`` and its mass ``m = d^2 L / dw'^2`` from second differences of its ``L``;
the gradient from central differences of ``L*``, re-solving the fixed point for each weight
moved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import sympy as sp

from ..errors import StlpError
from ..graph.digraph import Digraph
from ..symbolic.action import Action
from ..symbolic.vocabulary import t as time_symbol


@dataclass(frozen=True)
class BackpropLimit:
    """Per arc: the force ``m w''`` at the fixed point and ``-dL*/dw`` by central differences."""

    field: str
    force: np.ndarray
    gradient: np.ndarray

    @property
    def gap(self) -> float:
        """``max |force - gradient| / max |gradient|``."""
        return float(np.abs(self.force - self.gradient).max() / np.abs(self.gradient).max())


def static_params(action: Action) -> dict[str, float]:
    """The parameters of the action's dissipation factor, set to 0 (a constant factor)."""
    symbols = sp.sympify(action.factor).free_symbols - {time_symbol}
    return {str(symbol): 0.0 for symbol in symbols}


def _weight_chain(module: ModuleType) -> tuple[str, str]:
    """The first arc field with exactly the states ``w, w_d1`` (a second-order field)."""
    for name, info in module.STATES.items():
        if info["domain"] != "edge" or info["order"] != 0:
            continue
        chain = [s for s, i in module.STATES.items() if i["field"] == info["field"]]
        if len(chain) == 2:
            return name, next(s for s in chain if s != name)
    raise StlpError("the back-propagation limit needs an arc field of second order (w and w')")


class _FixedPoint:
    """The node states' fixed point of ``module`` with arc states and signals frozen."""

    def __init__(self, module, graph, params, signals, state):
        self.module, self.params, self.signals = module, params, signals
        self.plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
        self.state = {name: np.array(value, dtype=float) for name, value in state.items()}
        self.nodes = [s for s, i in module.STATES.items() if i["domain"] == "node"]
        live = self.plan.get("live", {})
        self.free = {
            s: np.asarray(live.get(s, np.ones(graph.n)), dtype=bool) & ~graph.inputs
            for s in self.nodes
        }

    def residual(self, vector: np.ndarray) -> np.ndarray:
        for name, part in zip(self.nodes, self._split(vector), strict=True):
            self.state[name][self.free[name]] = part
        self.module.clamp(0.0, self.state, self.plan, self.signals)
        rates = self.module.rhs(0.0, self.state, self.plan, self.params, self.signals)
        return np.concatenate([rates[name][self.free[name]] for name in self.nodes])

    def _split(self, vector: np.ndarray) -> list[np.ndarray]:
        sizes = np.cumsum([self.free[name].sum() for name in self.nodes])[:-1]
        return np.split(vector, sizes)

    def solve(self) -> dict[str, np.ndarray]:
        """Solve in place (from the current node states) and return the state."""
        from scipy.optimize import root

        start = np.concatenate([self.state[n][self.free[n]] for n in self.nodes])
        solution = root(self.residual, start, method="hybr", tol=1e-14)
        if np.abs(self.residual(solution.x)).max() > 1e-10:
            raise StlpError(
                "the node states have no fixed point at these weights (the root solve did not "
                "converge): give smaller weights"
            )
        return self.state

    def lagrangian(self) -> float:
        return float(self.module.lagrangian(0.0, self.state, self.plan, self.params, self.signals))


def _mass(fixed: _FixedPoint, velocity: str, h: float = 1e-3) -> np.ndarray:
    """``d^2 L / dw'^2`` per arc, by second differences of the module's ``L``."""
    v = fixed.state[velocity]
    masses = np.empty(v.size)
    center = fixed.lagrangian()
    for e in range(v.size):
        values = []
        for step in (h, -h):
            v[e] = step
            values.append(fixed.lagrangian())
        v[e] = 0.0
        masses[e] = (values[0] - 2 * center + values[1]) / h**2
    return masses


def _static_gradient(fixed: _FixedPoint, weight: str, h: float) -> np.ndarray:
    """``-dL*/dw`` by central differences, the fixed point re-solved for each moved weight."""
    w = fixed.state[weight]
    base = {name: fixed.state[name].copy() for name in fixed.nodes}
    gradient = np.empty(w.size)
    for e in range(w.size):
        values = []
        for step in (h, -h):
            w[e] += step
            fixed.solve()
            values.append(fixed.lagrangian())
            w[e] -= step
            for name in fixed.nodes:
                fixed.state[name][:] = base[name]
        gradient[e] = -(values[0] - values[1]) / (2 * h)
    return gradient


def backprop_limit(
    module: ModuleType,
    graph: Digraph,
    params: Mapping[str, float],
    signals: Mapping[str, np.ndarray],
    state: Mapping[str, np.ndarray],
    h: float = 1e-6,
) -> BackpropLimit:
    """The force on the weights and ``-dL*/dw`` at the fixed point of the node states.

    ``params`` must make the dissipation factor constant (:func:`static_params`); ``signals``
    are constant node arrays by the module's names; ``state`` gives the weights (its arc
    velocities are set to 0; its node states start the root solve).
    """
    weight, velocity = _weight_chain(module)
    fixed = _FixedPoint(module, graph, {**module.PARAMS, **params}, dict(signals), state)
    for name, info in module.STATES.items():
        if info["domain"] == "edge" and name != weight:
            fixed.state[name][:] = 0.0
    fixed.solve()
    rates = module.rhs(0.0, fixed.state, fixed.plan, fixed.params, fixed.signals)
    force = _mass(fixed, velocity) * rates[velocity]
    return BackpropLimit(module.STATES[weight]["field"], force, _static_gradient(fixed, weight, h))
