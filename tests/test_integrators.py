"""Integrators as data: each record's tableau, order and stability limit agree with each other,
and every consumer (options, code generation, the order check, the runner) reads the record."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from stlp_sym.checks import NOMINAL_ORDER
from stlp_sym.codegen.integrators import INTEGRATORS
from stlp_sym.errors import ActionError
from stlp_sym.options import INTEGRATORS as NAMES
from stlp_sym.options import Options

#: Runge-Kutta order conditions up to order 4 (Butcher): (condition, the order it belongs to).
ORDER_CONDITIONS = [
    (lambda a, b, c: sum(b), Fraction(1), 1),
    (lambda a, b, c: b @ c, Fraction(1, 2), 2),
    (lambda a, b, c: b @ c**2, Fraction(1, 3), 3),
    (lambda a, b, c: b @ (a @ c), Fraction(1, 6), 3),
    (lambda a, b, c: b @ c**3, Fraction(1, 4), 4),
    (lambda a, b, c: (b * c) @ (a @ c), Fraction(1, 8), 4),
    (lambda a, b, c: b @ (a @ c**2), Fraction(1, 12), 4),
    (lambda a, b, c: b @ (a @ (a @ c)), Fraction(1, 24), 4),
]

TABLEAUS = [name for name, record in INTEGRATORS.items() if record.tableau is not None]


def matrices(name: str):
    tableau = INTEGRATORS[name].tableau
    stages = len(tableau.b)
    a = np.zeros((stages, stages), dtype=object)
    for i, row in enumerate(tableau.a):
        a[i, : len(row)] = row
    return a, np.array(tableau.b, dtype=object), np.array(tableau.c, dtype=object)


@pytest.mark.parametrize("name", TABLEAUS)
def test_tableau_satisfies_the_order_conditions_of_its_order(name) -> None:
    a, b, c = matrices(name)
    order = INTEGRATORS[name].order
    for condition, value, belongs in ORDER_CONDITIONS:
        if belongs <= order:
            assert condition(a, b, c) == value, (name, belongs)
    if order < 4:  # and no higher: some condition of the next order fails
        assert not all(cond(a, b, c) == v for cond, v, k in ORDER_CONDITIONS if k == order + 1)


@pytest.mark.parametrize("name", TABLEAUS)
def test_stability_limit_is_where_the_stability_polynomial_leaves_the_unit_disc(name) -> None:
    """``R(z) = 1 + sum_j z^j b.A^(j-1) 1``; the limit is the first ``x`` with ``|R(-x)| = 1``."""
    a, b, _ = matrices(name)
    coefficients, power = [1.0], np.ones(len(b), dtype=object)
    for _ in range(len(b)):
        coefficients.append(float(b @ power))
        power = a @ power
    polynomial = np.polynomial.Polynomial(coefficients)
    x = np.linspace(1e-6, 4.0, 400001)
    unstable = np.abs(polynomial(-x)) > 1 + 1e-12
    limit = x[np.argmax(unstable)]
    assert abs(limit - INTEGRATORS[name].stability_limit) < 1e-4, (name, limit)


def test_the_records_are_the_options_and_the_nominal_orders() -> None:
    assert NAMES == tuple(INTEGRATORS) == ("euler", "semi-implicit", "heun", "rk4")
    assert NOMINAL_ORDER == {"euler": 1, "semi-implicit": 1, "heun": 2, "rk4": 4}
    with pytest.raises(ActionError, match="integrator 'leapfrog' is not one of euler"):
        Options(integrator="leapfrog")


def test_only_explicit_euler_folds_dt_and_the_stability_is_on_decay_rates() -> None:
    assert [r.name for r in INTEGRATORS.values() if r.folds_dt] == ["euler"]
    assert INTEGRATORS["euler"].is_stable(1e-2, 199.0) and not INTEGRATORS["euler"].is_stable(
        1e-2, 200.0
    )
    assert INTEGRATORS["rk4"].is_stable(1e-2, 270.0) and not INTEGRATORS["heun"].is_stable(
        1e-2, 270.0
    )


def test_options_import_neither_sympy_nor_numpy() -> None:
    code = "import sys, stlp_sym.options; print('sympy' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
