"""Monitors, frozen fields, start states, traces with provenance, checkpoints and resumed runs."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stlp_sym.cache.store import build
from stlp_sym.errors import StlpError
from stlp_sym.graph import Digraph
from stlp_sym.options import Options
from stlp_sym.runner import loop
from stlp_sym.runner.checkpoint import Checkpoint
from stlp_sym.runner.loop import run
from stlp_sym.runner.monitors import Monitor, default_monitors
from stlp_sym.runner.tasks import make_task
from stlp_sym.runner.trace import PROVENANCE, Trace
from stlp_sym.symbolic.models import MODELS

GRAPH = "complete:6:in=1"
DT = 1e-3


@pytest.fixture(scope="module")
def numpy_module():
    return build(MODELS["stlp"].build(), replace(MODELS["stlp"].options, backend="numpy"))


@pytest.fixture(scope="module")
def numba_module():
    return build(MODELS["stlp"].build(), replace(MODELS["stlp"].options, backend="numba"))


@pytest.fixture(scope="module")
def graph():
    return Digraph.from_spec(GRAPH)


def _run(module, graph, steps=200, **extra):
    task = make_task("tracking-sine", graph).for_module(module)
    return run(module, graph, task, steps=steps, dt=DT, record_every=0.01, progress=False, **extra)


def _stepped(module, graph, steps, frozen=(), seed=0):
    """States after each step of explicit Euler, ``s <- s + dt rhs(s)``, written out here from
    the module's ``rhs`` (with the rates of ``frozen`` states set to zero)."""
    task = make_task("tracking-sine", graph).for_module(module)
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    state = module.init(plan, None, seed)
    module.clamp(0.0, state, plan, task.signals(0.0))
    states = [{k: v.copy() for k, v in state.items()}]
    for k in range(steps):
        rates = module.rhs(k * DT, state, plan, None, task.signals(k * DT))
        rates = {name: np.array(rate) for name, rate in rates.items()}
        for name in frozen:
            rates[name][...] = 0.0
        for name in state:  # (rhs set the clamped entries from the signals at k dt)
            state[name] = state[name] + DT * rates[name]
        states.append({k: v.copy() for k, v in state.items()})
    return states, plan


# ---- the grammar ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("w", Monitor("w")),
        ("x@0,3", Monitor("x", "0,3")),
        ("w@2->1", Monitor("w", "2->1")),
        ("L@nodes", Monitor("L", "nodes")),
        ("H", Monitor("H")),
        ("x:every=50", Monitor("x", None, 50)),
        ("mine=w@2->1,0->1:every=5", Monitor("w", "2->1,0->1", 5, "mine")),
        ("|w,w_d1|", Monitor("|w,w_d1|")),
    ],
)
def test_monitor_specs_parse_and_print_back(text, expected) -> None:
    assert Monitor.parse(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x:every=0", "every=N"),
        ("x:often", "every=N"),
        ("@0", "expected"),
        ("nosuch", "not a state"),
        ("x@9", "not a node"),
        ("w@0->0", "not an arc"),
        ("w@0,1", "lives on arcs"),
        ("x@1->0", "lives on nodes"),
        ("|w|@0->1", "drop @WHERE"),
    ],
)
def test_bad_monitors_are_one_line_errors_naming_the_spec(
    text, message, numpy_module, graph
) -> None:
    with pytest.raises(StlpError, match=message) as caught:
        _run(numpy_module, graph, steps=1, monitor=[text])
    assert "\n" not in str(caught.value)


def test_default_monitors_come_from_one_function(numpy_module) -> None:
    names = [m.key() for m in default_monitors(numpy_module)]
    assert names == ["output", "reference", "input", "lagrangian", "hamiltonian", "weight_norm"]
    assert [str(replace(m, name=None)) for m in default_monitors(numpy_module)][:3] == [
        "x@outputs",
        "z@outputs",
        "u@inputs",
    ]


# ---- what monitors record -----------------------------------------------------------------


