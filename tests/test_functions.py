"""The non-linearities (abs, sign, heaviside, max, min, relu, erf, sigmoid, softplus, logsigmoid,
log1p, expm1) from model file to run: the expanded equations against SymPy's ``euler_equations``
on the unrolled action with real functions and textbook formulas, ``verify`` in both backends on
a DAG and on a graph with cycles and self-loops, the two backends against each other, the stable
printed forms against the standard library, and the runner on values that are not finite."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from sympy.calculus.euler import euler_equations
from sympy.core.function import AppliedUndef
from unrolled import unrolled_lagrangian

import stlp_sym
from stlp_sym.cache.store import build
from stlp_sym.checks import verify
from stlp_sym.codegen.printer import numpy_code
from stlp_sym.errors import StlpWarning
from stlp_sym.graph import Digraph
from stlp_sym.parse.expressions import ParseError, parse_expression
from stlp_sym.parse.modelfile import read_model
from stlp_sym.runner.loop import run
from stlp_sym.symbolic.derivation import derive
from stlp_sym.symbolic.expansion import expand
from stlp_sym.symbolic.functions import elementary

GRAPHS = {"dag": "feedforward:2,2,1", "cycles": "random:6,12,0:in=1:out=1"}

# Per function: (f in the constraint x' = c (f(a) - x), g in the weights' regulariser).
USES = {
    "abs": ("tanh(a)", "abs(w)"),
    "sign": ("tanh(a) + sign(a) / 4", "w**2 / 2 + sign(w) * w**3 / 3"),
    "heaviside": ("heaviside(a) * a", "heaviside(w) * w**2"),
    "max": ("max(a, -a / 2)", "max(w**2, w / 2)"),
    "min": ("min(a, 1 - a)", "w**2 / 2 - min(w, 0) / 3"),
    "relu": ("relu(a)", "w**2 / 2 + relu(w)"),
    "erf": ("erf(a)", "erf(w) * w"),
    "sigmoid": ("sigmoid(a)", "w**2 / 2 + sigmoid(w)"),
    "softplus": ("softplus(a)", "softplus(w) + softplus(-w)"),
    "logsigmoid": ("logsigmoid(a) + 1", "-logsigmoid(w) - logsigmoid(-w)"),
    "log1p": ("log1p(a**2)", "log1p(w**2)"),
    "expm1": ("expm1(-a**2)", "expm1(w**2 / 4)"),
}
SMOOTH = ("erf", "sigmoid", "softplus", "logsigmoid", "log1p", "expm1")
KINKED = ("abs", "sign", "heaviside", "max", "min", "relu")

MODEL = """
name = "{name}"
factor = "exp(theta * t)"
[parameters]
c = 1.0
theta = 0.5
q = 10.0
r = 0.5
r_w = 0.2
[fields]
x = "node"
lambda = {{ domain = "node", role = "free", multiplier = true }}
w = "edge"
[signals]
u = "input"
z = "output"
[clamps]
x = {{ signal = "u", role = "input" }}
[aggregates]
a = "in_sum(w * src(x))"
[terms]
node = "phi * q * is_output * {objective} + lambda * (Dt(x) - c * ({f} - x))"
edge = "phi * (r / 2 * Dt(w)**2 + r_w * ({g}))"
"""


def _model(tmp_path: Path, name: str, uses: list[str], objective: str = "(x - z)**2 / 2"):
    f = " + ".join(f"({USES[u][0]})" for u in uses)
    g = " + ".join(f"({USES[u][1]})" for u in uses)
    path = tmp_path / f"{name}.toml"
    path.write_text(MODEL.format(name=name, objective=objective, f=f, g=g), encoding="utf-8")
    return read_model(path)


def _graph(spec: str) -> Digraph:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StlpWarning)
        return Digraph.from_spec(spec)


def _real(expr: sp.Expr) -> tuple[sp.Expr, dict]:
    """Every concrete function made real (``x[0](t)`` with ``real=True``), and the way back."""
    there = {f: sp.Function(f.func.__name__, real=True)(*f.args) for f in expr.atoms(AppliedUndef)}
    back = {v: k for k, v in there.items()}
    return expr.xreplace(there), back


def _point(exprs: list[sp.Expr], seed: int) -> dict:
    """Values of both signs (at least 0.2 away from 0, where the kinks are) for functions and
    derivatives; positive parameters."""
    atoms = set()
    for expr in exprs:
        atoms |= expr.atoms(sp.Derivative) | expr.atoms(AppliedUndef) | expr.free_symbols
    rng = np.random.default_rng(seed)
    point = {}
    for atom in sorted(atoms, key=sp.srepr):
        size = rng.uniform(0.2, 1.2)
        sign = 1 if isinstance(atom, sp.Symbol) else rng.choice([-1, 1])
        point[atom] = sp.Float(sign * size)
    return point


@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("function", USES)
def test_expanded_equations_match_euler_equations_with_real_functions(
    tmp_path: Path, function: str, graph: str
) -> None:
    """The reference differentiates the textbook formula (``log(1 + exp(a))``, ``max`` through
    ``|a - b|``) of real functions with SymPy's ``euler_equations``; no code of the package's
    derivation is shared."""
    action, _ = _model(tmp_path, function, [function], objective="softplus(x - z)")
    digraph = _graph(GRAPHS[graph])
    ours = expand(derive(action), digraph).equations
    lagrangian, unknowns = unrolled_lagrangian(action, digraph)
    real, back = _real(elementary(lagrangian))
    # away from 0: sign(u) = u / |u|, heaviside(u) = (1 + u / |u|) / 2, differentiated as such
    real = real.replace(sp.sign, lambda u: u / sp.Abs(u))
    real = real.replace(sp.Heaviside, lambda u, *_: (1 + u / sp.Abs(u)) / 2)
    keys = list(unknowns)
    targets = [_real(unknowns[k])[0] for k in keys]
    equations = euler_equations(real, targets, sp.Symbol("t"))
    # doit: the derivative of |u| comes as sign(u) Derivative(u, u)
    reference = {
        k: (eq.lhs - eq.rhs).doit().xreplace(back) for k, eq in zip(keys, equations, strict=True)
    }
    assert set(reference) == set(ours)
    for seed in range(3):
        point = _point([*ours.values(), *reference.values()], seed)
        for key, ref in reference.items():
            expected = complex(sp.N(ref.xreplace(point))).real
            got = complex(sp.N(ours[key].xreplace(point))).real
            assert got == pytest.approx(expected, rel=1e-10, abs=1e-10), key


def test_abs_regulariser_derives_to_sign_without_re_or_im(tmp_path: Path) -> None:
    action, _ = _model(tmp_path, "l1", ["abs"])
    equation = derive(action).equation("w")
    assert not equation.has(sp.re, sp.im, sp.Abs, sp.DiracDelta)
    w = stlp_sym.fn("w")
    phi = sp.exp(sp.Symbol("theta") * stlp_sym.t)
    assert equation.coeff(sp.sign(w)) == sp.Symbol("r_w") * phi  # d|w|/dw, before the flip


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("uses", [SMOOTH, KINKED], ids=["smooth", "kinked"])
def test_verify_passes(tmp_path: Path, uses: tuple[str, ...], graph: str, backend: str) -> None:
    if backend == "numba":
        pytest.importorskip("numba")
    action, options = _model(tmp_path, f"with_{uses[0]}", list(uses))
    # rk4 on kinks: its order is observed before the first kink crossing
    for integrator in ("euler", "rk4") if uses == KINKED else ("euler",):
        chosen = replace(options, backend=backend, integrator=integrator)
        report = verify(action, chosen, _graph(GRAPHS[graph]))
        assert report.passed, report.table()


@pytest.mark.parametrize("uses", [SMOOTH, KINKED], ids=["smooth", "kinked"])
def test_numba_steps_agree_with_numpy(tmp_path: Path, uses: tuple[str, ...]) -> None:
    pytest.importorskip("numba")
    action, options = _model(tmp_path, f"agree_{uses[0]}", list(uses))
    graph = _graph(GRAPHS["cycles"])
    states = []
    for backend in ("numpy", "numba"):
        module = build(action, replace(options, backend=backend, integrator="heun"))
        plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
        state = module.init(plan, None, [0, 1])

        def signals(time: float) -> dict:
            return {"u": np.full(graph.n, math.sin(time)), "z": np.full(graph.n, 0.5)}

        for k in range(500):
            module.step(k * 1e-3, 1e-3, state, plan, None, signals)
        states.append(state)
    for name, value in states[0].items():
        scale = max(1.0, float(np.max(np.abs(value))))
        assert np.max(np.abs(states[1][name] - value)) <= 1e-12 * scale, name


def _evaluate(code: str, a: np.ndarray) -> np.ndarray:
    namespace = {"np": np, "math": math, "a": a}
    return eval(code, namespace)  # printed by the package from a fixed expression


@pytest.mark.parametrize("scalar", [False, True])
def test_printed_forms_are_stable_and_accurate(scalar: bool) -> None:
    """The printed code against the standard library's functions (in ``math``), including far
    out where the textbook formulas overflow, with NumPy's warnings as errors."""
    a = sp.Symbol("a")
    funcs = stlp_sym
    references = {
        funcs.softplus: lambda v: max(v, 0) + math.log1p(math.exp(-abs(v))),
        funcs.sigmoid: lambda v: 1 / (1 + math.exp(-v)) if v > -700 else 0.0,
        funcs.logsigmoid: lambda v: -(max(-v, 0) + math.log1p(math.exp(-abs(v)))),
        funcs.log1p: math.log1p,
        funcs.expm1: math.expm1,
        funcs.erf: math.erf,
        funcs.relu: lambda v: max(v, 0.0),
        funcs.heaviside: lambda v: 1.0 if v > 0 else 0.0 if v < 0 else 0.5,
    }
    everywhere = np.array([-1000.0, -30.0, -1.0, -1e-9, 0.0, 1e-9, 0.5, 30.0, 1000.0])
    for function, reference in references.items():
        values = everywhere
        if function in (funcs.log1p, funcs.expm1):
            values = everywhere[np.abs(everywhere) < 1]  # the domain, and no overflow
        code = numpy_code(function(a), scalar=scalar)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            if scalar:
                got = np.array([_evaluate(code, v) for v in values], float)
            else:
                got = np.asarray(_evaluate(code, values), float)
        expected = np.array([reference(v) for v in values])
        np.testing.assert_allclose(got, expected, rtol=2e-15, atol=1e-300, err_msg=code)


