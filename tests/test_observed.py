"""The model says what is observed: OBSERVED, tasks in roles, scores and plots by the model's
names, and runs of models that observe nothing."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from stlp_sym.cache.store import build
from stlp_sym.cli import main
from stlp_sym.display.plots import plot_trace
from stlp_sym.errors import ActionError, StlpError, StlpWarning
from stlp_sym.graph.digraph import Digraph
from stlp_sym.options import Options
from stlp_sym.parse.modelfile import ModelFileError, load_model
from stlp_sym.runner.loop import run
from stlp_sym.runner.tasks import make_task
from stlp_sym.symbolic.models import MODELS

STLP = Path(__file__).resolve().parent.parent / "examples" / "stlp.toml"
GRAPH = "complete:6:in=1:out=2"


def _renamed(text: str, names: dict[str, str], model: str) -> str:
    """The model file ``text`` with its identifiers renamed (whole words)."""
    pattern = re.compile(r"\b(" + "|".join(names) + r")\b")
    renamed = pattern.sub(lambda m: names[m.group(1)], text)
    return renamed.replace('name = "stlp"', f'name = "{model}"')


@pytest.fixture(scope="module")
def renamed_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "renamed.toml"
    path.write_text(_renamed(STLP.read_text(), {"x": "v", "z": "y", "u": "s"}, "renamed"))
    return path


def test_built_in_modules_observe_x_and_z() -> None:
    module = build(MODELS["stlp"].build(), MODELS["stlp"].options)
    assert module.OBSERVED == {"output": "x", "target": "z"}
    assert build(MODELS["pendulum"].build(), MODELS["pendulum"].options).OBSERVED == {
        "output": None,
        "target": None,
    }


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_renaming_fields_and_signals_changes_no_number(renamed_file, backend) -> None:
    graph = Digraph.from_spec(GRAPH)
    traces = []
    for path in (STLP, renamed_file):
        model = load_model(path)
        module = build(model.build(), Options(backend=backend))
        task = make_task("tracking-sine", graph)
        traces.append(run(module, graph, task, horizon=3.0, progress=False))
    original, renamed = traces
    assert renamed.meta["observed"] == {"output": "v", "target": "y"}
    assert original.meta["observed"] == {"output": "x", "target": "z"}
    assert renamed.score() == original.score()  # exactly
    np.testing.assert_array_equal(renamed.output, original.output)
    np.testing.assert_array_equal(renamed.reference, original.reference)
    assert renamed.output.shape[-1] == 2  # every output node
    np.testing.assert_allclose(renamed.reference[:, 1], np.sin(renamed.t), atol=1e-12)


def test_cli_scores_and_plots_by_the_models_names(renamed_file, tmp_path, capsys) -> None:
    plots = tmp_path / "plots"
    argv = ["run", str(renamed_file), "--graph", GRAPH, "--horizon", "1", "--plot", str(plots)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "score (mean (v_o - y)^2 / var y" in out
    assert (plots / "tracking-sine-tracking.png").stat().st_size > 0


def test_the_tracking_plot_shows_every_output_node(renamed_file, tmp_path) -> None:
    from stlp_sym.display import plots

    graph = Digraph.from_spec("complete:6:in=1:out=3")
    module = build(load_model(renamed_file).build(), Options(backend="numpy"))
    trace = run(module, graph, make_task("tracking-sine", graph), horizon=0.5, progress=False)
    figure = plots._tracking(trace, "t")
    labels = [line.get_label() for line in figure.axes[0].lines]
    assert labels == [f"{what}, output {k}" for k in range(3) for what in ("target y(t)", "v(t)")]


def test_a_model_observing_nothing_runs_without_a_score(tmp_path, capsys) -> None:
    graph = Digraph.from_spec("chain:2")
    module = build(MODELS["pendulum"].build(), MODELS["pendulum"].options)
    trace = run(module, graph, lambda t: {}, horizon=0.5, progress=False)
    assert not trace.scored and trace.output.shape == (len(trace.t), 0)
    assert np.all(np.isfinite(trace.lagrangian)) and set(trace.state) == {"q", "q_d1"}
    with pytest.raises(StlpError, match="no score"):
        trace.score()
    assert plot_trace(trace, tmp_path)[0].name == "energy.png"
    with pytest.warns(StlpWarning, match="no input"):
        assert main(["run", "pendulum", "--graph", "complete:1:out=1", "--horizon", "0.2"]) == 0
    assert "no score: the model names no output field" in capsys.readouterr().out


def test_missing_signals_are_named_before_the_run() -> None:
    graph = Digraph.from_spec(GRAPH)
    module = build(MODELS["stlp"].build(), MODELS["stlp"].options)
    with pytest.raises(StlpError, match=r"reads the signal\(s\) \['z'\]"):
        run(module, graph, lambda t: {"u": np.cos(t)}, horizon=0.1, progress=False)


def test_observed_names_are_checked(tmp_path) -> None:
    action = MODELS["stlp"].build()
    with pytest.raises(ActionError, match=r"output 'w'.*not a node field"):
        action.replace(output="w")
    with pytest.raises(ActionError, match=r"target 'x'.*not a signal"):
        action.replace(target="x")
    with pytest.raises(ActionError, match="no output"):
        action.replace(output=None)
    assert action.replace(output="x", target=None).observed == {"output": "x", "target": None}
    path = tmp_path / "bad.toml"
    path.write_text(STLP.read_text().replace('output = "x"', 'output = "w"'))
    with pytest.raises(ModelFileError, match=r"bad.toml:\d+: run.output: output 'w'"):
        load_model(path)
    path.write_text(STLP.read_text().replace('target = "z"', 'target = "z"\nscore = 1'))
    with pytest.raises(ModelFileError, match=r"run\.score: unknown key"):
        load_model(path)


def test_an_output_without_a_state_is_refused() -> None:
    # under the exact policy the multiplier is solved for at each step: it has no state
    action = MODELS["stlp-holonomic"].build().replace(output="lambda", target=None)
    module = build(action, Options(policy="exact", backend="numpy"))
    assert module.OBSERVED["output"] == "lambda_hat"  # normalised with its field
    graph = Digraph.from_spec(GRAPH)
    with pytest.raises(StlpError, match="output field 'lambda_hat' has no state"):
        run(module, graph, make_task("tracking-sine", graph), horizon=0.1, progress=False)
