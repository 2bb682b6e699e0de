"""Bad input: a clear message from the package's own error type; nothing lost or half written."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest

from stlp_sym import files
from stlp_sym.cache.store import build, generate, load, read_valid
from stlp_sym.cli import main
from stlp_sym.errors import GraphError, StlpError
from stlp_sym.graph import Digraph
from stlp_sym.runner.loop import check_params
from stlp_sym.runner.tasks import make_task
from stlp_sym.symbolic.models import MODELS


def test_empty_graph_is_refused() -> None:
    with pytest.raises(GraphError, match="at least one node"):
        Digraph.from_arcs(0, [])


def test_task_on_a_graph_without_outputs_names_the_graph() -> None:
    graph = Digraph.from_arcs(3, [(0, 1), (1, 2)], inputs=[0])
    with pytest.raises(StlpError, match=r"needs output nodes.*:out=K"):
        make_task("tracking-sine", graph)


@pytest.fixture(scope="module")
def stlp_module():
    return build(MODELS["stlp"].build(), MODELS["stlp"].options)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"c": float("nan")}, "c = nan"),
        ({"q": float("inf")}, "q = inf"),
        ({"theta": 1e300}, "theta = 1e[+]?300"),
        ({"nope": 1.0}, "unknown parameter 'nope'"),
    ],
)
def test_absurd_parameters_are_refused(stlp_module, params, fragment) -> None:
    with pytest.raises(StlpError, match=fragment):
        check_params(stlp_module, params, 1e-3)


def test_bad_time_step_is_refused(stlp_module) -> None:
    with pytest.raises(StlpError, match="dt"):
        check_params(stlp_module, {}, -1.0)


def test_unstable_euler_step_is_warned(stlp_module) -> None:
    with pytest.warns(UserWarning, match=r"decay rate k = 1001 of 'lambda_hat'.*euler is unstable"):
        check_params(stlp_module, {"c": 1000.0}, 1e-2)


def test_bad_param_on_the_command_line(capsys) -> None:
    argv = ["run", "stlp", "--graph", "complete:3:in=1", "--param", "c=__import__('os')"]
    assert main(argv) == 2
    assert "is not a number" in capsys.readouterr().err


def test_interrupted_generation_leaves_no_partial_file(tmp_path, monkeypatch) -> None:
    act, options = MODELS["pendulum"].build(), MODELS["pendulum"].options

    def fail(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", fail)
    with pytest.raises(KeyboardInterrupt):
        generate(act, options, tmp_path)
    assert os.listdir(tmp_path) == []


def test_interrupted_generation_keeps_the_previous_file(tmp_path, monkeypatch) -> None:
    act, options = MODELS["pendulum"].build(), MODELS["pendulum"].options
    path = generate(act, options, tmp_path)
    path.write_text(path.read_text() + "# edited\n")  # stale: will be rebuilt
    before = path.read_text()
    monkeypatch.setattr(files.os, "replace", lambda *a: (_ for _ in ()).throw(OSError))
    with pytest.raises(OSError):
        generate(act, options, tmp_path)
    assert path.read_text() == before
    assert sorted(os.listdir(tmp_path)) == [path.name]


def _generate_in(directory: str) -> str:
    return str(generate(MODELS["stlp"].build(), MODELS["stlp"].options, directory))


def test_two_processes_generating_the_same_module(tmp_path) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        paths = pool.map(_generate_in, [str(tmp_path)] * 2)
    assert paths[0] == paths[1]
    assert read_valid(tmp_path / os.path.basename(paths[0]))
    assert [p for p in os.listdir(tmp_path) if not p.startswith("__")] == [
        os.path.basename(paths[0])
    ]
    module = load(paths[0])
    plan = module.prepare(2, [0], [1], [0], [1])
    assert np.isfinite(module.init(plan)["w"]).all()


def test_names_that_look_like_generated_ones_do_not_collide(tmp_path) -> None:
    from stlp_sym.symbolic.action import Action
    from stlp_sym.symbolic.transforms import Options
    from stlp_sym.symbolic.vocabulary import Field, fn, t

    x, y = fn("x"), fn("out_x")
    action = Action(
        fields=[Field("x"), Field("out_x")],
        node=x.diff(t) ** 2 / 2 + y.diff(t) ** 2 / 2 + x * y,
    )
    module = load(generate(action, Options(flip=False, normalise=False), tmp_path))
    plan = module.prepare(1, [], [], [], [])
    state = {
        "x": np.array([0.3]),
        "x_d1": np.array([0.0]),
        "out_x": np.array([-0.7]),
        "out_x_d1": np.array([0.0]),
    }
    rates = module.rhs(0.0, state, plan, None, {})
    # L = xdot^2/2 + ydot^2/2 + x y:  xddot = y, yddot = x
    assert rates["x_d1"][0] == pytest.approx(-0.7) and rates["out_x_d1"][0] == pytest.approx(0.3)


def test_a_field_named_like_a_python_keyword_runs(tmp_path) -> None:
    from dataclasses import replace as with_options

    entry = MODELS["stlp"]
    module = load(generate(entry.build(), with_options(entry.options, normalise=False), tmp_path))
    assert "lambda" in module.STATES
    plan = module.prepare(3, [0, 1], [1, 2], [0], [2])
    state = module.init(plan)
    rates = module.rhs(0.0, state, plan, None, {"u": np.ones(3), "z": np.ones(3)})
    assert np.isfinite(rates["lambda"]).all() and rates["lambda"][2] != 0
