"""The integrators of stlp_sym/runtime on equations with known solutions.

A small ``model`` dict plays the generated module's ``_MODEL``: a kernel of the leading
derivatives, a decay kernel, the state chains; each test compares with a closed form.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from stlp_sym.codegen.integrators import INTEGRATORS
from stlp_sym.runtime.exact import constraint_system_of, exact_top_rates, install_solver
from stlp_sym.runtime.integrate import (
    euler_step,
    runge_kutta_step,
    semi_implicit_step,
)
from stlp_sym.runtime.rates import explicit_top_rates, state_rates


def decay_model(tableau=None, rest=0.0) -> dict:
    """``y' = rest - k y`` on two nodes, ``k`` the parameter (a decay of the top state)."""

    def kernel(t, jet, plan, p, signals, scale=1.0):
        return {"y": scale * np.full(2, rest)}

    return {
        "params": {"k": 1.0},
        "states": {"y": {"field": "y", "order": 0, "domain": "node"}},
        "fields": {"y": {"domain": "node", "role": "all", "clamp": None, "clamp_role": None}},
        "tops": {"y": ["y"]},
        "update_order": ["y"],
        "key": "test",
        "clamps": [],
        "rhs_kernel": kernel,
        "decay_kernel": lambda p: {"y": p["k"]},
        "top_rates": explicit_top_rates,
        "tableau": tableau,
    }


def oscillator_model(tableau=None) -> dict:
    """``q'' = -q`` as the chain ``q, q_d1`` (no decay)."""

    def kernel(t, jet, plan, p, signals, scale=1.0):
        return {"q_d1": -scale * jet["q"]}

    return {
        **decay_model(tableau),
        "states": {
            "q": {"field": "q", "order": 0, "domain": "node"},
            "q_d1": {"field": "q", "order": 1, "domain": "node"},
        },
        "tops": {"q": ["q", "q_d1"]},
        "update_order": ["q", "q_d1"],
        "rhs_kernel": kernel,
        "decay_kernel": lambda p: {},
    }


def plan_for(n: int = 2) -> dict:
    return {"n": n, "m": 0, "buffers": {}, "live": {}, "roles": {}, "field_live": {}}


def integrate(step, model, state, dt, steps, params=None):
    plan = plan_for()
    for k in range(steps):
        state = step(k * dt, dt, state, plan, params, lambda t: {}, model)
    return state


def tableau_of(name: str) -> dict:
    return INTEGRATORS[name].tableau.as_floats()


def test_rk4_on_a_decay_matches_exp_with_order_4() -> None:
    model = decay_model(tableau_of("rk4"))
    errors = []
    for steps in (10, 20, 40):
        y = integrate(runge_kutta_step, model, {"y": np.ones(2)}, 1.0 / steps, steps)["y"]
        errors.append(abs(y[0] - math.exp(-1.0)))
    assert errors[-1] < 1e-8
    orders = [math.log2(a / b) for a, b in itertools.pairwise(errors)]
    assert all(abs(p - 4) < 0.2 for p in orders), orders


def test_heun_has_order_2_on_the_oscillator() -> None:
    model = oscillator_model(tableau_of("heun"))
    errors = []
    for steps in (40, 80, 160):
        start = {"q": np.ones(2), "q_d1": np.zeros(2)}
        q = integrate(runge_kutta_step, model, start, 2.0 / steps, steps)["q"]
        errors.append(abs(q[0] - math.cos(2.0)))
    orders = [math.log2(a / b) for a, b in itertools.pairwise(errors)]
    assert all(abs(p - 2) < 0.2 for p in orders), orders


def test_euler_fast_path_is_the_euler_recursion() -> None:
    """``y <- y (1 - dt k) + dt rest`` with dt folded into the kernel's output."""
    model, dt, k, rest = decay_model(rest=0.5), 0.1, 3.0, 0.5
    y = integrate(euler_step, model, {"y": np.ones(2)}, dt, 7, {"k": k})["y"]
    expected = 1.0
    for _ in range(7):
        expected = expected * (1 - dt * k) + dt * rest
    np.testing.assert_allclose(y, expected, rtol=1e-14)


def test_euler_moves_lower_states_with_the_old_next_one() -> None:
    dt = 0.1
    state = integrate(euler_step, oscillator_model(), {"q": np.ones(2), "q_d1": np.ones(2)}, dt, 1)
    np.testing.assert_allclose(state["q"], 1 + dt)  # not 1 + dt * (1 - dt)
    np.testing.assert_allclose(state["q_d1"], 1 - dt)


