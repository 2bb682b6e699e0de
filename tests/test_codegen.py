"""Generated modules: the right numbers, the contract, the cache."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from stlp_sym.cache.store import build, cache_key, generate, load, read_valid
from stlp_sym.codegen.ir import lower
from stlp_sym.codegen.render import render_context, render_module
from stlp_sym.errors import StlpError, StructureError
from stlp_sym.graph import Digraph
from stlp_sym.symbolic.action import Action
from stlp_sym.symbolic.expansion import edge_function, expand, node_function
from stlp_sym.symbolic.models import MODELS
from stlp_sym.symbolic.transforms import Options, apply_options
from stlp_sym.symbolic.vocabulary import Aggregate, Field, fn, src, t

NEURAL = ["stlp", "stlp-holonomic", "cal4"]
MECHANICS = ["pendulum", "henon-heiles", "high-order"]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("STLP_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def _plan(module, graph: Digraph):
    return module.prepare(
        graph.n, graph.src, graph.dst, np.flatnonzero(graph.inputs), np.flatnonzero(graph.outputs)
    )


def _random_inputs(module, graph: Digraph, seed: int):
    rng = np.random.default_rng(seed)
    plan = _plan(module, graph)
    state = {k: rng.normal(size=v.shape) for k, v in module.init(plan).items()}
    signals = {s: rng.normal(size=graph.n) for s in module.SIGNALS}
    params = {k: v * (1 + 0.2 * rng.random()) for k, v in module.PARAMS.items()}
    return plan, state, signals, params


def _reference(module, derivation, graph, tt, state, signals, params) -> dict:
    """The expanded SymPy solution evaluated entry by entry (independent of the IR)."""
    values = {t: tt, **{sp.Symbol(k): v for k, v in params.items()}}
    for name, info in module.STATES.items():
        for index in range(state[name].size):
            if info["domain"] == "node":
                function = node_function(info["field"], index)
            else:
                function = edge_function(info["field"], graph.src[index], graph.dst[index])
            order = info["order"]
            values[sp.Derivative(function, (t, order)) if order else function] = state[name][index]
    for name, array in signals.items():
        values.update({node_function(name, i): array[i] for i in range(graph.n)})
    top = {info["field"]: name for name, info in module.STATES.items()}
    solution = expand(derivation, graph).solution
    return {(top[f], i): float(expr.xreplace(values)) for (f, i), expr in solution.items()}


@pytest.mark.parametrize("spec", ["random:6,13,4:in=2:out=2", "feedforward:2,3,1"])
@pytest.mark.parametrize("model", NEURAL)
def test_generated_rhs_equals_expanded_derivation(model: str, spec: str) -> None:
    entry = MODELS[model]
    graph = Digraph.from_spec(spec)
    module = build(entry.build(), entry.options)
    plan, state, signals, params = _random_inputs(module, graph, seed=5)
    derivation = apply_options(entry.build(), entry.options)
    got = module.rhs(0.7, state, plan, params, signals)
    expected = _reference(module, derivation, graph, 0.7, state, signals, params)
    assert expected
    for (name, index), value in expected.items():
        assert got[name][index] == pytest.approx(value, rel=1e-11, abs=1e-11)


@pytest.mark.parametrize("model", MECHANICS)
def test_mechanics_on_one_node(model: str) -> None:
    entry = MODELS[model]
    graph = Digraph.from_arcs(1, [])
    module = build(entry.build(), entry.options)
    plan, state, signals, params = _random_inputs(module, graph, seed=2)
    derivation = apply_options(entry.build(), entry.options)
    got = module.rhs(0.1, state, plan, params, signals)
    for (name, index), value in _reference(
        module, derivation, graph, 0.1, state, signals, params
    ).items():
        assert got[name][index] == pytest.approx(value, rel=1e-12)


def test_clamped_and_absent_entries_do_not_move() -> None:
    entry = MODELS["stlp"]
    graph = Digraph.from_spec("complete:4:in=1")
    module = build(entry.build(), entry.options)
    plan, state, signals, params = _random_inputs(module, graph, seed=1)
    derivative = module.rhs(0.0, state, plan, params, signals)
    assert state["x"][0] == signals["u"][0]  # clamped from the signal, in place
    assert derivative["x"][0] == 0 and derivative["lambda_hat"][0] == 0
    assert derivative["w"] is state["w_d1"]


@pytest.mark.parametrize("model", ["stlp", "cal4"])
def test_cse_on_and_off_give_the_same_numbers(model: str) -> None:
    entry = MODELS[model]
    graph = Digraph.from_spec("random:6,13,4:in=2:out=2")
    with_cse = build(entry.build(), entry.options)
    without = build(entry.build(), replace(entry.options, cse=False))
    assert with_cse.__file__ != without.__file__
    plan, state, signals, params = _random_inputs(with_cse, graph, seed=3)
    a = with_cse.rhs(0.2, {k: v.copy() for k, v in state.items()}, plan, params, signals)
    a = {name: np.array(value) for name, value in a.items()}  # rhs may return work buffers
    b = without.rhs(0.2, state, plan, params, signals)
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-13, atol=1e-13)


def test_module_runs_with_only_numpy(tmp_path) -> None:
    path = generate(MODELS["stlp"].build(), MODELS["stlp"].options, tmp_path)
    script = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("sympy", "stlp_sym", "jinja2", "networkx", "scipy"):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
import importlib.util
spec = importlib.util.spec_from_file_location("m", {str(path)!r})
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
plan = m.prepare(3, [0, 1, 2], [1, 2, 1], [0], [2])
state = m.init(plan)
signals = lambda t: {{"u": [1.0, 0, 0], "z": [0, 0, 0.5]}}
for k in range(10):
    m.step(k * 1e-3, 1e-3, state, plan, None, signals)
print(sorted(state), float(state["x"][1]) > 0)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "['lambda_hat', 'w', 'w_d1', 'x'] True" in out.stdout


def test_module_contract_names() -> None:
    module = build(MODELS["stlp"].build(), MODELS["stlp"].options)
    for name in ("prepare", "init", "rhs", "step", "lagrangian", "hamiltonian", "el_parts"):
        assert callable(getattr(module, name))
    assert MODELS["stlp"].build().parameter_defaults == module.PARAMS
    assert list(module.STATES) == ["x", "lambda_hat", "w", "w_d1"]
    assert module.OPTIONS["integrator"] == "euler"
    source = Path(module.__file__).read_text()
    assert "do not edit" in source and "lambda_hat_i' = " in source


def test_energies_match_a_hand_evaluation() -> None:
    """L/phi and H/phi of model stlp on one arc, written out by hand."""
    module = build(MODELS["stlp"].build(), MODELS["stlp"].options)
    plan = module.prepare(2, [0], [1], [0], [1])
    p = module.PARAMS
    state = {
        "x": np.array([0.0, 0.3]),
        "lambda_hat": np.array([0.0, 0.2]),
        "w": np.array([0.7]),
        "w_d1": np.array([-0.4]),
    }
    u, z = 0.5, 0.1
    signals = {"u": np.array([u, 0.0]), "z": np.array([0.0, z])}
    a = 0.7 * u
    xdot = p["c"] * (np.tanh(a) - 0.3)
    tracking = p["q"] / 2 * (0.3 - z) ** 2
    weights = p["r"] / 2 * 0.16 + p["r_w"] / 2 * 0.49
    lagrangian = tracking + weights + 0.2 * (xdot - p["c"] * (np.tanh(a) - 0.3))
    hamiltonian = 0.2 * xdot + p["r"] * 0.16 - lagrangian
    assert module.lagrangian(0.0, state, plan, None, signals) == pytest.approx(lagrangian)
    assert module.hamiltonian(0.0, state, plan, None, signals) == pytest.approx(hamiltonian)


def test_step_reuses_state_arrays() -> None:
    module = build(MODELS["stlp"].build(), MODELS["stlp"].options)
    plan = module.prepare(3, [0, 1], [1, 2], [0], [2])
    state = module.init(plan, seed=4)
    before = {k: id(v) for k, v in state.items()}
    module.step(0.0, 1e-3, state, plan, None, lambda t: {"u": np.ones(3), "z": np.zeros(3)})
    assert {k: id(v) for k, v in state.items()} == before


def test_locality_is_reported_per_update() -> None:
    ir = lower(apply_options(MODELS["stlp"].build(), MODELS["stlp"].options))
    # x: gather parents, scatter; lambda_hat: and then gather the children's messages, scatter.
    assert ir.rhs.hops == {"x": 2, "lambda_hat": 4, "w_d1": 3}
    kinds = [op.kind for op in ir.rhs.ops]
    assert kinds.count("scatter") == 2  # the net input and the children's messages


def test_unsupported_function_is_rejected_at_the_ir() -> None:
    x = fn("x")
    act = Action(fields=[Field("x")], node=x.diff(t) ** 2 / 2 - sp.gamma(x))
    with pytest.raises(StructureError, match="gamma"):
        lower(apply_options(act, Options(flip=False, normalise=False)))


def test_algebraic_model_cannot_be_generated() -> None:
    entry = MODELS["stlp-holonomic"]
    with pytest.raises(StructureError, match="algebraic"):
        generate(entry.build(), replace(entry.options, policy="none"))


def test_template_keys_must_match_the_renderer() -> None:
    entry = MODELS["pendulum"]
    ir = lower(apply_options(entry.build(), entry.options))
    context = render_context(ir, entry.options, "0" * 64, [])
    with pytest.raises(KeyError, match="renderer only"):
        render_module({**context, "stray": 1})
    del context["title"]
    with pytest.raises(KeyError, match="template only"):
        render_module(context)


def test_cache_key_needs_no_derivation_and_tracks_inputs() -> None:
    act = MODELS["stlp"].build()
    key = cache_key(act, Options())
    assert key == cache_key(MODELS["stlp"].build(), Options())
    assert key != cache_key(act, Options(integrator="rk4"))
    changed = act.replace(parameters=(*act.parameters[:-1], replace(act.parameters[-1], default=2)))
    assert key != cache_key(changed, Options())


def test_cache_hit_truncation_and_edits(tmp_path) -> None:
    act, options = MODELS["pendulum"].build(), MODELS["pendulum"].options
    path = generate(act, options, tmp_path)
    stamp = path.stat().st_mtime_ns
    assert generate(act, options, tmp_path) == path and path.stat().st_mtime_ns == stamp
    text = path.read_text()
    path.write_text(text[: len(text) // 2])  # truncated
    assert not read_valid(path)
    with pytest.raises(StlpError, match="not an intact generated module"):
        load(path)
    generate(act, options, tmp_path)
    assert path.read_text() == text
    path.write_text(text.replace("np.sin", "np.cos"))  # edited
    generate(act, options, tmp_path)
    assert path.read_text() == text
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_params_and_signals_errors_name_the_culprit() -> None:
    module = build(MODELS["stlp"].build(), MODELS["stlp"].options)
    plan = module.prepare(2, [0], [1], [0], [1])
    state = module.init(plan)
    with pytest.raises(KeyError, match="unknown parameter"):
        module.rhs(0.0, state, plan, {"nope": 1.0}, {"u": np.zeros(2), "z": np.zeros(2)})
    with pytest.raises(KeyError, match="'z'"):
        module.rhs(0.0, state, plan, None, {"u": np.zeros(2)})


def test_generic_action_with_out_aggregate_and_velocity_free_code() -> None:
    """An action of the user's own: an outgoing aggregate through the whole pipeline."""
    x, w = fn("x"), fn("w")
    act = Action(
        name="fanout",
        fields=[Field("x"), Field("w", "edge")],
        aggregates=[Aggregate("b", w * src(x) ** 2, "out")],
        node=x.diff(t) ** 2 / 2 - sp.log(sp.cosh(fn("b"))),
        edge=w.diff(t) ** 2 / 2 - w**2 / 2,
    )
    options = Options(flip=False, normalise=False, integrator="heun")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the graph has no inputs: fine for this action
        graph = Digraph.from_spec("random:5,9,2")
    module = build(act, options)
    plan, state, signals, params = _random_inputs(module, graph, seed=9)
    got = module.rhs(0.0, state, plan, params, signals)
    expected = _reference(module, apply_options(act, options), graph, 0.0, state, signals, params)
    for (name, index), value in expected.items():
        assert got[name][index] == pytest.approx(value, rel=1e-11, abs=1e-12)


def test_module_header_states_the_locality(tmp_path) -> None:
    text = generate(MODELS["stlp"].build(), MODELS["stlp"].options, tmp_path).read_text()
    assert "Locality (gathers and scatters on the longest path of each update): " in text
    assert "x 2, lambda_hat 4, w_d1 3" in text