def test_monitored_states_equal_euler_steps_written_out(numpy_module, graph) -> None:
    trace = _run(numpy_module, graph, monitor=["x@0,3:every=5", "w@2->1,0->1", "w_d1"])
    states, plan = _stepped(numpy_module, graph, 200)
    x = trace.series["x"]
    assert x.labels == (0, 3) and x.every == 5 and x.dim == "x_node"
    np.testing.assert_allclose(x.t, np.arange(0, 201, 5) * DT, rtol=1e-12)
    expected = np.array([states[k]["x"][[0, 3]] for k in range(0, 201, 5)])
    np.testing.assert_allclose(x.values, expected, rtol=1e-10, atol=1e-12)
    w = trace.series["w"]
    arcs = list(zip(plan["src"].tolist(), plan["dst"].tolist(), strict=True))
    where = [arcs.index((2, 1)), arcs.index((0, 1))]
    assert w.labels == ("2->1", "0->1")
    np.testing.assert_allclose(
        w.values, [states[k]["w"][where] for k in range(0, 201, 10)], rtol=1e-10, atol=1e-12
    )
    assert trace.series["w_d1"].dim == "arc" and len(trace.series["w_d1"].labels) == 25


def test_energies_by_node_and_arc_add_up_to_the_modules_totals(numpy_module, graph) -> None:
    trace = _run(numpy_module, graph, monitor=["L@nodes", "L@arcs", "H@nodes", "H@arcs"])
    states, plan = _stepped(numpy_module, graph, 200)
    task = make_task("tracking-sine", graph).for_module(numpy_module)
    for which, total in (("L", numpy_module.lagrangian), ("H", numpy_module.hamiltonian)):
        parts = trace.series[f"{which}_node"].values.sum(1) + trace.series[
            f"{which}_arc"
        ].values.sum(1)
        expected = [
            total(k * DT, states[k], plan, None, task.signals(k * DT)) for k in range(0, 201, 10)
        ]
        np.testing.assert_allclose(parts, expected, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(
            trace.series["lagrangian" if which == "L" else "hamiltonian"].values,
            expected,
            rtol=1e-9,
            atol=1e-12,
        )


def test_monitors_agree_across_backends_and_batches(numpy_module, numba_module, graph) -> None:
    monitors = ["x:every=20", "L@0,5", "H@arcs", "w@3->1"]
    one = _run(numpy_module, graph, monitor=monitors, seed=[0, 1])
    other = _run(numba_module, graph, monitor=monitors, seed=[0, 1])
    single = _run(numpy_module, graph, monitor=monitors, seed=1)
    for name, series in one.series.items():
        assert series.values.shape[1] == 2, name
        np.testing.assert_allclose(series.values, other.series[name].values, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(
            series.values[:, 1], single.series[name].values, rtol=1e-9, atol=1e-12
        )


# ---- freeze and start states ----------------------------------------------------------------


def test_a_frozen_field_stays_put_and_the_others_follow_its_fixed_value(
    numpy_module, numba_module, graph
) -> None:
    start = _stepped(numpy_module, graph, 0)[0][0]
    frozen = ["w", "w_d1"]
    states, _plan = _stepped(numpy_module, graph, 200, frozen=frozen)
    for module in (numpy_module, numba_module):
        trace = _run(module, graph, freeze=["w"], monitor=["x"])
        for name in frozen:
            assert np.array_equal(trace.state[name], start[name]), name
        # (the input's clamped x is set at the last record: not a state a step moved)
        hidden = ~graph.inputs
        np.testing.assert_allclose(
            trace.state["x"][hidden], states[-1]["x"][hidden], rtol=1e-10, atol=1e-12
        )
        np.testing.assert_allclose(
            trace.state["lambda_hat"], states[-1]["lambda_hat"], rtol=1e-10, atol=1e-12
        )


def test_freeze_under_rk4_holds_the_field_in_every_stage() -> None:
    graph = Digraph.from_spec(GRAPH)
    module = build(MODELS["stlp"].build(), Options(integrator="rk4", backend="numpy"))
    free = _run(module, graph, steps=50)
    trace = _run(module, graph, steps=50, freeze=["w"])
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    start = module.init(plan, None, 0)  # the run's seed: weights drawn as the run draws them
    assert np.array_equal(trace.state["w"], start["w"])
    assert np.array_equal(trace.state["w_d1"], start["w_d1"])
    assert not np.array_equal(trace.state["x"], free.state["x"])
    with pytest.raises(StlpError, match="not a field or state"):
        _run(module, graph, steps=1, freeze=["nosuch"])


def test_a_given_start_state_is_used_and_checked(numpy_module, graph) -> None:
    plan = numpy_module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    state = numpy_module.init(plan, None, 7)
    from_state = _run(numpy_module, graph, state=state)
    from_seed = _run(numpy_module, graph, seed=7)
    for name, series in from_seed.series.items():
        assert np.array_equal(series.values, from_state.series[name].values), name
    with pytest.raises(StlpError, match="shape"):
        _run(numpy_module, graph, state={**state, "x": np.zeros(3)})
    with pytest.raises(StlpError, match="entries"):
        _run(numpy_module, graph, state={"x": state["x"]})


# ---- traces with provenance -------------------------------------------------------------------


def _assert_same(trace: Trace, back: Trace) -> None:
    assert list(trace.series) == list(back.series)
    for name, series in trace.series.items():
        other = back.series[name]
        assert np.array_equal(series.t, other.t), name
        assert np.array_equal(series.values, other.values, equal_nan=True), name
        assert (series.spec, series.every, series.dim) == (other.spec, other.every, other.dim)
        assert tuple(series.labels) == tuple(other.labels), name
    assert trace.state.keys() == back.state.keys()
    for name, value in trace.state.items():
        assert np.array_equal(value, back.state[name]), name
    assert (trace.steps, trace.diverged, trace.members) == (back.steps, back.diverged, back.members)


@pytest.mark.parametrize("seed", [3, [0, 4]])
def test_to_xarray_and_back_to_the_bit(numpy_module, graph, tmp_path, seed) -> None:
    trace = _run(numpy_module, graph, monitor=["x@0,3:every=7", "L@nodes", "H@arcs"], seed=seed)
    dataset = trace.to_xarray()
    assert list(dataset.attrs)[: len(PROVENANCE)] == list(PROVENANCE)
    assert dataset.attrs["model"] == "stlp" and dataset.attrs["dt"] == DT
    assert {"stlp_sym", "sympy", "numpy"} <= set(json.loads(dataset.attrs["versions"]))
    assert dataset["L_node"].dims == ("time", *(("member",) if trace.members else ()), "node")
    assert dataset["H_arc"].dims[-1] == "arc" and "2->1" in dataset["arc"].values.tolist()
    assert dataset["x"].dims[0] == "time_x" and dataset["x_node"].values.tolist() == [0, 3]
    written = trace.write(tmp_path)
    assert written == tmp_path / "trace.nc"
    back = Trace.load(tmp_path)
    _assert_same(trace, back)
    assert back.meta == trace.meta
    np.testing.assert_array_equal(back.score(), trace.score())


def test_graph_file_ids_are_the_coordinates(numpy_module, tmp_path) -> None:
    path = tmp_path / "g.csv"
    path.write_text("src,dst\nin,a\na,b\nb,a\nb,out\nout,a\n", encoding="utf-8")
    graph = Digraph.from_spec(f"{path}:inputs=in:outputs=out")
    trace = _run(numpy_module, graph, steps=20, monitor=["x@a,out", "w@a->b"])
    dataset = trace.to_xarray()
    assert dataset["x_node"].values.tolist() == ["a", "out"]
    assert dataset["w_arc"].values.tolist() == ["a->b"]
    assert dataset["output_node"].values.tolist() == ["out"]


# ---- checkpoints and resumed runs --------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_resumed_run_equals_a_run_never_stopped(
    backend, numpy_module, numba_module, graph, monkeypatch
) -> None:
    module = numpy_module if backend == "numpy" else numba_module
    monkeypatch.setattr(loop, "CHUNK_STEPS", 60)
    extra = {"monitor": ["x:every=3", "L@nodes"], "checkpoint_every": 40, "steps": 500}
    whole = _run(module, graph, **extra)
    written, asked = [], iter(range(10**6))
    stopped = _run(
        module, graph, on_checkpoint=written.append, stop=lambda: next(asked) >= 4, **extra
    )
    assert stopped.interrupted and 0 < stopped.steps < 500
    assert [c.steps for c in written] == [40, 80, 120, 160][: len(written)]
    resumed = _run(module, graph, resume=Checkpoint.of(stopped), **extra)
    _assert_same(whole, resumed)
    from_checkpoint = _run(module, graph, resume=written[-1], **extra)
    _assert_same(whole, from_checkpoint)


@settings(
    max_examples=6,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    stop_after=st.integers(1, 6),
    every=st.integers(1, 40),
    chunk=st.integers(1, 8),
    record=st.sampled_from([0.001, 0.005, 0.013]),
)
def test_resuming_anywhere_is_bit_identical(numpy_module, graph, stop_after, every, chunk, record):
    """Any chunk size, checkpoint interval, record interval and stopping point."""
    task = make_task("tracking-sine", graph).for_module(numpy_module)
    extra = {"steps": 120, "dt": DT, "progress": False, "record_every": record}
    extra.update(monitor=["x@0,5:every=2", "H@arcs:every=7"], checkpoint_every=every)
    old = loop.CHUNK_STEPS
    loop.CHUNK_STEPS = chunk * 7
    try:
        whole = run(numpy_module, graph, task, **extra)
        asked = iter(range(10**6))
        stopped = run(numpy_module, graph, task, stop=lambda: next(asked) >= stop_after, **extra)
        if stopped.interrupted:
            resumed = run(numpy_module, graph, task, resume=Checkpoint.of(stopped), **extra)
            _assert_same(whole, resumed)
        else:
            _assert_same(whole, stopped)
    finally:
        loop.CHUNK_STEPS = old


# ---- any model, any graph --------------------------------------------------------------------


@pytest.fixture(scope="module")
def modules():
    """The built-in models' numpy modules, built once (from the cache after the first time)."""
    built = {}

    def get(name):
        if name not in built:
            model = MODELS[name]
            built[name] = build(model.build(), replace(model.options, backend="numpy"))
        return built[name]

    return get


@pytest.mark.filterwarnings("ignore:outputs .* are not reachable")
@settings(
    max_examples=8,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    name=st.sampled_from(["stlp", "stlp-holonomic", "cal4", "pendulum", "high-order"]),
    n=st.integers(2, 7),
    arcs=st.integers(1, 12),
    graph_seed=st.integers(0, 50),
    every=st.integers(1, 9),
    picks=st.lists(st.integers(0, 10**6), min_size=1, max_size=3),
    data=st.data(),
)
def test_any_state_recorded_on_any_entries_equals_the_modules_steps(
    modules, name, n, arcs, graph_seed, every, picks, data
) -> None:
    """On random graphs, each built-in model's states (whatever their names) recorded at chosen
    entries and an interval equal ``step`` called in a plain loop."""
    module = modules(name)
    graph = Digraph.from_spec(f"random:{n},{min(arcs, n * n - n)},{graph_seed}:in=1:out=1")
    state_name = data.draw(st.sampled_from(sorted(module.STATES)))
    domain = module.STATES[state_name]["domain"]
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    size = graph.n if domain == "node" else plan["m"]
    if size == 0:
        return
    index = sorted({p % size for p in picks})
    if domain == "node":
        where = ",".join(str(i) for i in index)
    else:
        where = ",".join(f"{plan['src'][k]}->{plan['dst'][k]}" for k in index)
    steps = 40
    task = make_task("tracking-sine", graph).for_module(module)
    trace = run(
        module, graph, task, steps=steps, dt=DT, progress=False,
        monitor=[f"{state_name}@{where}:every={every}"],
    )  # fmt: skip
    series = trace.series[state_name]
    state = module.init(plan, None, 0)
    module.clamp(0.0, state, plan, task.signals(0.0))
    expected, times = [state[state_name][index].copy()], [0.0]
    for k in range(steps):
        module.step(k * DT, DT, state, plan, None, task.signals)
        if (k + 1) % every == 0 or k + 1 == steps:
            expected.append(state[state_name][index].copy())
            times.append((k + 1) * DT)
    np.testing.assert_allclose(series.t, times, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(series.values, expected, rtol=1e-9, atol=1e-12)


def test_unreadable_traces_and_checkpoints_are_one_line_errors(tmp_path) -> None:
    with pytest.raises(StlpError, match="no trace there"):
        Trace.load(tmp_path)
    (tmp_path / "checkpoint.npz").write_bytes(b"not a zip")
    with pytest.raises(StlpError, match="not a readable checkpoint"):
        Checkpoint.read(tmp_path / "checkpoint.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(1))
    with pytest.raises(StlpError, match="not a checkpoint"):
        Checkpoint.read(tmp_path / "other.npz")


# ---- records evaluated together ---------------------------------------------------------------


def _timed_bias() -> tuple:
    """An action whose energies depend on the time itself (``sin 3t``), with a global field, a
    parameter per node and no field named ``x``: what the records of a batch must get right."""
    import sympy as sp

    from stlp_sym.symbolic.action import Action
    from stlp_sym.symbolic.vocabulary import (
        IS_OUTPUT,
        Aggregate,
        Clamp,
        Field,
        Parameter,
        Signal,
        fn,
        src,
        t,
    )

    v, w, bias, y = fn("v"), fn("w"), fn("bias"), fn("y")
    k, r, h = sp.symbols("k r h")
    return Action(
        name="timed-bias",
        fields=(Field("v"), Field("w", "edge"), Field("bias", "global")),
        signals=(Signal("s", "input"), Signal("y", "output")),
        clamps=(Clamp("v", "s"),),
        aggregates=(Aggregate("a", w * src(v) + bias * w),),
        parameters=(Parameter("k", 0.5), Parameter("r", 0.25), Parameter("h", 0.3, on="node")),
        node=v.diff(t) ** 2 / 2
        + IS_OUTPUT * (v - y) ** 2 / 2
        - k * v * sp.tanh(fn("a") + bias)
        + h * sp.sin(3 * t) * v**2 / 2,
        edge=r / 2 * w.diff(t) ** 2 + k * w**2 / 2,
        global_=bias.diff(t) ** 2 / 2 + (bias - 1) ** 2 / 2,
    )


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_records_taken_together_equal_the_modules_energies_point_by_point(backend) -> None:
    """A batch's L and H, recorded at every record point of a call at once, equal the module's
    ``lagrangian``/``hamiltonian`` called at each point alone on the states a step loop gives."""
    from recorded_numbers import signals_for

    module = build(_timed_bias(), Options(flip=False, normalise=False, backend=backend))
    graph = Digraph.from_spec("random:5,9,2:in=1:out=1")
    rng = np.random.default_rng(3)
    params = {"k": np.array([0.4, 0.5, 0.6]), "h": rng.uniform(0.1, 1.0, (3, graph.n))}
    signals, stride, steps = signals_for(module, graph.n), 5, 200
    trace = run(module, graph, signals, steps=steps, dt=DT, seed=[0, 1, 2], params=params,
                record_every=stride * DT, monitor=["L", "H"], progress=False)  # fmt: skip
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    state = module.init(plan, params, [0, 1, 2])
    module.clamp(0.0, state, plan, signals(0.0))
    expected = {"L": [], "H": []}
    for k in range(steps + 1):
        if k % stride == 0:
            point = {name: value.copy() for name, value in state.items()}
            at = k * DT, point, plan, params, signals(k * DT)
            expected["L"].append(module.lagrangian(*at))
            expected["H"].append(module.hamiltonian(*at))
        if k < steps:
            module.step(k * DT, DT, state, plan, params, signals)
    for name in ("L", "H"):
        recorded = trace.series[name]
        np.testing.assert_allclose(recorded.t, np.arange(0, steps + 1, stride) * DT, rtol=1e-12)
        np.testing.assert_allclose(recorded.values, np.array(expected[name]), rtol=1e-10,
                                   atol=1e-12, err_msg=name)  # fmt: skip
    assert recorded.values.shape == (steps // stride + 1, 3)