def test_semi_implicit_euler_is_the_symplectic_map() -> None:
    """``p <- p - dt q``, then ``q <- q + dt p`` with the new ``p``: the exact map, and
    a bounded energy over many periods."""
    dt, q, p = 0.1, 1.0, 0.0
    state = {"q": np.full(2, q), "q_d1": np.full(2, p)}
    state = integrate(semi_implicit_step, oscillator_model(), state, dt, 1000)
    for _ in range(1000):
        p -= dt * q
        q += dt * p
    np.testing.assert_allclose(state["q"], q, rtol=1e-12)
    assert abs(state["q"][0] ** 2 + state["q_d1"][0] ** 2 - 1) < 0.1


def test_a_step_allocates_its_stages_once() -> None:
    model, plan = decay_model(tableau_of("rk4")), plan_for()
    state = {"y": np.ones(2)}
    runge_kutta_step(0.0, 0.1, state, plan, None, lambda t: {}, model)
    held = plan["buffers"][("test", "rk")][1]
    runge_kutta_step(0.1, 0.1, state, plan, None, lambda t: {}, model)
    assert plan["buffers"][("test", "rk")][1] is held


def test_rates_of_a_chain_and_a_scalar_kernel_output() -> None:
    model = oscillator_model()
    model["rhs_kernel"] = lambda t, jet, plan, p, signals, scale=1.0: {"q_d1": 0}
    rates = state_rates(
        0.0, {"q": np.ones(2), "q_d1": np.full(2, 3.0)}, plan_for(), None, {}, model
    )
    assert rates["q"].tolist() == [3.0, 3.0]
    assert np.broadcast_to(rates["q_d1"], 2).tolist() == [0, 0]


@pytest.mark.parametrize("name", ["heun", "rk4"])
def test_a_kernel_output_that_is_a_constant_integrates(name) -> None:
    """A free particle: ``q'' = 0`` comes out of a kernel as the number 0."""
    model = oscillator_model(tableau_of(name))
    model["rhs_kernel"] = lambda t, jet, plan, p, signals, scale=1.0: {"q_d1": 0}
    state = integrate(runge_kutta_step, model, {"q": np.ones(2), "q_d1": np.full(2, 2.0)}, 0.1, 5)
    np.testing.assert_allclose(state["q"], 1 + 2.0 * 0.5)


def test_exact_policy_assembles_and_solves_its_system() -> None:
    """``2 y' + 2 lam = 4`` and ``lam = 1`` per node: ``y' = 1`` from one dense solve."""

    def kernel(t, jet, plan, p, signals, scale=1.0):
        return {"A_y_y_local": 2.0, "A_y_lam_local": 2.0, "A_lam_lam_local": 1.0,
                "b_y": np.full(2, 4.0), "b_lam": 1.0}  # fmt: skip

    entries = [
        {"equation": e, "unknown": u, "kind": "local", "end": None, "output": f"A_{e}_{u}_local"}
        for e, u in (("y", "y"), ("y", "lam"), ("lam", "lam"))
    ]
    fields = {name: {"domain": "node"} for name in ("y", "lam")}
    model = {**decay_model(), "rhs_kernel": kernel, "fields": fields, "solver": None}
    model |= {"exact_blocks": [("y", "node", 1), ("lam", "node", 0)], "exact_entries": entries}
    plan = {**plan_for(), "src": np.zeros(0, int), "dst": np.zeros(0, int)}
    plan["field_live"] = {"y": np.ones(2, bool), "lam": np.ones(2, bool)}
    state = {"y": np.zeros(2)}
    rows, cols, values, b, size = constraint_system_of(0.0, state, plan, None, {}, model)
    matrix = np.zeros((size, size))
    np.add.at(matrix, (rows, cols), values)
    assert matrix.tolist() == [[2, 0, 2, 0], [0, 2, 0, 2], [0, 0, 1, 0], [0, 0, 0, 1]]
    assert b.tolist() == [4, 4, 1, 1]
    with pytest.raises(RuntimeError, match="set_solver"):
        exact_top_rates(0.0, {"y": np.zeros(2)}, plan, {"k": 1.0}, {}, 1.0, model)
    install_solver(lambda r, c, v, rhs, n: np.linalg.solve(matrix, rhs), model)
    rates = exact_top_rates(0.0, {"y": np.zeros(2)}, plan, {"k": 1.0}, {}, 0.5, model)
    assert rates["y"].tolist() == [0.5, 0.5] and plan["multipliers"]["lam"].tolist() == [1, 1]
