"""Numerical references of the checks: central differences of a grid, the five-point rule,
smooth test trajectories (:class:`Sinusoids`, a bump) and jets computed on demand
(:class:`LazyJet`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

Source = Callable[[str, int], np.ndarray]


# -- finite differences ---------------------------------------------------------------------------


def central_weights(order: int) -> np.ndarray:
    """Weights of the second-order central difference of the given derivative order.

    The stencil has half-width ``r = floor((order + 1) / 2)`` (offsets ``-r..r``) and error
    ``O(h^2)``: ``[-1/2, 0, 1/2]`` for ``D``, ``[1, -2, 1]`` for ``D^2``,
    ``[-1/2, 1, 0, -1, 1/2]`` for ``D^3``, ``[1, -4, 6, -4, 1]`` for ``D^4``.
    """
    half = (order + 1) // 2
    weights = sp.finite_diff_weights(order, list(range(-half, half + 1)), 0)[order][-1]
    return np.array([float(w) for w in weights])


def five_point(function: Callable[[float], float], eps: float) -> float:
    """``f'(0) ~ (f(-2e) - 8 f(-e) + 8 f(e) - f(2e)) / (12 e)``, error ``O(e^4)``."""
    values = [function(k * eps) for k in (-2, -1, 1, 2)]
    return (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * eps)


def central_difference(grid: np.ndarray, order: int, h: float, margin: int) -> np.ndarray:
    """``D^order`` of ``grid`` (time on the last axis) at the points ``margin .. K-1-margin``."""
    size = grid.shape[-1]
    if order == 0:
        return grid[..., margin : size - margin]
    weights = central_weights(order)
    half = len(weights) // 2
    total = sum(
        w * grid[..., margin + j : size - margin + j]
        for w, j in zip(weights, range(-half, half + 1), strict=True)
        if w
    )
    return total / h**order


def fitted_order(steps: Sequence[float], errors: Sequence[float]) -> float:
    """Least-squares slope of ``log(error)`` against ``log(h)``."""
    return float(np.polyfit(np.log(steps), np.log(errors), 1)[0])


# -- smooth test functions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sinusoids:
    """``q_e(t) = sum_j A_ej sin(omega_ej t + phase_ej)``, one row per entry ``e``.

    The ``m``-th derivative is ``sum_j A_ej omega_ej^m sin(omega_ej t + phase_ej + m pi/2)``.
    """

    amplitude: np.ndarray
    omega: np.ndarray
    phase: np.ndarray

    @classmethod
    def random(cls, rng: np.random.Generator, count: int, terms: int = 3) -> Sinusoids:
        shape = (count, terms)
        return cls(
            amplitude=rng.uniform(0.2, 1.0, shape) / terms,
            omega=rng.uniform(0.5, 3.0, shape),
            phase=rng.uniform(0.0, 2 * np.pi, shape),
        )

    def __call__(self, time: float | np.ndarray, order: int = 0) -> np.ndarray:
        """Values ``(count,) + shape(time)`` of the ``order``-th derivative."""
        time = np.asarray(time, dtype=float)
        arg = self.omega[..., None] * time.reshape(-1) + (self.phase + order * np.pi / 2)[..., None]
        value = np.sum((self.amplitude * self.omega**order)[..., None] * np.sin(arg), axis=1)
        return value.reshape(self.amplitude.shape[:1] + time.shape)


def bump_function(time: np.ndarray, horizon: float) -> np.ndarray:
    """``sin(pi s)^4`` on ``s = (t - 0.1 T) / (0.8 T)`` in ``[0, 1]``, zero outside."""
    s = np.clip((np.asarray(time) - 0.1 * horizon) / (0.8 * horizon), 0.0, 1.0)
    return np.sin(np.pi * s) ** 4


_JET_KEY = re.compile(r"(.+)_d([0-9]+)")


def split_jet_key(key: str) -> tuple[str, int]:
    """``"w_d2" -> ("w", 2)``, ``"x" -> ("x", 0)`` (names never end in ``_dK``)."""
    match = _JET_KEY.fullmatch(key)
    return (match.group(1), int(match.group(2))) if match else (key, 0)


class LazyJet(dict):
    """A jet (or signal dict) whose entry ``q_dK`` is ``source(q, K)``, computed on first use."""

    def __init__(self, source: Source):
        super().__init__()
        self.source = source

    def __missing__(self, key: str) -> np.ndarray:
        value = np.asarray(self.source(*split_jet_key(key)), dtype=float)
        self[key] = value
        return value

    def __contains__(self, key: object) -> bool:
        """True for every key the source can produce (``"u_d2" in signals``)."""
        try:
            self[key]
        except KeyError:
            return False
        return True
