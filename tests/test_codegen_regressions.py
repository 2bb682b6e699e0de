"""Small legal models that used to crash inside code generation or the generated module.

Each model is a model file's text, read with :func:`stlp_sym.parse.modelfile.load_model`,
generated, imported and run for 20 steps, and compared with a solution found without the
package: the free particle's ``x0 + v0 t``, the closed forms of linear systems, a SciPy
integration of the equation written out by hand.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg

from stlp_sym.cache.store import build
from stlp_sym.checks import verify_model
from stlp_sym.graph import Digraph
from stlp_sym.parse.modelfile import load_model
from stlp_sym.runtime.sparse import sparse_solve

STEPS, DT = 20, 0.01
FREE_PARTICLE = """
[fields]
x = "node"
[terms]
node = "Dt(x)**2/2"
[options]
flip = false
normalise = false
"""
#: A constraint on a velocity, with a time-dependent factor left unnormalised.
VELOCITY_CONSTRAINT = """
factor = "exp(theta*t)"
[parameters]
c = 1.0
theta = 0.5
[fields]
x = "node"
lam = { domain = "node", multiplier = true }
[terms]
node = "Dt(x)**2/2 + lam * (Dt(x) + c*x)"
[options]
normalise = false
"""


def module_of(text: str, tmp_path, **options):
    path = tmp_path / "model.toml"
    path.write_text(text)
    model = load_model(path)
    module = build(model.build(), replace(model.options, **options), out_dir=tmp_path)
    if hasattr(module, "set_solver"):
        module.set_solver(sparse_solve)
    return module


def run(module, state: dict, graph: Digraph) -> dict:
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    state = {name: np.array(value, dtype=float) for name, value in state.items()}
    for k in range(STEPS):
        state = module.step(k * DT, DT, state, plan, None, lambda t: {})
    return state


CHAIN = Digraph.from_spec("chain:3")
X0, V0 = np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.0, -1.0])


@pytest.mark.parametrize("integrator", ["euler", "semi-implicit", "heun", "rk4"])
def test_free_particle_moves_on_a_straight_line(tmp_path, integrator) -> None:
    """``x'' = 0``: the kernel's output is the number 0 (it crashed rk4 and heun)."""
    module = module_of(FREE_PARTICLE, tmp_path, integrator=integrator)
    state = run(module, {"x": X0, "x_d1": V0}, CHAIN)
    np.testing.assert_allclose(state["x"], X0 + V0 * STEPS * DT, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(state["x_d1"], V0, rtol=0, atol=0)


@pytest.mark.parametrize("integrator", ["euler", "rk4"])
def test_velocity_constraint_under_penalty_keeps_its_time_dependent_decay(tmp_path, integrator):
    """With ``phi = exp(theta t)`` not normalised away, the damping of ``x'`` depends on ``t``
    (it raised ``KeyError: 't'``): it stays in the kernel, and the run follows

        (1 + phi beta) x'' = -phi beta ((c^2 + c theta) x + (2 c + theta) x')."""
    module = module_of(VELOCITY_CONSTRAINT, tmp_path, policy="penalty", integrator=integrator)
    assert module.decay_rates() == {}
    c, theta, beta = (module.PARAMS[name] for name in ("c", "theta", "beta"))

    def rates(t, y):
        phi_beta = np.exp(theta * t) * beta
        x, v = y
        acceleration = -phi_beta * ((c * c + c * theta) * x + (2 * c + theta) * v)
        return [v, acceleration / (1 + phi_beta)]

    reference = scipy.integrate.solve_ivp(
        rates, (0, STEPS * DT), [X0[0], V0[0]], rtol=1e-12, atol=1e-12
    ).y[:, -1]
    state = run(module, {"x": X0, "x_d1": V0}, CHAIN)
    tolerance = 1e-8 if integrator == "rk4" else 1e-2  # Euler: first order, |x''| ~ 1
    np.testing.assert_allclose(state["x"][0], reference[0], atol=tolerance)
    np.testing.assert_allclose(state["x_d1"][0], reference[1], atol=tolerance)


def test_velocity_constraint_under_ascent_is_a_linear_system(tmp_path) -> None:
    """``x'' = -c rho x - rho x' + (kappa - c) lam``, ``lam' = c rho x + rho x' - kappa lam``:
    the step of rk4 against the matrix exponential."""
    module = module_of(VELOCITY_CONSTRAINT, tmp_path, policy="ascent", integrator="rk4")
    c, rho, kappa = (module.PARAMS[name] for name in ("c", "rho", "kappa"))
    matrix = np.array([[0, 1, 0], [-c * rho, -rho, kappa - c], [c * rho, rho, -kappa]], dtype=float)
    lam0 = np.array([0.2, 0.1, -0.3])
    state = run(module, {"x": X0, "x_d1": V0, "lam": lam0}, CHAIN)
    flow = scipy.linalg.expm(matrix * STEPS * DT)
    expected = flow @ np.vstack([X0, V0, lam0])
    got = np.vstack([state["x"], state["x_d1"], state["lam"]])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-8)  # rk4 at dt kappa = 0.2


