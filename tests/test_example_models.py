"""The example model files run from the command line: one model that uses every kind of term a
model may have (a parameter per node, a global field, ReLU and abs, its own observed names)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stlp_sym.cli import main
from stlp_sym.parse.modelfile import load_model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GRAPH = "random:6,12,0:in=1:out=1"


def test_the_heterogeneous_tracker_uses_every_kind_of_term() -> None:
    action = load_model(EXAMPLES / "heterogeneous-tracker.toml").build()
    assert {p.name: p.on for p in action.parameters}["tau"] == "node"
    assert {f.name: f.domain for f in action.fields}["b"] == "global"
    assert (action.output, action.target) == ("v", "y")
    assert "Max(0, " in str(action.node) and "Abs(w" in str(action.edge)  # ReLU, L1


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_it_runs_with_seeded_time_constants_to_a_score_and_a_figure(tmp_path, capsys, backend):
    tau = np.random.default_rng(3).uniform(0.5, 2.0, 6)
    np.savez(tmp_path / "tau.npz", tau=tau)
    argv = ["run", str(EXAMPLES / "heterogeneous-tracker.toml"), "--graph", GRAPH, "--horizon",
            "5", "--param-file", str(tmp_path / "tau.npz"), "--backend", backend, "--plot",
            str(tmp_path / "plots")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "score (mean (v_o - y)^2 / var y" in out
    assert (tmp_path / "plots" / "tracking-sine-run.png").stat().st_size > 0


def test_it_verifies_with_one_time_constant_per_node(tmp_path, capsys) -> None:
    np.savez(tmp_path / "tau.npz", tau=np.linspace(0.6, 1.8, 6))
    argv = ["verify", str(EXAMPLES / "heterogeneous-tracker.toml"), "--graph", GRAPH,
            "--param-file", str(tmp_path / "tau.npz"), "--backend", "numpy"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().out


def test_the_leaky_tracker_generates_and_runs(tmp_path, capsys) -> None:
    model = str(EXAMPLES / "leaky-tracker.toml")
    assert main(["generate", model, "--out", str(tmp_path), "--backend", "numpy"]) == 0
    assert main(["run", model, "--graph", GRAPH, "--horizon", "2", "--backend", "numpy"]) == 0
    assert "score (mean (x_o - z)^2 / var z" in capsys.readouterr().out
