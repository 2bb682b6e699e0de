"""Figures: ``Trace.plot`` (a run's panels, by the names the run observes) and the
back-propagation limit's figure."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from matplotlib.figure import Figure

from stlp_sym.checks.backprop import BackpropLimit
from stlp_sym.display.plots import backprop_figure, plot_trace
from stlp_sym.graph import Digraph
from stlp_sym.runner.figures import math_symbol, moving_error
from stlp_sym.runner.loop import run
from stlp_sym.runner.tasks import make_task

GRAPH = "complete:6:in=2:out=2"  # inputs 0, 1; outputs 4, 5


@pytest.fixture(scope="module")
def module(numpy_stlp):
    return numpy_stlp


@pytest.fixture(scope="module")
def trace(module):
    graph = Digraph.from_spec(GRAPH)
    return run(module, graph, make_task("tracking-sine", graph), horizon=1.0, progress=False)


def _labels(axes) -> list[str]:
    return [line.get_label() for line in axes.get_lines()]


def test_the_figure_has_a_panel_per_output_with_its_target_and_the_inputs(trace) -> None:
    figure = trace.plot("sine")
    assert isinstance(figure, Figure)
    outputs = 2
    assert len(figure.axes) == outputs + 3  # error, energy, weights
    for k, node in enumerate((4, 5)):
        axes = figure.axes[k]
        assert _labels(axes) == [
            "$u_{0}$ input",
            "$u_{1}$ input",
            f"$z_{{{node}}}$ target",
            f"$x_{{{node}}}$ output",
        ]
        lines = axes.get_lines()
        np.testing.assert_allclose(lines[0].get_ydata(), np.cos(trace.t), rtol=0, atol=1e-15)
        np.testing.assert_array_equal(lines[2].get_ydata(), trace.reference[:, k])
        np.testing.assert_array_equal(lines[3].get_ydata(), trace.output[:, k])
    error, energy, weights = figure.axes[outputs:]
    assert _labels(error) == ["node 4", "node 5"] and error.get_yscale() == "log"
    assert "$(x - z)^2" in error.get_ylabel()
    assert _labels(energy) == [r"$L/\phi$", r"$H/\phi$"]
    assert r"\phi = e^{\theta t}" in energy.get_title()  # the symbols explained
    np.testing.assert_array_equal(energy.get_lines()[0].get_ydata(), trace.lagrangian)
    np.testing.assert_array_equal(weights.get_lines()[0].get_ydata(), trace.weight_norm)
    assert figure.axes[-1].get_xlabel() == "time $t$"


def test_legends_sit_outside_the_data(trace, tmp_path) -> None:
    figure = trace.plot()
    (path,) = plot_trace(trace, tmp_path, prefix="sine-")  # renders with Agg, no display
    assert path == tmp_path / "sine-run.png" and path.read_bytes()[:4] == b"\x89PNG"
    renderer = figure.canvas.get_renderer()
    figure.draw(renderer)
    for axes in figure.axes:
        legend = axes.get_legend()
        box = legend.get_window_extent(renderer)
        assert box.x0 >= axes.get_window_extent(renderer).x1


def test_the_names_come_from_the_run(trace) -> None:
    named = replace(
        trace,
        meta={**trace.meta, "observed": {"output": "v", "target": "y"}, "input_signal": "s"},
    )
    labels = _labels(named.plot().axes[0])
    assert labels == ["$s_{0}$ input", "$s_{1}$ input", "$y_{4}$ target", "$v_{4}$ output"]
    assert math_symbol("lambda_hat", "in_1") == r"$\mathrm{lambda\_hat}_{in\_1}$"
    unobserved = replace(trace, meta={**trace.meta, "observed": {"output": None, "target": None}})
    assert len(unobserved.plot().axes) == 2  # energy and weights only


def test_a_batch_plots_the_member_asked_for(module) -> None:
    graph = Digraph.from_spec(GRAPH)
    task = make_task("tracking-sine", graph)
    batch = run(module, graph, task, horizon=0.5, seed=[3, 4], progress=False)
    figure = batch.plot("batch", member=1)
    np.testing.assert_array_equal(figure.axes[0].get_lines()[3].get_ydata(), batch.output[:, 1, 0])
    assert "member 1 of 2" in figure.get_suptitle()


def test_moving_error_against_a_hand_computation() -> None:
    t = np.arange(6.0)
    output = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    target = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])  # variance 1
    # squared errors 1, 4, 1, 16, 9, 36; a window of 2 time units holds 3 records
    got = moving_error(t, output, target, 2.0)
    np.testing.assert_allclose(got[2:], [6 / 3, 21 / 3, 26 / 3, 61 / 3])
    assert np.isnan(got[:2]).all()


def test_backprop_figure_plots_force_against_gradient() -> None:
    limit = BackpropLimit("w", np.array([1.0, -2.0, 0.5]), np.array([1.0, -2.0, 0.5 + 1e-9]))
    figure = backprop_figure(limit)
    left, right = figure.axes
    points = left.get_lines()[1]
    np.testing.assert_array_equal(points.get_xdata(), limit.gradient)
    np.testing.assert_array_equal(points.get_ydata(), limit.force)
    assert r"$m\,\ddot{w}$" in left.get_ylabel() and "$-dL^*/dw$" in left.get_xlabel()
    assert f"{limit.gap:.1e}" in right.get_title()


def test_a_divergence_is_marked_on_every_panel(trace) -> None:
    from stlp_sym.runner.trace import Divergence

    diverged = replace(trace, diverged=Divergence(0.5, "w", 0, 2e6))
    figure = diverged.plot()
    assert _labels(figure.axes[0])[-1] == "diverged, $t = 0.5$"
    for axes in figure.axes:
        assert any(list(line.get_xdata()) == [0.5, 0.5] for line in axes.get_lines())