@pytest.mark.parametrize("integrator", ["euler", "rk4"])
def test_velocity_constraint_under_exact_policy_is_kept(tmp_path, integrator) -> None:
    """The multiplier's own derivative is the unknown, so it has a state (it raised
    ``KeyError: 'lam'``). From ``G = x' + c x = 0`` and ``G' = 0`` the solution is
    ``x = x0 exp(-c t)``, which the constraint's Baumgarte form keeps."""
    module = module_of(VELOCITY_CONSTRAINT, tmp_path, policy="exact", integrator=integrator)
    assert "lam" in module.STATES
    c = module.PARAMS["c"]
    start = {"x": X0, "x_d1": -c * X0, "x_d2": c * c * X0, "lam": np.zeros(3)}
    state = run(module, start, CHAIN)
    tolerance = 1e-9 if integrator == "rk4" else 1e-2
    np.testing.assert_allclose(state["x"], X0 * np.exp(-c * STEPS * DT), rtol=tolerance)


@pytest.mark.parametrize(
    ("text", "options"),
    [
        (FREE_PARTICLE, {"integrator": "rk4"}),
        (VELOCITY_CONSTRAINT, {"policy": "penalty"}),
        (VELOCITY_CONSTRAINT, {"policy": "exact", "integrator": "rk4"}),
    ],
    ids=["free-particle-rk4", "velocity-penalty", "velocity-exact"],
)
def test_verify_passes_on_the_regression_models(tmp_path, text, options) -> None:
    path = tmp_path / "model.toml"
    path.write_text(text)
    model = load_model(path)
    report = verify_model(model, replace(model.options, **options), "chain:3")
    assert report.passed, [(c.name, c.note) for c in report.checks if not c.passed]


#: ``L = x'^2/2 - x sign(x) = x'^2/2 - |x|`` (fields are real): ``x'' = -sign(x)``.
SIGN_WELL = """
[fields]
x = "node"
[terms]
node = "Dt(x)**2/2 - x*sign(x)"
[options]
flip = false
normalise = false
integrator = "rk4"
"""


@pytest.mark.parametrize("form", ["x*sign(x)", "abs(x)"])
def test_sign_and_abs_differentiate_as_for_real_fields(tmp_path, form) -> None:
    """``d/dx (x sign x) = sign x`` away from 0 (it raised ``KeyError: 'sign_d1'``; ``abs`` was
    refused for ``im(...)``): a ball in a V-shaped well falls at constant acceleration, which
    RK4 follows exactly while ``x`` keeps its sign."""
    module = module_of(SIGN_WELL.replace("x*sign(x)", form), tmp_path)
    x0, v0 = np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.0, -1.0])
    state = run(module, {"x": x0, "x_d1": v0}, CHAIN)
    elapsed = STEPS * DT
    expected = x0 + v0 * elapsed - np.sign(x0) * elapsed**2 / 2
    np.testing.assert_allclose(state["x"], expected, rtol=1e-12)
    np.testing.assert_allclose(state["x_d1"], v0 - np.sign(x0) * elapsed, rtol=1e-12)
