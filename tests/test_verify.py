"""The checks of docs/theory.md section 4: built-ins pass, tampered modules fail."""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import networkx as nx
import numpy as np
import pytest

from stlp_sym.cache.store import generate
from stlp_sym.checks import (
    DEFAULT_GRAPH,
    Check,
    Report,
    build_context,
    central_weights,
    flow_derivative,
    is_one_node,
    verify,
    verify_model,
)
from stlp_sym.cli import main
from stlp_sym.graph import Digraph
from stlp_sym.symbolic.models import MODELS

MECHANICS = ["pendulum", "henon-heiles", "high-order"]
DAG = "feedforward:2,3,1"


@pytest.fixture(scope="module", autouse=True)
def _cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """Generated modules go to a temporary cache, never to the user's."""
    patch = pytest.MonkeyPatch()
    patch.setenv("STLP_CACHE_DIR", str(tmp_path_factory.mktemp("stlp-cache")))
    yield
    patch.undo()


def _failed(report: Report) -> set[str]:
    return {c.name for c in report.checks if not c.passed}


def test_default_graph_has_a_cycle_a_self_loop_an_input_and_an_output() -> None:
    graph = Digraph.from_spec(DEFAULT_GRAPH)
    arcs = graph.arcs()
    assert any(j == i for j, i in arcs)
    assert any(len(c) > 1 for c in nx.simple_cycles(graph.to_networkx()))
    assert graph.inputs.any() and graph.outputs.any()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_builtin_passes_on_a_dag(name: str) -> None:
    model = MODELS[name]
    report = verify_model(model, model.options, DAG)
    assert report.passed, report.table()
    assert "feedforward:2,3,1" in report.graph


@pytest.mark.parametrize("name", sorted(MODELS))
def test_builtin_passes_on_the_default_cyclic_graph(name: str) -> None:
    model = MODELS[name]
    report = verify_model(model, model.options, DEFAULT_GRAPH)
    assert report.passed, report.table()
    orders = {c.name: c.order for c in report.checks}
    assert 1.8 <= orders["discrete action"] <= 2.2
    if name in MECHANICS:  # (c) one-node graph for the mechanics models
        assert is_one_node(model.build())
        assert "1 nodes, 0 arcs" in report.graph
        assert any("replaced by one node" in note for note in report.notes)
    else:
        assert "6 nodes, 12 arcs" in report.graph


def test_exact_policy_module_passes_with_its_sparse_solve() -> None:
    model = MODELS["stlp-holonomic"]
    report = verify_model(model, replace(model.options, policy="exact"), DEFAULT_GRAPH)
    assert report.passed, report.table()
    notes = {c.name: c.note for c in report.checks}
    assert "residuals" in notes["unrolled reference"]
    assert "sparse solve" in notes["s P0 + P1 = 0"]


def _tampered(name: str, function: str, pattern: str, tmp_path: Path) -> ModuleType:
    """The NumPy module of a built-in with one assignment of ``function`` scaled by 1.001."""
    model = MODELS[name]
    options = replace(model.options, backend="numpy")
    text = generate(model.build(), options).read_text(encoding="utf-8")
    head, _, body = text.partition(f"def {function}(")
    line = re.compile(rf"^(    {pattern} = )(.+)$", re.MULTILINE)
    body, count = line.subn(r"\1(\2) * 1.001", body, count=1)
    assert count == 1
    path = tmp_path / f"tampered_{function.strip('_')}.py"
    path.write_text(f"{head}def {function}({body}", encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"tampered_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_changed_rhs_coefficient_fails(tmp_path: Path) -> None:
    model = MODELS["stlp"]
    module = _tampered("stlp", "_rhs_kernel", r"_out_\w+", tmp_path)
    graph = Digraph.from_spec(DEFAULT_GRAPH)
    report = verify(model.build(), model.options, graph, module=module)
    assert not report.passed
    assert {"s P0 + P1 = 0", "unrolled reference", "normalised vs raw"} <= _failed(report)
    assert "discrete action" not in _failed(report)
    assert "FAIL" in report.table()


def test_a_changed_euler_lagrange_coefficient_fails(tmp_path: Path) -> None:
    model = MODELS["stlp"]
    module = _tampered("stlp", "_el_kernel", r"_out_P0_w", tmp_path)
    graph = Digraph.from_spec(DEFAULT_GRAPH)
    report = verify(model.build(), model.options, graph, module=module)
    assert {"discrete action", "P0 = dL/dq", "s P0 + P1 = 0"} <= _failed(report)
    assert "unrolled reference" not in _failed(report)


def test_cli_verify_prints_the_table_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "pendulum"]) == 0
    out = capsys.readouterr().out
    for name in ("discrete action", "P0 = dL/dq", "integrator order (rk4)", "unrolled reference"):
        assert name in out
    assert "overall: PASS" in out and "FAIL" not in out


def test_table_marks_failures_and_not_applicable_checks() -> None:
    checks = (
        Check("a", 1e-3, 2.0, True, "fine"),
        Check("b", math.nan, None, True, "n/a: nothing to compare"),
        Check("c", 0.5, 0.1, False),
    )
    report = Report("m", "g", MODELS["stlp"].options, checks)
    table = report.table()
    assert not report.passed
    assert "n/a" in table and "FAIL" in table and "overall: FAIL" in table
    assert table.splitlines()[2].split()[:4] == ["check", "error", "observed", "order"]


def test_central_weights_are_the_standard_second_order_stencils() -> None:
    assert central_weights(1).tolist() == [-0.5, 0.0, 0.5]
    assert central_weights(3).tolist() == [-0.5, 1.0, 0.0, -1.0, 0.5]
    assert central_weights(4).tolist() == [1.0, -4.0, 6.0, -4.0, 1.0]


def test_derivatives_along_the_flow_match_the_pendulum() -> None:
    # q'' = -sin q, so q''' = -cos(q) q' and q'''' = sin(q) q'^2 - cos(q) q''.
    model = MODELS["pendulum"]
    ctx = build_context(model.build(), model.options, Digraph.from_arcs(1, []), None, 0)
    q, v = 0.3, 0.7
    state = {"q": np.array([q]), "q_d1": np.array([v])}
    third = flow_derivative(ctx, 0.2, state, "q", 1)
    fourth = flow_derivative(ctx, 0.2, state, "q", 2)
    assert third[0] == pytest.approx(-np.cos(q) * v, rel=1e-9)
    assert fourth[0] == pytest.approx(np.sin(q) * v**2 + np.cos(q) * np.sin(q), rel=1e-6)
