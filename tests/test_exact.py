"""The exact policy: one sparse solve per step gives accelerations and multipliers that satisfy
the expanded Euler-Lagrange equations and the Baumgarte-stabilised constraints."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from stlp_sym.cache.store import build
from stlp_sym.graph import Digraph
from stlp_sym.runner.loop import run
from stlp_sym.runner.tasks import make_task
from stlp_sym.runtime.sparse import sparse_solve
from stlp_sym.symbolic.expansion import edge_function, expand, node_function
from stlp_sym.symbolic.models import MODELS
from stlp_sym.symbolic.transforms import Options, apply_options
from stlp_sym.symbolic.vocabulary import t

OPTIONS = Options(policy="exact")


@pytest.fixture(scope="module")
def module():
    return build(MODELS["stlp-holonomic"].build(), OPTIONS)


def _values(graph, state, signals, rates, multipliers, params, tt):
    """Concrete symbol -> number, for the expanded equations."""
    values = {t: tt, **{sp.Symbol(k): v for k, v in params.items()}}

    def put(function, orders):
        for order, array_value in enumerate(orders):
            values[sp.Derivative(function, (t, order)) if order else function] = array_value

    for i in range(graph.n):
        put(node_function("x", i), [state["x"][i], state["x_d1"][i], rates["x_d1"][i]])
        put(node_function("u", i), [signals[k][i] for k in ("u", "u_d1", "u_d2")])
        values[node_function("z", i)] = signals["z"][i]
        values[node_function("lambda_hat", i)] = multipliers["lambda_hat"][i]
    for e, (j, i) in enumerate(zip(graph.src, graph.dst, strict=True)):
        put(edge_function("w", j, i), [state["w"][e], state["w_d1"][e], rates["w_d1"][e]])
    return values


@pytest.mark.parametrize("spec", ["random:6,13,4:in=2:out=2", "feedforward:2,3,1"])
def test_sparse_solve_satisfies_the_expanded_equations(module, spec) -> None:
    graph = Digraph.from_spec(spec)
    module.set_solver(sparse_solve)
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    rng = np.random.default_rng(4)
    state = {k: rng.normal(0, 0.5, v.shape) for k, v in module.init(plan).items()}
    signals = {k: rng.normal(size=graph.n) for k in ("u", "u_d1", "u_d2", "z")}
    params = dict(module.PARAMS)
    rates = module.rhs(0.4, state, plan, params, signals)
    multipliers = plan["multipliers"]
    equations = expand(apply_options(MODELS["stlp-holonomic"].build(), OPTIONS), graph).equations
    values = _values(graph, state, signals, rates, multipliers, params, 0.4)
    assert {name for name, _ in equations} == {"x", "lambda_hat", "w"}
    for key, expr in equations.items():
        residual = float(expr.xreplace(values))
        assert abs(residual) < 1e-8 * (1 + max(abs(float(v)) for v in values.values())), key


def test_constraint_is_reached_and_kept(module) -> None:
    graph = Digraph.from_spec("complete:6:in=1")
    trace = run(module, graph, make_task("tracking-sine", graph), horizon=3.0, progress=False)
    state, free = trace.state, ~graph.inputs
    net = np.zeros(graph.n)
    np.add.at(net, graph.dst, state["w"] * state["x"][graph.src])
    violation = np.abs(state["x"] - np.tanh(net))[free].max()
    assert trace.diverged is None and violation < 1e-3


def test_exact_module_without_a_solver_says_what_to_do(tmp_path) -> None:
    from stlp_sym.cache.store import generate, load

    fresh = load(generate(MODELS["stlp-holonomic"].build(), OPTIONS, tmp_path))
    plan = fresh.prepare(2, [0], [1], [0], [1])
    signals = {"u": np.zeros(2), "z": np.zeros(2)}
    with pytest.raises(RuntimeError, match="set_solver"):
        fresh.rhs(0.0, fresh.init(plan), plan, None, signals)
