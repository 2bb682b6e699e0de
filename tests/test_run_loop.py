"""The run loop: ``run_steps`` over a signal table, chunked runs, batches and the runner."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from stlp_sym.cache.store import build
from stlp_sym.errors import StlpWarning
from stlp_sym.graph import Digraph
from stlp_sym.options import Options
from stlp_sym.runner import loop
from stlp_sym.runner.loop import run
from stlp_sym.runner.tasks import make_task
from stlp_sym.symbolic.models import MODELS

GRAPH = "complete:6:in=1"


@pytest.fixture(scope="module")
def module():
    return build(MODELS["stlp"].build(), MODELS["stlp"].options)


@pytest.fixture(scope="module")
def rk4():
    return build(MODELS["stlp"].build(), Options(integrator="rk4"))


def _stepped(module, graph, task, steps, dt, seed=0):
    """The state after ``steps`` calls of ``step`` with ``task.signals``."""
    task = task.for_module(module)
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    state = module.init(plan, None, seed)
    module.clamp(0.0, state, plan, task.signals(0.0))
    for k in range(steps):
        module.step(k * dt, dt, state, plan, None, task.signals)
    return state


@pytest.mark.parametrize("integrator", ["module", "rk4"])
def test_a_chunked_run_equals_the_step_loop(integrator, module, rk4, monkeypatch) -> None:
    module = module if integrator == "module" else rk4
    graph = Digraph.from_spec(GRAPH)
    task = make_task("tracking-sine", graph)
    monkeypatch.setattr(loop, "CHUNK_STEPS", 150)  # chunks of 150 steps (3 strides)
    trace = run(module, graph, task, steps=1000, dt=1e-3, record_every=0.05, progress=False)
    expected = _stepped(module, graph, task, 1000, 1e-3)
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    module.clamp(
        1.0, expected, plan, task.for_module(module).signals(1.0)
    )  # recording at t = 1 clamps the inputs
    for name, value in expected.items():
        np.testing.assert_allclose(trace.state[name], value, rtol=1e-12, atol=1e-12)
    assert len(trace.t) == 1000 // 50 + 1
    np.testing.assert_allclose(trace.t, np.arange(21) * 0.05, rtol=1e-12)
    np.testing.assert_allclose(trace.reference[:, 0], np.sin(trace.t), atol=1e-12)


def test_run_steps_records_every_stride_and_stops_at_a_divergence(module) -> None:
    graph = Digraph.from_spec(GRAPH)
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    state = module.init(plan, None, 0)
    steps, n = 10, graph.n
    table = {
        "per_step": 1,
        "signals": {"u": np.zeros((steps + 1, n)), "z": np.ones((steps + 1, n))},
    }

    def monitor(source, name, index, width):
        shape = (8, width) if width else (8,)
        return {"source": source, "name": name, "index": index, "every": 1,
                "t": np.zeros(8), "values": np.zeros(shape), "count": 0}  # fmt: skip

    output, reference = monitor("state", "x", np.array([5]), 1), monitor("signal", "z", None, n)
    norm, every2 = monitor("norm", ["w"], None, 0), monitor("state", "w", np.array([0, 2]), 2)
    every2["every"] = 2
    record = {
        "stride": 4, "start": True, "final": True, "row": 0, "limit": 1e6,
        "monitors": [output, reference, norm, every2],
        "good": {k: v.copy() for k, v in state.items()}, "diverged": None,
    }  # fmt: skip
    assert module.run_steps(0.0, 0.1, steps, state, plan, None, table, record) == steps
    assert output["count"] == 4  # t = 0, 0.4, 0.8 and the final 1.0
    np.testing.assert_allclose(output["t"][:4], [0.0, 0.4, 0.8, 1.0])
    assert reference["values"][1].tolist() == [1.0] * n
    assert norm["values"][0] == pytest.approx(math.sqrt(np.sum(record["good"]["w"] ** 2)), rel=0.5)
    # every second record point (t = 0, 0.8) and the closing record (t = 1.0)
    np.testing.assert_allclose(every2["t"][: every2["count"]], [0.0, 0.8, 1.0])
    np.testing.assert_array_equal(every2["values"][2], state["w"][[0, 2]])
    state["w"][3] = 2e6
    record.update(row=3, start=False)
    assert module.run_steps(1.0, 0.1, steps, state, plan, None, table, record) == 1
    assert record["diverged"]["state"] == "w" and record["diverged"]["member"] is None
    assert record["diverged"]["t"] == pytest.approx(1.1)


def test_a_vectorised_callable_is_called_once_per_chunk(module) -> None:
    graph = Digraph.from_spec(GRAPH)
    calls = []

    def signals(t):
        calls.append(np.shape(t))
        return {"u": np.cos(t) * graph.inputs, "z": np.sin(t) * graph.outputs}

    with warnings.catch_warnings():
        warnings.simplefilter("error", StlpWarning)
        trace = run(module, graph, signals, horizon=1.0, progress=False)
    assert all(len(shape) == 2 and shape[1] == 1 for shape in calls)
    assert len(calls) == 2  # t = 0 for the first clamp, then the one chunk
    np.testing.assert_allclose(trace.reference[:, 0], np.sin(trace.t), atol=1e-12)


def test_a_callable_that_does_not_broadcast_warns_and_is_called_per_time(module) -> None:
    graph = Digraph.from_spec("complete:4:in=1")

    def signals(t: float) -> dict[str, np.ndarray]:
        u, z = np.zeros(graph.n), np.zeros(graph.n)
        u[graph.inputs], z[graph.outputs] = math.cos(t), math.sin(t)
        return {"u": u, "z": z}

    with pytest.warns(StlpWarning, match="once per time"):
        trace = run(module, graph, signals, horizon=0.5, progress=False)
    np.testing.assert_allclose(trace.reference[:, 0], np.sin(trace.t), atol=1e-12)


def test_a_batch_run_has_a_member_axis_and_one_score_per_member(module) -> None:
    graph = Digraph.from_spec(GRAPH)
    task = make_task("tracking-sine", graph)
    seeds = [0, 1, 2]
    batch = run(module, graph, task, horizon=2.0, seed=seeds, progress=False)
    assert batch.output.shape == (41, 3, 1) and batch.lagrangian.shape == (41, 3)
    assert batch.members == 3 and batch.state["w"].shape[0] == 3
    scores = batch.score()
    assert scores.shape == (3,)
    for b, seed in enumerate(seeds):
        alone = run(module, graph, task, horizon=2.0, seed=seed, progress=False)
        np.testing.assert_allclose(batch.output[:, b], alone.output, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(batch.lagrangian[:, b], alone.lagrangian, rtol=1e-11)
        assert scores[b] == pytest.approx(alone.score(), rel=1e-10)


def test_a_batch_with_one_parameter_per_member(module) -> None:
    graph = Digraph.from_spec(GRAPH)
    task = make_task("tracking-sine", graph)
    batch = run(module, graph, task, horizon=1.0, seed=[0, 0], params={"q": [50.0, 100.0]},
                progress=False)  # fmt: skip
    for b, q in enumerate((50.0, 100.0)):
        alone = run(module, graph, task, horizon=1.0, params={"q": q}, progress=False)
        np.testing.assert_allclose(batch.output[:, b], alone.output, rtol=1e-12, atol=1e-12)


def test_a_diverging_member_names_itself() -> None:
    graph = Digraph.from_spec(GRAPH)
    task = make_task("tracking-sine", graph)
    unflipped = build(MODELS["stlp"].build(), Options(flip=False))
    trace = run(unflipped, graph, task, horizon=20.0, seed=[0, 1], progress=False)
    assert trace.diverged is not None and trace.diverged.member in (0, 1)
    assert f"member {trace.diverged.member}" in str(trace.diverged)
    assert math.isinf(trace.score()[trace.diverged.member])


def test_stlp_run_seeds_runs_a_batch(capsys) -> None:
    from stlp_sym.cli import main

    argv = ["run", "stlp", "--graph", GRAPH, "--horizon", "1", "--seeds", "0:3"]
    assert main([*argv, "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "x 3 members" in out and "seed 2:" in out and "seed 3:" not in out
    assert main([*argv[:-1], "3:3"]) != 0
    assert "gives no seed" in capsys.readouterr().err
