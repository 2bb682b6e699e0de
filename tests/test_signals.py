"""Signals from CSV files: a column per node or per role, the horizon at the data's end."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from stlp_sym.cli import main
from stlp_sym.errors import StlpError
from stlp_sym.graph import Digraph
from stlp_sym.graph.files import read_graph
from stlp_sym.runner.loop import run
from stlp_sym.runner.signalfile import read_signal_file
from stlp_sym.runner.tasks import make_task

GRAPH = "complete:6:in=2:out=2"  # inputs 0, 1; outputs 4, 5


@pytest.fixture(scope="module")
def module(numpy_stlp):
    return numpy_stlp


def _csv(path, header: str, rows) -> str:
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return str(path)


def test_columns_drive_their_own_nodes(tmp_path) -> None:
    graph = Digraph.from_spec(GRAPH)
    path = _csv(tmp_path / "s.csv", "t,u[0],u[1],z[4],z[5]", [(0, 1, -1, 2, 4), (2, 3, 1, 0, 8)])
    values = make_task("ignored", graph, signal_file=path).table(np.array([0.0, 1.0, 2.0]))
    assert values["u"].tolist() == [[1, -1, 0, 0, 0, 0], [2, 0, 0, 0, 0, 0], [3, 1, 0, 0, 0, 0]]
    assert values["z"].tolist() == [[0, 0, 0, 0, 2, 4], [0, 0, 0, 0, 1, 6], [0, 0, 0, 0, 0, 8]]


def test_a_column_without_node_is_broadcast_and_a_node_column_overrides_it(tmp_path) -> None:
    graph = Digraph.from_spec(GRAPH)
    path = _csv(tmp_path / "s.csv", "t,z,z[5]", [(0, 1, 5), (4, 3, 9)])
    task = make_task("tracking-sine", graph, signal_file=path)
    values = task.table(np.array([1.0]))
    assert values["z"].tolist() == [[0, 0, 0, 0, 1.5, 6]]
    # inputs without a u column are driven by cos t, as the built-in tasks do
    np.testing.assert_allclose(values["u"][0], [np.cos(1.0)] * 2 + [0] * 4, rtol=0, atol=0)
    scalar = task.signals(1.0)
    assert scalar["z"].tolist() == [0, 0, 0, 0, 1.5, 6] and scalar["u"].shape == (6,)


def test_nodes_are_named_by_the_graph_files_ids(tmp_path) -> None:
    graph_file = tmp_path / "g.csv"
    graph_file.write_text("# inputs: in1\n# outputs: out\nin1,h\nh,out\nin1,out\n")
    graph = read_graph(graph_file)  # labels ('h', 'in1', 'out')
    path = _csv(tmp_path / "s.csv", "t,u[in1],z[out]", [(0, 0.5, 1), (1, 0.5, 3)])
    values = make_task("tracking-sine", graph, signal_file=path).table(np.array([0.25]))
    assert values["u"].tolist() == [[0, 0.5, 0]] and values["z"].tolist() == [[0, 0, 1.5]]


def test_the_run_sees_the_values_at_the_nodes(module, tmp_path) -> None:
    graph = Digraph.from_spec(GRAPH)
    rows = [(0, 0.2, -0.4, 0.1, -0.3), (0.6, 0.8, 0.2, 0.7, 0.9), (1.0, 0.0, 0.5, -0.5, 0.25)]
    path = _csv(tmp_path / "s.csv", "t,u[1],u[0],z[5],z[4]", rows)
    trace = run(module, graph, make_task("x", graph, signal_file=path), progress=False)
    assert trace.t[-1] == pytest.approx(1.0)  # the horizon is the data's end
    times = np.array([r[0] for r in rows])
    for column, node in ((3, 5), (4, 4)):  # reference columns follow the outputs 4, 5
        expected = np.interp(trace.t, times, [r[column] for r in rows])
        np.testing.assert_allclose(trace.reference[:, node - 4], expected, rtol=0, atol=1e-12)
    # the inputs are clamped to the last row's values at the end
    np.testing.assert_allclose(trace.state["x"][:2], [0.5, 0.0], rtol=0, atol=1e-12)


def test_a_horizon_past_the_data_is_refused_unless_hold_last(module, tmp_path) -> None:
    graph = Digraph.from_spec(GRAPH)
    path = _csv(tmp_path / "short.csv", "t,z", [(0, 0.0), (0.5, 1.0)])
    with pytest.raises(StlpError, match=r"short\.csv: the data end at t = 0\.5.*--hold-last"):
        run(module, graph, make_task("x", graph, signal_file=path), horizon=0.6, progress=False)
    task = make_task("x", graph, signal_file=path, hold_last=True)
    trace = run(module, graph, task, horizon=0.6, progress=False)
    assert trace.t[-1] == pytest.approx(0.6)
    np.testing.assert_array_equal(trace.reference[trace.t >= 0.5], 1.0)


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        ("t,z,u[7]", [(0, 0, 0), (1, 0, 0)], r"column 'u\[7\]'.* has no node '7'"),
        ("t,z,u[4]", [(0, 0, 0), (1, 0, 0)], r"node 4 is not one of the inputs"),
        ("t,z[4]", [(0, 0), (1, 0)], r"no z column for the output node\(s\) 5"),
        ("t,z,y", [(0, 0, 0), (1, 0, 0)], r"column 'y': expected NAME or NAME\[NODE\]"),
        ("z,t", [(0, 0), (1, 1)], r"first column is t"),
        ("t,z", [(1, 0), (2, 0)], r"the data start at t = 1"),
        ("t,z,z", [(0, 0, 0), (1, 0, 0)], r"the column z is given twice"),
        ("t,z", [(0, 0), (0, 1)], r"strictly increasing"),
        ("t,z,z[5],z[05]", [(0, 0, 0, 0), (1, 0, 0, 0)], r"the column z\[5\] is given twice"),
    ],
)
def test_bad_signal_files_are_named(tmp_path, header, rows, message) -> None:
    path = _csv(tmp_path / "bad.csv", header, rows)
    with pytest.raises(StlpError, match=r"bad\.csv.*" + message):
        read_signal_file(path, Digraph.from_spec(GRAPH))


def test_cli_warns_when_signal_replaces_task_and_names_the_file(
    tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("STLP_CACHE_DIR", str(tmp_path / "cache"))
    path = _csv(tmp_path / "s.csv", "t,z", [(0, 0), (0.2, 1)])
    base = ["run", "stlp", "--graph", GRAPH, "--signal", path, "--backend", "numpy"]
    assert main([*base, "--task", "tracking-sine"]) == 0
    printed = capsys.readouterr()
    assert "records to t = 0.2" in printed.out
    assert re.search(
        r"stlp: warning: --signal .*s\.csv replaces .*--task tracking-sine", printed.err
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(base) == 0
    assert main([*base, "--horizon", "1"]) == 2
    assert "s.csv: the data end at t = 0.2" in capsys.readouterr().err
    assert main([*base, "--horizon", "0.3", "--hold-last"]) == 0


def test_the_trace_keeps_the_input_signal_at_the_input_nodes(module, tmp_path, monkeypatch) -> None:
    """Read from each chunk's table at the recorded times (several chunks here)."""
    from stlp_sym.runner import loop

    monkeypatch.setattr(loop, "CHUNK_STEPS", 150)
    graph = Digraph.from_spec(GRAPH)
    rows = [(0, 0.25, -1.0, 0.0), (1.0, 0.75, 1.0, 0.0)]
    path = _csv(tmp_path / "s.csv", "t,u[1],u[0],z", rows)
    trace = run(module, graph, make_task("x", graph, signal_file=path), dt=0.01, progress=False)
    assert trace.meta["input_signal"] == "u" and trace.meta["input_nodes"] == ["0", "1"]
    assert trace.meta["output_nodes"] == ["4", "5"]
    expected = np.stack([-1.0 + 2.0 * trace.t, 0.25 + 0.5 * trace.t], axis=1)
    np.testing.assert_allclose(trace.inputs, expected, rtol=0, atol=1e-12)
