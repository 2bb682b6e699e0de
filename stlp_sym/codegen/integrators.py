"""Integrators as data: one :class:`Integrator` record per method, next to its properties.

The record is the one place that knows a method: :class:`~stlp_sym.options.Options` validates
names against :data:`INTEGRATORS`, code generation pastes the runtime function it names
(:attr:`Integrator.runtime`) with its tableau, the runner warns when ``dt`` times the largest decay
rate of the model breaks :attr:`Integrator.stability_limit`, and the order check compares with
:attr:`Integrator.order`. Free of SymPy and NumPy, so that importing the options stays cheap.

An explicit Runge-Kutta method advances ``y' = f(t, y)`` by

    k_i = f(t + c_i dt, y + dt sum_{j<i} a_ij k_j),    y <- y + dt sum_i b_i k_i.

Its stability on a linear decay ``y' = -k y`` is ``|R(-dt k)| <= 1`` for the stability polynomial
``R(z) = 1 + z b.1 + z^2 b.A1 + z^3 b.A^2 1 + ...``; the limits below are where ``|R|`` first
reaches 1 on the negative real axis (2 for Euler and Heun, 2.785 for RK4).

>>> rk4 = INTEGRATORS["rk4"]
>>> rk4.order, rk4.tableau.as_floats()["weights"], rk4.tableau.divisor
(4, (1.0, 2.0, 2.0, 1.0), 6)
>>> INTEGRATORS["euler"].is_stable(dt=1e-2, decay=250.0)
False
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Tableau:
    """The Butcher tableau of an explicit Runge-Kutta method (``a`` strictly lower triangular).

    ``a`` holds row ``i`` as its ``i`` entries left of the diagonal; ``b`` the weights; ``c`` the
    nodes; ``divisor`` a common denominator of ``b``, so that ``sum_i b_i k_i`` is summed as
    ``(sum_i (divisor b_i) k_i) / divisor`` with small-integer weights (exact in floating point).
    """

    a: tuple[tuple[Fraction, ...], ...]
    b: tuple[Fraction, ...]
    c: tuple[Fraction, ...]

    @property
    def divisor(self) -> int:
        """The least common denominator of the weights ``b``."""
        return math.lcm(*(weight.denominator for weight in self.b))

    def as_floats(self) -> dict[str, tuple]:
        """The tableau for generated code: ``a``, ``c``, the integer weights and their divisor."""
        return {
            "a": tuple(tuple(float(x) for x in row) for row in self.a),
            "c": tuple(float(x) for x in self.c),
            "weights": tuple(float(w * self.divisor) for w in self.b),
            "divisor": float(self.divisor),
        }

    def __post_init__(self) -> None:
        stages = len(self.b)
        if len(self.a) != stages or len(self.c) != stages:
            raise ValueError("a tableau needs one row of a, one weight and one node per stage")
        if any(len(row) != i for i, row in enumerate(self.a)):
            raise ValueError("an explicit tableau has i entries in row i of a")


@dataclass(frozen=True)
class Integrator:
    """One time-stepping method and everything the package needs to know about it.

    name : the option value (``Options(integrator=name)``).
    order : the nominal order of convergence (the order check compares with it).
    rule : ``"explicit Runge-Kutta"`` (the ``tableau`` says which) or ``"semi-implicit"``
        (highest derivative first, each lower one with its updated next one).
    tableau : the Butcher tableau of an explicit Runge-Kutta method, else None.
    folds_dt : ``dt`` is folded into the rates' coefficients (explicit Euler): the kernels
        return ``dt * rate`` and the update is one addition per state.
    stability_limit : the step is stable on a linear decay ``y' = -k y`` when ``dt k`` is below
        this (the runner warns when the model's largest decay rate breaks it).
    runtime : the function of :mod:`stlp_sym.runtime.integrate` that takes a step.
    coarse_steps : steps over the order check's horizon from which the error is in its
        asymptotic regime (fewer for higher orders, whose error falls faster).
    """

    name: str
    order: int
    rule: str
    tableau: Tableau | None
    folds_dt: bool
    stability_limit: float
    runtime: str
    coarse_steps: int

    def is_stable(self, dt: float, decay: float) -> bool:
        """True when ``dt * decay`` is inside the stability interval of a linear decay."""
        return dt * decay < self.stability_limit


def _tableau(a: list[list[str]], b: list[str], c: list[str]) -> Tableau:
    def fractions(row: list[str]) -> tuple[Fraction, ...]:
        return tuple(Fraction(x) for x in row)

    return Tableau(tuple(fractions(row) for row in a), fractions(b), fractions(c))


#: Every method, by option value (the order of ``--integrator``'s choices).
INTEGRATORS: dict[str, Integrator] = {
    record.name: record
    for record in (
        Integrator(
            name="euler",
            order=1,
            rule="explicit Runge-Kutta",
            tableau=_tableau([[]], ["1"], ["0"]),
            folds_dt=True,
            stability_limit=2.0,
            runtime="euler_step",
            coarse_steps=128,
        ),
        Integrator(
            name="semi-implicit",
            order=1,
            rule="semi-implicit",
            tableau=None,
            folds_dt=False,
            stability_limit=2.0,
            runtime="semi_implicit_step",
            coarse_steps=128,
        ),
        Integrator(
            name="heun",
            order=2,
            rule="explicit Runge-Kutta",
            tableau=_tableau([[], ["1"]], ["1/2", "1/2"], ["0", "1"]),
            folds_dt=False,
            stability_limit=2.0,
            runtime="runge_kutta_step",
            coarse_steps=32,
        ),
        Integrator(
            name="rk4",
            order=4,
            rule="explicit Runge-Kutta",
            tableau=_tableau(
                [[], ["1/2"], ["0", "1/2"], ["0", "0", "1"]],
                ["1/6", "1/3", "1/3", "1/6"],
                ["0", "1/2", "1/2", "1"],
            ),
            folds_dt=False,
            stability_limit=2.785293563405282,
            runtime="runge_kutta_step",
            coarse_steps=8,
        ),
    )
}
