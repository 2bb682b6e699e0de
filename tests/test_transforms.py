"""Transforms against hand-derived systems (docs/theory.md sections 2-3)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from stlp_sym.errors import ActionError
from stlp_sym.symbolic.action import Action
from stlp_sym.symbolic.derivation import derive
from stlp_sym.symbolic.frames import OutSum
from stlp_sym.symbolic.models import MODELS
from stlp_sym.symbolic.transforms import Options, apply_options, flip, normalise, penalty
from stlp_sym.symbolic.vocabulary import IS_OUTPUT, Field, Parameter, fn, t

c, theta, q, r, r_w, m_x, m_w, alpha, beta, rho, kappa = sp.symbols(
    "c theta q r r_w m_x m_w alpha beta rho kappa"
)
x, z, w, a = fn("x"), fn("z"), fn("w"), fn("a")
lh, lh_dst = fn("lambda_hat"), fn("lambda_hat__dst")
x_src, x_dst, a_dst = fn("x__src"), fn("x__dst"), fn("a__dst")
wd = w.diff(t)


def _sigma_prime(arg: sp.Expr) -> sp.Expr:
    return 1 - sp.tanh(arg) ** 2


def _same(ours: sp.Expr, hand: sp.Expr) -> bool:
    """Equal as expressions, each neighbour sum read as a generic linear functional."""
    generic = sp.Dummy("arc")
    flatten = lambda e: sp.expand(e.replace(OutSum, lambda g: generic * g))  # noqa: E731
    return flatten(ours - hand) == 0


def _solution(model: str, **options) -> dict:
    entry = MODELS[model]
    opts = Options(**{**entry.options.__dict__, **options})
    return apply_options(entry.build(), opts).require_system().solution


def test_stlp_default_system_is_the_hand_written_one() -> None:
    sol = _solution("stlp")
    assert _same(sol["x"], c * (sp.tanh(a) - x))
    costate = -(theta + c) * lh - q * IS_OUTPUT * (x - z)
    costate += c * OutSum(lh_dst * _sigma_prime(a_dst) * w)
    assert _same(sol["lambda_hat"], costate)
    weights = -theta * wd - r_w / r * w + c / r * lh_dst * _sigma_prime(a_dst) * x_src
    assert _same(sol["w"], weights)


def test_stlp_holonomic_with_penalty_is_the_hand_written_one() -> None:
    sol = _solution("stlp-holonomic")
    g, g_dst = x - sp.tanh(a), x_dst - sp.tanh(a_dst)
    free_dst = sp.Symbol("is_free__dst")
    # the x equation holds on the free nodes only: there [i in N] = 1
    neuron = -theta * x.diff(t) - q / m_x * IS_OUTPUT * (x - z) - beta / m_x * g
    neuron += beta / m_x * OutSum(free_dst * g_dst * _sigma_prime(a_dst) * w)
    assert _same(sol["x"], neuron)
    weights = -theta * wd - r_w / m_w * w
    weights += beta / m_w * free_dst * g_dst * _sigma_prime(a_dst) * x_src
    assert _same(sol["w"], weights)


def test_stlp_holonomic_with_ascent_is_the_hand_written_one() -> None:
    sol = _solution("stlp-holonomic", policy="ascent")
    assert _same(sol["lambda_hat"], rho * (x - sp.tanh(a)) - kappa * lh)


def test_cal4_weights_are_fourth_order_as_derived_by_hand() -> None:
    sol = _solution("cal4")
    coupling = c * lh_dst * _sigma_prime(a_dst) * x_src
    hand = (
        -r_w * w
        + coupling
        - r * (theta * wd + w.diff(t, 2))
        - alpha * (theta**2 * w.diff(t, 2) + 2 * theta * w.diff(t, 3))
    ) / alpha
    assert _same(sol["w"], hand)


def _weight_roots(flipped: bool) -> np.ndarray:
    """Roots of the weights' linear dynamics (coupling to lambda_hat removed), at the defaults."""
    entry = MODELS["cal4"]
    opts = Options(**{**entry.options.__dict__, "flip": flipped})
    derivation = apply_options(entry.build(), opts)
    rhs = derivation.require_system().solution["w"].subs(lh_dst, 0)
    s = sp.Symbol("s")
    # w'''' = rhs(w, ..., w''')  ->  s^4 - sum_k coeff_k s^k
    poly = s**4 - sum(rhs.coeff(w.diff(t, k) if k else w) * s**k for k in range(4))
    defaults = {sp.Symbol(k): v for k, v in derivation.action.parameter_defaults.items()}
    coefficients = [float(v) for v in sp.Poly(poly.subs(defaults), s).all_coeffs()]
    return np.roots(coefficients)


def test_cal4_weight_dynamics_are_stable_only_with_the_flip() -> None:
    assert _weight_roots(flipped=True).real.max() == pytest.approx(-0.5, abs=1e-6)
    assert _weight_roots(flipped=False).real.max() > 0


