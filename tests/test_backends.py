"""The numba backend agrees with the NumPy backend: every built-in model, every integrator and
policy, 1,000 steps of a batch of two members, on a DAG, on a graph with cycles and self-loops
and on one node (the mechanics models live on one node only)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from recorded_numbers import signals_for

from stlp_sym.cache.store import build
from stlp_sym.checks import DEFAULT_GRAPH, is_one_node
from stlp_sym.graph import Digraph
from stlp_sym.options import INTEGRATORS
from stlp_sym.runner.loop import run
from stlp_sym.runner.tasks import make_task
from stlp_sym.runtime.sparse import sparse_solve
from stlp_sym.symbolic.models import MODELS

pytest.importorskip("numba")

GRAPHS = {
    "dag": "feedforward:2,3,1",
    "cycles": DEFAULT_GRAPH,  # a cycle and a self-loop
    "one-node": "one-node",
}
STEPS, DT = 1000, 1e-3
CASES = [
    (model, integrator, None, graph)
    for model in MODELS
    for integrator in INTEGRATORS
    for graph in (["one-node"] if is_one_node(MODELS[model].build()) else GRAPHS)
]
CASES += [("stlp-holonomic", "euler", policy, "cycles") for policy in ("ascent", "exact")]


def _graph(name: str) -> Digraph:
    if name == "one-node":
        return Digraph.from_arcs(1, [], name="one-node")
    return Digraph.from_spec(GRAPHS[name])


def _modules(model: str, integrator: str, policy: str | None):
    options = replace(MODELS[model].options, integrator=integrator)
    if policy is not None:
        options = replace(options, policy=policy)
    modules = [build(MODELS[model].build(), replace(options, backend=b)) for b in BACKENDS]
    for module in modules:
        if hasattr(module, "set_solver"):
            module.set_solver(sparse_solve)
    return modules


BACKENDS = ("numpy", "numba")


@pytest.mark.parametrize(("model", "integrator", "policy", "graph"), CASES)
def test_numba_agrees_with_numpy(model, integrator, policy, graph) -> None:
    graph = _graph(graph)
    states, energies = [], []
    for module in _modules(model, integrator, policy):
        assert module.OPTIONS["backend"] in BACKENDS
        plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
        signals = signals_for(module, graph.n)
        state = module.init(plan, None, [0, 1])
        module.clamp(0.0, state, plan, signals(0.0))
        for k in range(STEPS):
            module.step(k * DT, DT, state, plan, None, signals)
        states.append(state)
        try:
            energies.append(module.hamiltonian(1.0, state, plan, None, signals(1.0)))
        except NotImplementedError:
            energies.append(np.zeros(2))
    numpy, numba = states
    for name, value in numpy.items():
        scale = max(1.0, float(np.max(np.abs(value), initial=0.0)))
        assert np.max(np.abs(numba[name] - value), initial=0.0) <= 1e-12 * scale, name
    np.testing.assert_allclose(energies[1], energies[0], rtol=1e-12, atol=1e-12)


def test_the_numba_module_compiles_loops_over_destination_sorted_arcs() -> None:
    module = build(MODELS["stlp"].build(), replace(MODELS["stlp"].options, backend="numba"))
    text = Path(module.__file__).read_text(encoding="utf-8")
    assert "import numba" in text and '@numba.njit(cache=True, error_model="numpy")' in text
    assert "for _ea in range(_in_ptr[_ni], _in_ptr[_ni + 1]):" in text
    assert "backend=numba" in text.splitlines()[5]


RUN_CASES = [
    (model, graph)
    for model in MODELS
    for graph in (["one-node"] if is_one_node(MODELS[model].build()) else ["dag", "cycles"])
]


@pytest.mark.parametrize(("model", "graph"), RUN_CASES)
def test_compiled_euler_run_steps_agree_with_numpy(model, graph) -> None:
    """Under explicit Euler the numba module's run_steps runs the steps between two records in
    one compiled call; run() gives the NumPy backend's trace."""
    graph = _graph(graph)
    modules = _modules(model, "euler", None)
    assert "def _steps(" in Path(modules[1].__file__).read_text(encoding="utf-8")
    traces = [
        run(module, graph, signals_for(module, graph.n), steps=STEPS, seed=[0, 1],
            record_every=0.01, progress=False)
        for module in modules
    ]  # fmt: skip
    for name in ("t", "output", "lagrangian", "hamiltonian", "weight_norm"):
        a, b = getattr(traces[0], name), getattr(traces[1], name)
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=name)
    for name, value in traces[0].state.items():
        np.testing.assert_allclose(traces[1].state[name], value, rtol=1e-12, atol=1e-12)


def test_compiled_run_steps_stop_at_the_same_divergence() -> None:
    graph = Digraph.from_spec("complete:6:in=1")
    task = make_task("tracking-sine", graph)
    options = replace(MODELS["stlp"].options, flip=False)
    traces = [
        run(build(MODELS["stlp"].build(), replace(options, backend=b)), graph, task,
            horizon=20.0, seed=[0, 1], progress=False)
        for b in BACKENDS
    ]  # fmt: skip
    numpy, numba = (trace.diverged for trace in traces)
    assert numpy is not None and numba is not None
    assert (numba.state, numba.member, numba.index) == (numpy.state, numpy.member, numpy.index)
    assert numba.t == pytest.approx(numpy.t)
    assert len(traces[1].t) == len(traces[0].t)
