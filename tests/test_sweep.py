"""Sweeps on Dask distributed: the runs, their batches, equality with single runs, a killed
worker, resuming, interrupting and the ``stlp sweep`` command."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr

from stlp_sym.cache.store import build
from stlp_sym.cli import main
from stlp_sym.errors import StlpError
from stlp_sym.graph.digraph import Digraph
from stlp_sym.options import Options
from stlp_sym.runner.loop import run
from stlp_sym.runner.sweep import sweep
from stlp_sym.runner.sweepplan import pack, sweep_runs
from stlp_sym.runner.tasks import make_task
from stlp_sym.runner.trace import Trace
from stlp_sym.symbolic.models import MODELS

distributed = pytest.importorskip("distributed")

GRAPH = "random:5,9,2:in=1:out=1"  # a cycle and a self-loop


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on the loopback address."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_runs_cross_seeds_with_grid_or_zipped_parameters():
    grid = sweep_runs([0, 1], {"a": [1, 2], "b": [3, 4, 5]})
    assert len(grid) == 12 and {r.seed for r in grid} == {0, 1}
    assert {(r.values["a"], r.values["b"]) for r in grid} == {
        (a, b) for a in (1, 2) for b in (3, 4, 5)
    }
    zipped = sweep_runs([7], {"a": [1, 2], "b": [3, 4]}, grid=False)
    assert [r.values for r in zipped] == [{"a": 1, "b": 3}, {"a": 2, "b": 4}]
    assert [r.index for r in zipped] == [0, 1]
    with pytest.raises(StlpError, match="counts differ"):
        sweep_runs([0], {"a": [1, 2], "b": [3]}, grid=False)
    with pytest.raises(StlpError, match="non-negative"):
        sweep_runs([-1], {})


def test_batches_share_a_seed_only_when_the_signals_need_it():
    runs = sweep_runs(range(3), {"c": [1.0, 2.0, 3.0]})
    by_seed = pack(runs, size=8, by_seed=True)
    assert all(len({r.seed for r in batch}) == 1 for batch in by_seed)
    assert sorted(r.index for batch in by_seed for r in batch) == list(range(9))
    mixed = pack(runs, size=4, by_seed=False)
    assert [len(batch) for batch in mixed] == [4, 4, 1]


def _alone(module, graph, task, seed, params):
    return run(
        module,
        graph,
        make_task(task, graph, seed),
        horizon=1.5,
        params=params,
        seed=seed,
        progress=False,
    )


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_each_run_equals_stlp_run_with_its_seed_and_parameters(client, backend):
    options = Options(backend=backend)
    dataset = sweep(
        "stlp",
        GRAPH,
        seeds=range(3),
        params={"c": [1.0, 2.0], "theta": [0.5, 1.0]},
        options=options,
        horizon=1.5,
        client=client,
        members=3,
    )
    assert dataset.sizes["run"] == 12
    assert set(dataset.worker.values) == set(client.scheduler_info()["workers"])
    assert int(dataset.members.max()) > 1
    module = build(MODELS["stlp"].build(), options)
    graph = Digraph.from_spec(GRAPH)
    for index in (0, 5, 11):
        record = dataset.sel(run=index)
        params = {"c": float(record.c), "theta": float(record.theta)}
        alone = _alone(module, graph, "tracking-sine", int(record.seed), params)
        assert float(record.score) == pytest.approx(alone.score(), rel=1e-12)
        for name, value in alone.state.items():
            np.testing.assert_allclose(
                record[f"final_{name}"].values, value, rtol=1e-12, atol=1e-14
            )
        np.testing.assert_allclose(record.output.values[:, 0], alone.output[:, 0], rtol=1e-12)


def test_a_seeded_task_runs_one_seed_a_batch(client):
    dataset = sweep(
        "stlp",
        GRAPH,
        "tracking-piecewise",
        seeds=[3, 4],
        params={"c": [1.0, 2.0]},
        options=Options(backend="numpy"),
        horizon=1.0,
        client=client,
        members=8,
    )
    for batch in np.unique(dataset.batch.values):
        assert len(set(dataset.seed.values[dataset.batch.values == batch])) == 1
    record = dataset.sel(run=3)  # seed 4, c = 2
    module = build(MODELS["stlp"].build(), Options(backend="numpy"))
    graph = Digraph.from_spec(GRAPH)
    alone = run(
        module,
        graph,
        make_task("tracking-piecewise", graph, 4),
        horizon=1.0,
        params={"c": 2.0},
        seed=4,
        progress=False,
    )
    assert float(record.score) == pytest.approx(alone.score(), rel=1e-12)


def test_a_diverged_run_is_a_result_and_its_batch_mates_run_on(client):
    dataset = sweep(
        "stlp",
        GRAPH,
        seeds=[0],
        params={"r": [0.1, 1e-6, 0.2]},
        options=Options(backend="numpy"),
        horizon=1.5,
        client=client,
        members=3,
    )
    diverged = dataset.diverged.values
    assert diverged.tolist() == [False, True, False]
    assert math.isinf(float(dataset.score[1])) and "diverged at t" in str(
        dataset.divergence[1].values
    )
    assert float(dataset.divergence_t[1]) < 1.5
    module = build(MODELS["stlp"].build(), Options(backend="numpy"))
    alone = _alone(module, Digraph.from_spec(GRAPH), "tracking-sine", 0, {"r": 0.2})
    assert float(dataset.score[2]) == pytest.approx(alone.score(), rel=1e-12)


def test_a_killed_worker_costs_a_retry_not_a_result(client):
    killed = []

    def kill_a_busy_worker(result):
        if killed:
            return
        busy = [address for address, keys in client.processing().items() if keys]
        if busy:
            pids = client.run(os.getpid, workers=busy[:1])
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(busy[0])

    dataset = sweep(
        "stlp",
        GRAPH,
        seeds=range(8),
        options=Options(backend="numpy"),
        horizon=3.0,
        client=client,
        members=1,
        on_result=kill_a_busy_worker,
    )
    assert killed, "no worker was busy when the first result arrived"
    assert sorted(dataset.run.values.tolist()) == list(range(8))
    assert np.all(np.isfinite(dataset.score.values))
    client.wait_for_workers(2, timeout=60)


def test_a_resumed_sweep_runs_only_the_missing_runs(client, tmp_path):
    settings = dict(
        seeds=range(2),
        params={"c": [1.0, 2.0]},
        options=Options(backend="numpy"),
        horizon=1.0,
        client=client,
        out=tmp_path,
    )
    first = sweep("stlp", GRAPH, **settings)
    record = Trace.load(tmp_path / "runs" / "run-000003")  # seed 1, c = 2
    assert record.meta["seed"] == 1 and record.meta["params"]["c"] == 2.0
    assert float(record.score()) == float(first.score[3])
    assert json.loads((tmp_path / "runs" / "run-000003" / "config.json").read_text())["seed"] == 1
    for index in (1, 2):
        shutil.rmtree(tmp_path / "runs" / f"run-{index:06d}")
    again = []
    second = sweep("stlp", GRAPH, **settings, on_result=lambda r: again.append(r.run.index))
    assert sorted(again) == [1, 2]
    np.testing.assert_array_equal(first.score.values, second.score.values)
    with xr.open_dataset(tmp_path / "sweep.nc") as stored:
        np.testing.assert_array_equal(stored.score.values, first.score.values)
    with pytest.raises(StlpError, match="holds another sweep"):
        sweep("stlp", GRAPH, **{**settings, "params": {"c": [3.0]}})


def test_an_interrupted_sweep_writes_what_finished(client, tmp_path):
    def interrupt(result):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(
            "stlp",
            GRAPH,
            seeds=range(4),
            options=Options(backend="numpy"),
            horizon=1.0,
            client=client,
            members=1,
            out=tmp_path,
            on_result=interrupt,
        )
    with xr.open_dataset(tmp_path / "sweep.nc") as stored:
        assert stored.sizes["run"] == 1


def test_stlp_sweep_and_resume_from_the_command_line(client, tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = [
        "sweep",
        "stlp",
        "--graph",
        GRAPH,
        "--seeds",
        "0:2",
        "--param",
        "c=1,2",
        "--param",
        "theta=1",
        "--horizon",
        "1",
        "--backend",
        "numpy",
        "--scheduler",
        client.scheduler.address,
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "sweep of 4 runs" in printed and "c=2" in printed
    assert {p.name for p in out.iterdir()} >= {"sweep.nc", "sweep.json", "sweep.png", "runs"}
    shutil.rmtree(out / "runs" / "run-000003")
    assert main(["sweep", "--resume", str(out), "--scheduler", client.scheduler.address]) == 0
    assert len(list((out / "runs").glob("run-*/trace.nc"))) == 4


def test_stlp_sweep_refuses_bad_parameters(capsys):
    argv = [
        "sweep",
        "stlp",
        "--graph",
        GRAPH,
        "--param",
        "c=1,2",
        "--param",
        "theta=1,2,3",
        "--zip",
        "--workers",
        "1",
    ]
    assert main(argv) == 2
    assert "counts differ" in capsys.readouterr().err


def test_ctrl_c_on_stlp_sweep_keeps_the_finished_runs(tmp_path):
    out = tmp_path / "sweep"
    argv = ["sweep", "stlp", "--graph", GRAPH, "--seeds", "0:6", "--horizon", "20", "--workers",
            "2", "--members", "1", "--backend", "numpy", "--out", str(out)]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "stlp_sym", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while not list((out / "runs").glob("run-*/trace.nc")) and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert b"stlp sweep --resume" in err
    with xr.open_dataset(out / "sweep.nc") as stored:
        assert 1 <= stored.sizes["run"] < 6


def test_monitors_of_a_sweep_equal_those_of_the_single_run(client):
    monitor = ["w@arcs", "x@nodes:every=10", "L"]
    dataset = sweep("stlp", GRAPH, seeds=[0, 1], options=Options(backend="numpy"), horizon=0.5,
                    client=client, members=2, monitor=monitor)  # fmt: skip
    module = build(MODELS["stlp"].build(), Options(backend="numpy"))
    graph = Digraph.from_spec(GRAPH)
    alone = run(module, graph, make_task("tracking-sine", graph, 1), horizon=0.5, seed=1,
                progress=False, monitor=monitor)  # fmt: skip
    record = dataset.sel(run=1)
    for name in ("w", "x", "L"):
        np.testing.assert_allclose(
            record[f"monitor_{name}"].values, alone.series[name].values, rtol=1e-12, atol=1e-15
        )
    assert record["x_entry"].values.tolist() == [str(i) for i in range(5)]
    with pytest.raises(StlpError, match="not"):
        sweep("stlp", GRAPH, options=Options(backend="numpy"), client=client, monitor=["w@0->99"])
