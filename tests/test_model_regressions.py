"""Legal models that crashed or gave wrong numbers, found by the pipeline's property test.

Each is a model file; the command line runs on it as a user would. A verification that passes is
the independent reference (finite differences of the action, the unrolled derivation).
"""

from __future__ import annotations

import time

import pytest

from stlp_sym.cli import main

E1 = """
[parameters]
c = 1.0
[fields]
x = "node"
lam = { domain = "node", role = "free", multiplier = true }
[terms]
node = "Dt(x)**2/2 + lam * (Dt(x)*Dt(x) - c)"
[options]
flip = true
normalise = false
policy = "ascent"
"""
E2 = """
[parameters]
k = 0.5
[fields]
x = "node"
y = "node"
[signals]
u = "input"
[clamps]
x = "u"
[terms]
node = "Dt(x)**2/2 + Dt(y)**2/2 + k*Dt(x)*Dt(y) + x*y"
[options]
flip = false
normalise = false
"""
G = """
[parameters]
c = 1.0
[fields]
x = "node"
w = "edge"
lam = { domain = "node", multiplier = true }
[aggregates]
a = "in_sum(w*Dt(w))"
[terms]
node = "Dt(x)**2/2 + a*Dt(x) + lam*(x - c)"
edge = "Dt(w)**2/2"
[options]
flip = false
normalise = false
policy = "exact"
"""
H = """
[fields]
x = "node"
[signals]
z = "output"
[terms]
node = "Dt(x)**2/2 + Dt(x)*x*z"
[options]
flip = false
normalise = false
"""
SLOW = """
[fields]
x = "node"
lam = { domain = "node", multiplier = true }
[terms]
node = "Dt(x)**2/2 + lam * (Dt(x) - acos(tanh(Dt(x))/2))"
[options]
flip = false
normalise = false
policy = "penalty"
"""
J = """
[parameters]
c = 1.0
[fields]
x = "node"
lam = { domain = "node", role = "free", multiplier = true }
[terms]
node = "Dt(x)**2/2 + lam * (Dt(x) + c*x)"
[options]
flip = false
normalise = false
policy = "exact"
"""
L = """
[fields]
x = "node"
[terms]
node = "Dt(x)**2/2 + abs(tanh(x))"
[options]
flip = false
normalise = false
"""
M = """
[parameters]
c = 1.0
[fields]
x = "node"
y = "node"
lam = { domain = "node", multiplier = true }
[terms]
node = "Dt(x)**2/2 + Dt(y)**2/2 + lam * (x - c*abs(tanh(y)))"
[options]
flip = false
normalise = false
policy = "exact"
"""
N = """
[parameters]
c = 1.0
[fields]
x = "node"
y = "node"
lam = { domain = "node", multiplier = true }
[terms]
node = "Dt(x)**2/2 + Dt(y)**2/2 + lam * (x - c*tanh(y))"
[options]
flip = false
normalise = false
policy = "exact"
"""


def model_file(tmp_path, text: str):
    path = tmp_path / "model.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "text",
    [E1, E2, G, N],
    ids=[
        "multiplier-on-free-nodes",
        "clamped-field-coupled",
        "exact-aggregate-velocity",
        "exact-locally-explicit",
    ],
)
def test_verify_passes(tmp_path, capsys, text) -> None:
    """Wrong leading derivatives on nodes where a coupled field does not exist, a velocity inside
    an aggregate under the exact policy (KeyError 'w_d2'), an exact system that happens to be
    explicit (KeyError 'lam')."""
    assert main(["verify", model_file(tmp_path, text), "--graph", "chain:3"]) == 0
    assert "overall: PASS" in capsys.readouterr().out


def test_abs_in_an_exact_constraint_is_verified_where_it_is_smooth(tmp_path, capsys) -> None:
    """``abs`` in an exact constraint raised KeyError 'Zero_d1'. The identities and the unrolled
    reference pass; the discrete action's order of convergence cannot be 2 across the kink of
    ``abs``, so that one check is not asked of it."""
    main(["verify", model_file(tmp_path, M), "--graph", "chain:3"])
    rows = {line.split("  ")[0]: line for line in capsys.readouterr().out.splitlines()}
    for check in ("P0 = dL/dq", "s P0 + P1 = 0", "integrator order (euler)", "unrolled reference"):
        assert "PASS" in rows[check], rows[check]


def test_abs_of_a_function_stays_finite_at_its_kink(tmp_path, capsys) -> None:
    """``abs(tanh(x))`` at ``x = 0``: no 0/0 from a split ``u*sign(u)/u``."""
    argv = ["run", model_file(tmp_path, L), "--graph", "chain:2", "--horizon", "1"]
    assert main(argv) == 0
    assert "diverged" not in capsys.readouterr().out


def test_a_signal_derivative_the_task_lacks_is_named(tmp_path, capsys) -> None:
    argv = ["run", model_file(tmp_path, H), "--graph", "chain:3", "--horizon", "1"]
    assert main(argv) == 2
    assert "z_d1" in capsys.readouterr().err


def test_a_singular_exact_system_is_an_error_not_a_nan(tmp_path, capsys) -> None:
    argv = ["run", model_file(tmp_path, J), "--graph", "chain:3", "--horizon", "1"]
    assert main(argv) == 2
    assert "singular" in capsys.readouterr().err


def test_a_penalised_velocity_constraint_derives_in_bounded_time(tmp_path, capsys) -> None:
    """The block determinant was simplified symbolically: 99 s before, about 1 s now."""
    start = time.perf_counter()
    assert main(["derive", model_file(tmp_path, SLOW)]) == 0
    assert time.perf_counter() - start < 20
