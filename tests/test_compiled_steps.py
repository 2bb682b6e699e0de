"""The numba backend's compiled steps (``model["chunk"]``) for every explicit integrator.

References: the NumPy backend module stepping the same task (its ``run_steps`` is the Python loop
over the runtime's steps); the unbatched run of each member of a batch; the states a ``step``
loop copies every ``stride`` steps; the initial state, for frozen states.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from recorded_numbers import signals_for
from test_global_fields import MECHANICS, shared_bias
from test_param_domains import MODEL

from stlp_sym.cache.store import build
from stlp_sym.checks import is_one_node
from stlp_sym.codegen.fusion import fused_runs
from stlp_sym.codegen.kernel import Kernel, Op
from stlp_sym.graph import Digraph
from stlp_sym.options import INTEGRATORS, Options
from stlp_sym.parse.modelfile import load_model, read_model
from stlp_sym.runner.loop import run, stage_divisor
from stlp_sym.symbolic.models import MODELS

pytest.importorskip("numba")

BACKENDS = ("numpy", "numba")
GRAPHS = {
    "dag": "feedforward:2,3,1",
    "cycles": "random:6,14,3:in=1:out=1",  # cycles and self-loops
    "one-node": "one-node",
}
DT = 1e-3
LEAKY = Path(__file__).resolve().parents[1] / "examples" / "leaky-tracker.toml"


def _graph(name: str) -> Digraph:
    if name == "one-node":
        return Digraph.from_arcs(1, [], name="one-node")
    return Digraph.from_spec(GRAPHS.get(name, name))


def _policies(model: str) -> list[str]:
    """The explicit policies a model is run with (its constraint policies, if it has one)."""
    return ["penalty", "ascent"] if MODELS[model].options.policy != "none" else ["none"]


def _modules(action, options) -> list:
    return [build(action, replace(options, backend=b)) for b in BACKENDS]


def _close(numba: dict, numpy: dict, rtol: float = 1e-12) -> None:
    for name, value in numpy.items():
        scale = max(1.0, float(np.max(np.abs(value), initial=0.0)))
        error = float(np.max(np.abs(np.asarray(numba[name]) - value), initial=0.0))
        assert error <= rtol * scale, (name, error)


RUN_CASES = [
    (model, integrator, policy, graph)
    for model in MODELS
    for integrator in INTEGRATORS
    for policy in _policies(model)
    for graph in (["one-node"] if is_one_node(MODELS[model].build()) else GRAPHS)
]


@pytest.mark.parametrize(("model", "integrator", "policy", "graph"), RUN_CASES)
def test_compiled_run_steps_equal_the_numpy_backend(model, integrator, policy, graph) -> None:
    """``run`` (the numba module's compiled ``run_steps``) against the NumPy module stepping the
    same task: traces and final states to 1e-12 (1,000 steps; 300 on the DAG)."""
    options = replace(MODELS[model].options, integrator=integrator, policy=policy)
    modules = _modules(MODELS[model].build(), options)
    assert "def _steps(" in Path(modules[1].__file__).read_text(encoding="utf-8")
    graph, steps = _graph(graph), 300 if graph == "dag" else 1000
    traces = [
        run(module, graph, signals_for(module, graph.n), steps=steps, seed=[0, 1],
            record_every=0.05, progress=False)
        for module in modules
    ]  # fmt: skip
    assert traces[0].diverged is None and traces[1].diverged is None
    for name in ("t", "output", "weight_norm"):
        a, b = getattr(traces[0], name), getattr(traces[1], name)
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=name)
    _close(traces[1].state, traces[0].state)


BATCH_CASES = [(m, i) for m in ("stlp", "stlp-holonomic", "cal4", "pendulum") for i in INTEGRATORS]


@pytest.mark.parametrize(("model", "integrator"), BATCH_CASES)
def test_a_compiled_batch_member_equals_its_own_run(model, integrator) -> None:
    options = replace(MODELS[model].options, integrator=integrator, backend="numba")
    module = build(MODELS[model].build(), options)
    graph = _graph("one-node" if is_one_node(MODELS[model].build()) else "cycles")
    signals, seeds = signals_for(module, graph.n), [0, 3, 5]
    batch = run(module, graph, signals, steps=1000, seed=seeds, progress=False)
    for b, seed in enumerate(seeds):
        alone = run(module, graph, signals, steps=1000, seed=seed, progress=False)
        _close({k: v[b] for k, v in batch.state.items()}, alone.state)


def _table(signals, per: int, steps: int, n: int) -> dict:
    """The signals at row ``k per + j`` = time ``k dt + (j / per) dt``, as ``step`` reads them."""
    rows = [k * DT + (j / per) * DT for k in range(steps) for j in range(per)] + [steps * DT]
    values = [signals(time) for time in rows]
    return {
        "per_step": per,
        "signals": {name: np.array([v[name] for v in values]) for name in values[0]},
    }


def _start(module, graph, seed=(0, 1)):
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    signals = signals_for(module, graph.n)
    state = module.init(plan, None, list(seed))
    module.clamp(0.0, state, plan, signals(0.0))
    return plan, signals, state


@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_snapshots_equal_a_step_loop_copied_every_stride(integrator) -> None:
    """Snapshots every 7 steps against the NumPy module's ``step`` loop; a full snapshot array
    ends the call with the steps taken; ``info[5]`` counts the snapshots."""
    numpy, numba = _modules(MODELS["stlp"].build(), Options(integrator=integrator))
    graph, stride, steps = _graph("cycles"), 7, 50
    plan, signals, state = _start(numba, graph)
    table = _table(signals, stage_divisor(numba), steps, graph.n)
    snaps = {k: np.zeros((4, 2, v.shape[-1])) for k, v in state.items()}
    info, frozen = np.zeros(6), np.zeros(len(state))
    chunk = numba._MODEL["chunk"]
    taken = chunk(0.0, DT, 0, steps, state, plan, dict(numba.PARAMS), table, 1e6, info, stride,
                  snaps, frozen)  # fmt: skip
    assert taken == 4 * stride and info[5] == 4 and info[4] == 0
    reference_plan, _, reference = _start(numpy, graph)
    for k in range(4 * stride):
        numpy.step(k * DT, DT, reference, reference_plan, None, signals)
        if (k + 1) % stride == 0:
            _close({n: snaps[n][(k + 1) // stride - 1] for n in reference}, reference)
    _close(state, reference)
    info[5] = 0.0  # the rest: snapshots after steps 35, 42 and 49, then the end of the steps
    taken = chunk(0.0, DT, taken, steps - taken, state, plan, dict(numba.PARAMS), table, 1e6, info,
                  stride, snaps, frozen)  # fmt: skip
    assert taken == steps - 4 * stride and info[5] == 3


@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_frozen_states_stay_bit_identical_while_others_move(integrator) -> None:
    graph = _graph("cycles")
    options = Options(integrator=integrator)
    numpy, numba = _modules(MODELS["stlp"].build(), options)
    traces = [
        run(m, graph, signals_for(m, graph.n), steps=500, seed=[0, 1], freeze=["w"], progress=False)
        for m in (numpy, numba)
    ]
    plan = numba.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    start = numba.init(plan, None, [0, 1])
    for name in ("w", "w_d1"):
        np.testing.assert_array_equal(traces[1].state[name], start[name])
    assert np.max(np.abs(traces[1].state["lambda_hat"] - start["lambda_hat"])) > 1e-3
    _close(traces[1].state, traces[0].state)


@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_a_compiled_divergence_stops_at_the_python_loops_step_and_index(integrator) -> None:
    graph = Digraph.from_spec("complete:6:in=1")
    options = replace(MODELS["stlp"].options, flip=False, integrator=integrator)
    traces = [
        run(m, graph, signals_for(m, graph.n), horizon=20.0, seed=[0, 1], record_every=0.01,
            progress=False)
        for m in _modules(MODELS["stlp"].build(), options)
    ]  # fmt: skip
    numpy, numba = (trace.diverged for trace in traces)
    assert numpy is not None and numba is not None
    assert (numba.state, numba.member, numba.index) == (numpy.state, numpy.member, numpy.index)
    assert round(numba.t / DT) == round(numpy.t / DT)
    assert len(traces[1].t) == len(traces[0].t)
    # the last good state, after a run that grows exponentially for 20,000 steps
    _close(traces[1].state, traces[0].state, rtol=1e-6)


@pytest.mark.parametrize("integrator", ["semi-implicit", "rk4"])
@pytest.mark.parametrize("which", ["shared-bias", "leaky-tracker"])
def test_compiled_global_fields_equal_the_numpy_backend(which, integrator) -> None:
    action, options = (shared_bias(), MECHANICS) if which == "shared-bias" else read_model(LEAKY)
    graph = _graph("cycles")
    traces = []
    for module in _modules(action, replace(options, integrator=integrator)):
        traces.append(
            run(module, graph, signals_for(module, graph.n), steps=1000, seed=[0, 1],
                record_every=0.05, progress=False)
        )  # fmt: skip
    for name in ("lagrangian", "hamiltonian", "output"):
        a, b = getattr(traces[0], name), getattr(traces[1], name)
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=name)
    _close(traces[1].state, traces[0].state)


@pytest.mark.parametrize("integrator", ["semi-implicit", "rk4"])
def test_compiled_node_and_arc_parameters_equal_the_numpy_backend(integrator, tmp_path) -> None:
    path = tmp_path / "tau-tracker.toml"
    path.write_text(MODEL)
    graph, rng = _graph("cycles"), np.random.default_rng(4)
    params = {
        "tau": rng.uniform(0.5, 2.0, (2, graph.n)),  # one row per member
        "mask": rng.uniform(0.5, 1.5, graph.n_arcs),  # shared
        "q": np.array([50.0, 100.0]),
    }
    traces = [
        run(m, graph, signals_for(m, graph.n), steps=1000, seed=[0, 1], params=params,
            progress=False)
        for m in _modules(load_model(path).build(), Options(integrator=integrator))
    ]  # fmt: skip
    np.testing.assert_allclose(traces[1].output, traces[0].output, rtol=1e-12, atol=1e-12)
    _close(traces[1].state, traces[0].state)


@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_step_takes_signals_per_member_through_the_python_step(integrator) -> None:
    """A signal with a row per member has no place in the table: ``step`` takes the Python
    step then, with the same result as the NumPy module."""
    numpy, numba = _modules(MODELS["stlp"].build(), Options(integrator=integrator))
    graph = _graph("cycles")
    shared = signals_for(numba, graph.n)

    def signals(t):
        values = shared(t)
        return {**values, "u": np.stack([values["u"], 2.0 * values["u"]])}

    states = []
    for module in (numpy, numba):
        plan, _, state = _start(module, graph)
        for k in range(20):
            module.step(k * DT, DT, state, plan, None, signals)
        states.append(state)
    _close(states[1], states[0])


def test_euler_updates_edge_states_in_the_kernels_last_pass_over_the_arcs() -> None:
    """Under Euler the numba module updates ``w`` and ``w_d1`` at the end of the rhs kernel's
    last arc pass that reads them (no pass of their own); the results above are unchanged."""
    module = build(MODELS["stlp"].build(), Options(integrator="euler", backend="numba"))
    text = Path(module.__file__).read_text(encoding="utf-8")
    steps = text[text.index("def _steps(") :]
    steps = steps[: steps.index("\n\n\n")]
    assert "_rhs_kernel_fused_loops(" in steps and "_u_w_d1" in text
    assert "_S_w[_mb, _ni] +=" not in steps and "_S_w_d1[_mb, _ni] = _S_w_d1" not in steps
    assert "_S_x[_mb, _ni] = _S_x[_mb, _ni] * (1.0 - _dt" in steps  # node states: their own pass


def test_an_edge_state_read_after_its_last_arc_pass_is_not_fused() -> None:
    w, g = sp.symbols("w g")
    inputs = {"w": ("edge", "jet", "w"), "x": ("node", "jet", "x")}
    ops = (Op("g", "edge", "gather", source="x", end="src"), Op("e", "edge", "expr", w * g))
    later = Op("s", "node", "scatter", source="w", end="src")  # out-sums of w after that pass
    domains = {"w": "edge", "x": "node"}
    alone = Kernel(inputs, ops, {"w": "e"}, {}, domains)
    assert fused_runs(alone, [["w"]]) == {"w": 0}
    read_later = Kernel(inputs, (*ops, later), {"w": "e", "x": "s"}, {}, domains)
    assert fused_runs(read_later, [["w"]]) == {}


@pytest.mark.parametrize("integrator", ["euler", "rk4"])
def test_model_names_like_the_compiled_frames_own_are_kept_apart(integrator, tmp_path) -> None:
    """Parameters named as the compiled steps' and their adapter's arguments were once
    (``info``, ``count``, ``table``, ``limit``, ``per``, ``S_v``) change nothing."""
    import re

    renamed = {"tau": "info", "mask": "count", "q": "table", "c": "S_v", "r_w": "limit",
               "theta": "per"}  # fmt: skip
    text = re.sub(r"\b(tau|mask|q|c|r_w|theta)\b", lambda m: renamed[m.group(1)], MODEL)
    originals = tmp_path / "tau-tracker.toml"
    originals.write_text(MODEL)
    clashing = tmp_path / "clashing.toml"
    clashing.write_text(text)
    graph = _graph("cycles")
    tau = np.random.default_rng(5).uniform(0.5, 2.0, graph.n)
    options = Options(integrator=integrator, backend="numba")
    outputs = [
        run(build(load_model(path).build(), options), graph,
            signals_for(build(load_model(path).build(), options), graph.n), steps=300,
            params={name: tau}, progress=False).output
        for path, name in ((originals, "tau"), (clashing, "info"))
    ]  # fmt: skip
    np.testing.assert_array_equal(outputs[1], outputs[0])