def test_derivatives_print_without_cancellation() -> None:
    a = sp.Symbol("a")
    factors = numpy_code(stlp_sym.sigmoid(a).diff(a)).split("*")
    assert sorted(factors) == ["np.exp(-np.logaddexp(0, -a))", "np.exp(-np.logaddexp(0, a))"]
    assert numpy_code(stlp_sym.softplus(a).diff(a)) == "np.exp(-np.logaddexp(0, -a))"


def test_model_file_names_and_arities() -> None:
    names = {"a": "aggregate", "b": "parameter"}
    assert parse_expression("max(a, b) - min(a, 0) + relu(a)", names) == (
        sp.Max(stlp_sym.fn("a"), sp.Symbol("b"))
        - sp.Min(stlp_sym.fn("a"), 0)
        + sp.Max(0, stlp_sym.fn("a"))
    )
    assert parse_expression("heaviside(a)", names) == sp.Heaviside(stlp_sym.fn("a"))
    for name in ("sigmoid", "softplus", "logsigmoid", "log1p", "expm1", "erf"):
        assert parse_expression(f"{name}(b)", names) == getattr(stlp_sym, name)(sp.Symbol("b"))
    with pytest.raises(ParseError, match=r"max\(...\) takes 2 arguments: max\(a, b\)"):
        parse_expression("max(a)", names)
    with pytest.raises(ParseError, match="takes exactly one argument"):
        parse_expression("sigmoid(a, b)", names)


def test_run_reports_values_that_are_not_finite_without_numpy_warnings(tmp_path: Path) -> None:
    path = tmp_path / "blow.toml"
    path.write_text(
        '[parameters]\nc = 1.0\n[fields]\nx = "node"\n'
        'lambda = { domain = "node", role = "free", multiplier = true }\n'
        '[signals]\nu = "input"\n[clamps]\nx = { signal = "u", role = "input" }\n'
        '[terms]\nnode = "x**2 / 2 + lambda * (Dt(x) - c * log(x))"\n',
        encoding="utf-8",
    )
    action, options = read_model(path)
    graph = Digraph.from_spec("chain:3")
    for backend in ("numpy", "numba"):
        module = build(action, replace(options, backend=backend))

        def signals(time: np.ndarray) -> dict:
            return {"u": np.ones_like(time) * np.ones(graph.n)}

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            trace = run(module, graph, signals, steps=50, progress=False)
        assert trace.diverged is not None
        message = str(trace.diverged)
        assert "field x on node 1" in message and "is not finite" in message, message