@pytest.mark.parametrize("model", ["stlp", "stlp-holonomic", "cal4"])
def test_normalisation_leaves_no_exponential(model: str) -> None:
    derivation = apply_options(MODELS[model].build(), MODELS[model].options)
    exprs = [*derivation.require_system().solution.values()]
    exprs += [eq.P0 for eq in derivation.equations] + [eq.P1 for eq in derivation.equations]
    assert not any(e.has(sp.exp) for e in exprs)


def _one_neuron() -> Action:
    """L = phi q/2 x^2 + lambda (xdot + k x): solved by hand in the test below."""
    xx, lam = fn("x"), fn("lambda")
    k = sp.Symbol("k")
    return Action(
        fields=[Field("x"), Field("lambda", multiplier=True)],
        parameters=[Parameter("q", 1.0), Parameter("k", 2.0), Parameter("theta", 1.0)],
        node=sp.exp(theta * t) * q / 2 * xx**2 + lam * (xx.diff(t) + k * xx),
        factor=sp.exp(theta * t),
    )


def test_sign_convention_on_a_hand_solved_case() -> None:
    xx, lam, k = fn("x"), fn("lambda"), sp.Symbol("k")
    phi = sp.exp(theta * t)
    raw = derive(_one_neuron())
    # + lambda G: the multiplier's equation is the constraint G itself.
    assert sp.expand(raw.equation("lambda") - (xx.diff(t) + k * xx)) == 0
    # EL of x: phi q x + k lambda - lambdadot = 0.
    assert sp.expand(raw.equation("x") - (phi * q * xx + k * lam - lam.diff(t))) == 0
    assert sp.expand(raw.require_system().solution["lambda"] - (phi * q * xx + k * lam)) == 0
    flipped = flip(raw)
    assert sp.expand(flipped.require_system().solution["lambda"] + phi * q * xx + k * lam) == 0
    hat = normalise(flipped).require_system().solution["lambda_hat"]
    assert sp.expand(hat - (-q * xx - (k + theta) * lh)) == 0


def test_normalised_and_raw_costates_agree() -> None:
    """docs/theory.md 4.2 (iii) symbolically: lambda_hatdot = lambdadot / phi - theta lambda_hat."""
    flipped = flip(derive(_one_neuron()))
    raw = flipped.require_system().solution["lambda"]
    hat = normalise(flipped).require_system().solution["lambda_hat"]
    phi = sp.exp(theta * t)
    expected = raw.subs(fn("lambda"), phi * lh) / phi - theta * lh
    assert sp.expand(hat - expected) == 0


def test_flip_leaves_multipliers_alone() -> None:
    flipped = flip(derive(MODELS["stlp"].build()))
    signs = {eq.field.name: eq.sign for eq in flipped.equations}
    assert signs == {"x": -1, "lambda": 1, "w": -1}


def test_penalty_needs_linear_multiplier() -> None:
    lam, xx = fn("lambda"), fn("x")
    act = Action(
        fields=[Field("x"), Field("lambda", multiplier=True)],
        node=xx.diff(t) ** 2 + lam**2 * xx,
    )
    with pytest.raises(ActionError, match="linear in multiplier 'lambda'"):
        penalty(act)


def test_options_reject_unknown_policy_and_integrator() -> None:
    with pytest.raises(ActionError, match="policy 'newton'"):
        Options(policy="newton")
    with pytest.raises(ActionError, match="integrator 'leapfrog'"):
        Options(integrator="leapfrog")


@pytest.mark.parametrize(
    ("model", "policy", "name"),
    [
        ("stlp-holonomic", "penalty", "beta"),
        ("stlp-holonomic", "ascent", "rho"),
        ("stlp-holonomic", "ascent", "kappa"),
        ("stlp-holonomic", "exact", "baumgarte_a"),
        ("stlp-holonomic", "exact", "baumgarte_b"),
    ],
)
def test_policy_owned_names_are_refused_naming_the_policy(
    model: str, policy: str, name: str
) -> None:
    action = MODELS[model].build()
    own = sp.Symbol(name)
    action = action.replace(
        parameters=(*action.parameters, Parameter(name, 1.0)),
        node=action.node + action.factor * own * x**2 / 2,
    )
    with pytest.raises(ActionError, match=f"{name!r} is a parameter of policy {policy!r}.*rename"):
        apply_options(action, Options(policy=policy))
    renamed = action.replace(
        parameters=(*action.parameters[:-1], Parameter(f"{name}_1", 1.0)),
        node=action.node.xreplace({own: sp.Symbol(f"{name}_1")}),
    )
    derived = apply_options(renamed, Options(policy=policy)).action
    assert {name, f"{name}_1"} <= set(derived.parameter_defaults)
