"""Global fields in generated code: one value per network (per batch member), read by every node
and arc, moved by sums over every node and arc.

References: SymPy's ``euler_equations`` on the action written out node by node and arc by arc
(``tests/unrolled.py``), against the derivation and against the generated modules' ``el_parts``;
``verify`` (finite differences, the discrete action, the unrolled reference); the other backend;
the unbatched run of each member of a batch.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from recorded_numbers import signals_for
from unrolled import evaluate, random_point, unrolled_equations

from stlp_sym.cache.store import build
from stlp_sym.checks import DEFAULT_GRAPH, verify
from stlp_sym.cli import main
from stlp_sym.codegen.driver import compile
from stlp_sym.errors import StlpWarning, StructureError
from stlp_sym.graph import Digraph
from stlp_sym.options import INTEGRATORS, Options
from stlp_sym.parse.modelfile import read_model
from stlp_sym.symbolic.action import Action
from stlp_sym.symbolic.derivation import derive
from stlp_sym.symbolic.expansion import expand
from stlp_sym.symbolic.vocabulary import (
    IS_OUTPUT,
    Aggregate,
    Clamp,
    Field,
    Parameter,
    Signal,
    dst,
    fn,
    src,
    t,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "leaky-tracker.toml"
GRAPHS = {"dag": "feedforward:2,2,1", "cycles": DEFAULT_GRAPH}  # cycles and a self-loop
BACKENDS = ("numpy", "numba")
STEPS, DT = 1000, 1e-3


def shared_bias() -> Action:
    """A learned bias shared by every node and arc: read in the node term, the edge term and an
    aggregate, with a term of its own; no field or signal named ``x`` or ``z``."""
    v, w, bias, y = fn("v"), fn("w"), fn("bias"), fn("y")
    k, r = sp.symbols("k r")
    return Action(
        name="shared-bias",
        fields=(Field("v"), Field("w", "edge"), Field("bias", "global")),
        signals=(Signal("s", "input"), Signal("y", "output")),
        clamps=(Clamp("v", "s"),),
        aggregates=(Aggregate("a", w * src(v) + bias * w),),
        parameters=(Parameter("k", 0.5), Parameter("r", 0.25)),
        node=v.diff(t) ** 2 / 2 + IS_OUTPUT * (v - y) ** 2 / 2 - k * v * sp.tanh(fn("a") + bias),
        edge=r / 2 * w.diff(t) ** 2 + k * w**2 * sp.cos(bias) / 2 + src(v) * dst(v) * w * bias,
        global_=bias.diff(t) ** 2 / 2 + (bias - 1) ** 2 / 2,
    )


MECHANICS = Options(flip=False, normalise=False, policy="none", integrator="rk4")


def _leaky() -> tuple[Action, Options]:
    return read_model(EXAMPLE)


def _graph(spec: str) -> Digraph:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StlpWarning)
        return Digraph.from_spec(spec)


# -- the derivation against SymPy's unrolled euler_equations -------------------------------------


@pytest.mark.parametrize("spec", GRAPHS.values(), ids=GRAPHS.keys())
@pytest.mark.parametrize("which", ["shared-bias", "leaky-tracker"])
def test_expanded_equations_equal_unrolled_euler_equations(which: str, spec: str) -> None:
    action = shared_bias() if which == "shared-bias" else _leaky()[0]
    graph = _graph(spec)
    ours = expand(derive(action), graph).equations
    reference = unrolled_equations(action, graph)
    assert set(ours) == set(reference)
    assert any(field == action.fields_on("global")[0].name for field, _ in reference)
    point = random_point([*ours.values(), *reference.values()], seed=5)
    for key, ref in reference.items():
        expected, got = evaluate(ref, point), evaluate(ours[key], point)
        assert got == pytest.approx(expected, rel=1e-10, abs=1e-10), key


# -- generated el_parts against SymPy's unrolled euler_equations ---------------------------------


def _jets(module, graph: Digraph, plan: dict, rng) -> tuple[dict, dict]:
    """Random jets of every field (orders 0..3) and signals, clamped entries equal to their
    signal, as the module reads them (a global field's value has shape ())."""
    sizes = {"node": graph.n, "edge": graph.n_arcs, "global": ()}
    signals = {
        name + (f"_d{k}" if k else ""): rng.uniform(-1, 1, graph.n)
        for name in module.SIGNALS
        for k in range(4)
    }
    fields = {info["field"]: info for info in module.STATES.values() if info["order"] == 0}
    jet = {}
    for name, info in fields.items():
        for k in range(4):
            key = name + (f"_d{k}" if k else "")
            jet[key] = np.asarray(rng.uniform(-1, 1, sizes[info["domain"]]))
            if info["clamp"] is not None:
                where = plan["roles"]["is_" + info["clamp_role"]] > 0
                jet[key][where] = signals[info["clamp"] + key[len(name) :]][where]
    return jet, signals


def _arc_index(plan: dict) -> dict[tuple[int, int], int]:
    """Arc ``(j, i)`` -> its index in the plan's arc order."""
    ends = zip(plan["src"].tolist(), plan["dst"].tolist(), strict=True)
    return {arc: e for e, arc in enumerate(ends)}


def _point(expressions, jet: dict, signals: dict, plan: dict, params: dict, time: float) -> dict:
    """Values of the unrolled functions (``v[3]``, ``w[0->2]``, ``bias``, ``s[0]``) and their
    derivatives, from the module's jets and signals."""
    arcs = _arc_index(plan)
    point = {sp.Symbol(name): value for name, value in params.items()}
    atoms = set().union(*(e.atoms(sp.Derivative, sp.Function) for e in expressions))
    for atom in atoms:
        order, base = 0, atom
        if isinstance(atom, sp.Derivative):
            order, base = int(atom.derivative_count), atom.expr
        if not isinstance(base, sp.core.function.AppliedUndef):
            continue
        name, _, index = base.func.__name__.partition("[")
        key = name + (f"_d{order}" if order else "")
        values = jet.get(key, signals.get(key))
        if not index:
            point[atom] = float(values)
        elif "->" in index:
            j, i = index.rstrip("]").split("->")
            point[atom] = float(values[arcs[int(j), int(i)]])
        else:
            point[atom] = float(values[int(index.rstrip("]"))])
    point[t] = time
    return point


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("spec", GRAPHS.values(), ids=GRAPHS.keys())
def test_generated_el_parts_equal_unrolled_euler_equations(spec: str, backend: str) -> None:
    action = shared_bias()
    module = build(action, replace(MECHANICS, backend=backend))
    graph = _graph(spec)
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    reference = unrolled_equations(action, graph)
    rng = np.random.default_rng(11)
    params = {"k": 0.7, "r": 0.3}
    for time in (0.3, 1.1):
        jet, signals = _jets(module, graph, plan, rng)
        parts = module.el_parts(time, jet, plan, params, signals)
        assert np.shape(parts["bias"][0]) == ()
        point = _point(reference.values(), jet, signals, plan, params, time)
        edge = _arc_index(plan)
        arcs = list(graph.arcs())
        for (field, index), expr in reference.items():
            p0, p1 = parts[field]
            at = () if np.ndim(p0) == 0 else index
            if field == "w":
                at = edge[arcs[index]]
            got = float(np.asarray(p0 + p1)[at])
            assert got == pytest.approx(evaluate(expr, point), rel=1e-9, abs=1e-9), (field, index)


# -- verify: finite differences, discrete action, unrolled reference -----------------------------


VERIFY_CASES = [
    (which, graph, backend, None)
    for which in ("shared-bias", "leaky-tracker")
    for graph in GRAPHS
    for backend in BACKENDS
]
VERIFY_CASES += [("shared-bias", "cycles", "numpy", i) for i in INTEGRATORS if i != "rk4"]
VERIFY_CASES += [("shared-bias", "cycles", "numba", "euler")]


@pytest.mark.parametrize(("which", "graph", "backend", "integrator"), VERIFY_CASES)
def test_verify_passes(which: str, graph: str, backend: str, integrator: str | None) -> None:
    action, options = (shared_bias(), MECHANICS) if which == "shared-bias" else _leaky()
    options = replace(options, backend=backend, integrator=integrator or options.integrator)
    report = verify(action, options, _graph(GRAPHS[graph]))
    assert report.passed, report.table()


# -- the backends agree; a batch's member equals its own run -------------------------------------


def _advance(module, graph: Digraph, params, seed, steps: int = STEPS) -> dict:
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    signals = signals_for(module, graph.n)
    state = module.init(plan, params, seed)
    for name, info in module.STATES.items():
        if info["domain"] == "global":  # a start away from zero couples everything at once
            state[name][...] = 0.3 + 0.1 * info["order"]
    module.clamp(0.0, state, plan, signals(0.0))
    for k in range(steps):
        module.step(k * DT, DT, state, plan, params, signals)
    return state


@pytest.mark.parametrize("integrator", INTEGRATORS)
@pytest.mark.parametrize("which", ["shared-bias", "leaky-tracker"])
def test_numba_agrees_with_numpy_over_1000_steps(which: str, integrator: str) -> None:
    action, options = (shared_bias(), MECHANICS) if which == "shared-bias" else _leaky()
    graph = _graph(DEFAULT_GRAPH)
    states = [
        _advance(build(action, replace(options, integrator=integrator, backend=b)), graph,
                 None, [0, 1])
        for b in BACKENDS
    ]  # fmt: skip
    for name, value in states[0].items():
        scale = max(1.0, float(np.max(np.abs(value))))
        assert np.max(np.abs(states[1][name] - value)) <= 1e-12 * scale, name
    assert states[0]["bias" if which == "shared-bias" else "g"].shape == (2,)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_member_of_a_batch_equals_its_own_run(integrator: str, backend: str) -> None:
    action, options = _leaky()
    module = build(action, replace(options, integrator=integrator, backend=backend))
    graph, seeds = _graph(DEFAULT_GRAPH), [0, 3, 7]
    values = np.array([0.1, 0.12, 0.15])
    batch = _advance(module, graph, {"kappa": values}, seeds, 300)
    for b, seed in enumerate(seeds):
        single = _advance(module, graph, {"kappa": float(values[b])}, seed, 300)
        assert single["g"].shape == ()
        for name, value in single.items():
            np.testing.assert_allclose(batch[name][b], value, rtol=1e-13, atol=1e-13)


def test_compiled_euler_run_steps_record_global_states_and_energies() -> None:
    """The numba module's run_steps (steps between records in one compiled call) gives the NumPy
    backend's trace, the global term included in L and H."""
    from stlp_sym.runner.loop import run

    action, options = _leaky()
    graph = _graph(DEFAULT_GRAPH)
    traces = []
    for backend in BACKENDS:
        module = build(action, replace(options, integrator="euler", backend=backend))
        traces.append(
            run(module, graph, signals_for(module, graph.n), steps=STEPS, seed=[0, 1],
                record_every=0.05, progress=False)
        )  # fmt: skip
    for name in ("lagrangian", "hamiltonian", "output"):
        a, b = getattr(traces[0], name), getattr(traces[1], name)
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=name)
    assert traces[1].state["g"].shape == (2,)
    assert np.all(np.isfinite(traces[0].lagrangian))


def test_the_global_term_is_part_of_the_lagrangian() -> None:
    """``L`` of a module equals the unrolled ``L`` (global term included) at a random state (``L``
    reads the states only: fields and first derivatives)."""
    action = shared_bias()
    module = build(action, replace(MECHANICS, backend="numpy"))
    graph = _graph(DEFAULT_GRAPH)
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    from unrolled import unrolled_lagrangian

    total, _ = unrolled_lagrangian(action, graph)
    rng = np.random.default_rng(2)
    jet, signals = _jets(module, graph, plan, rng)
    state = {name: jet[name] for name in module.STATES}
    params = {"k": 0.7, "r": 0.3}
    point = _point([total], jet, signals, plan, params, 0.4)
    expected = evaluate(total, point)
    got = module.lagrangian(0.4, state, plan, params, signals)
    assert got == pytest.approx(expected, rel=1e-12)


# -- locality, refusals, the command line ---------------------------------------------------------


def test_locality_report_says_which_updates_are_global() -> None:
    stages = compile(shared_bias(), replace(MECHANICS, backend="numpy"))
    reads = ("a sum over every arc", "a sum over every node", "bias")
    assert stages.ir.rhs.reach["bias_d1"] == reads
    assert stages.ir.rhs.reach["v_d1"] == ("bias",)
    assert "w_d1" in stages.ir.rhs.reach  # through the aggregate and the edge term
    header = stages.source.split('"""')[1]
    assert "bias_d1 global (reads a sum over every arc, a sum over every node, bias)" in header


def test_a_model_without_global_fields_stays_local() -> None:
    from stlp_sym.symbolic.models import MODELS

    stages = compile(MODELS["stlp"].build(), replace(MODELS["stlp"].options, backend="numpy"))
    assert stages.ir.rhs.reach == {}
    assert "global" not in stages.source.split('"""')[1]


def test_the_exact_policy_refuses_global_fields_by_name() -> None:
    x, lam, w, gain = fn("x"), fn("lam"), fn("w"), fn("gain")
    action = Action(
        name="constrained-gain",
        fields=(Field("x"), Field("lam", role="free", multiplier=True), Field("w", "edge"),
                Field("gain", "global")),
        signals=(Signal("u", "input"),),
        clamps=(Clamp("x", "u"),),
        aggregates=(Aggregate("a", w * src(x)),),
        node=x**2 / 2 + lam * (x - sp.tanh(gain * fn("a"))),
        edge=w.diff(t) ** 2 / 2 + w**2 / 2,
        global_=gain.diff(t) ** 2 / 2 + gain**2 / 2,
    )  # fmt: skip
    options = Options(policy="exact", backend="numpy")
    refusal = r"exact policy does not support global fields \(gain\)"
    with pytest.raises(StructureError, match=refusal):
        compile(action, options)


def test_the_leaky_tracker_runs_from_the_command_line_to_a_score(capsys, tmp_path) -> None:
    code = main(
        ["run", str(EXAMPLE), "--graph", DEFAULT_GRAPH, "--steps", "400", "--backend", "numpy",
         "--save", str(tmp_path / "trace.npz")]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "score" in out
    score = float(out.split("score")[1].split(":")[1].split()[0])
    assert np.isfinite(score)
    with np.load(tmp_path / "trace.npz") as saved:
        assert np.all(np.isfinite(saved["lagrangian"]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_model_of_global_fields_only_conserves_its_energy(backend: str) -> None:
    """A pendulum as one global field (no node or arc field): its states are ``()`` (``(B,)`` in
    a batch) and RK4 conserves ``H = g'^2/2 - k cos g`` (computed by hand here) to 1e-9."""
    g = fn("g")
    k = sp.Symbol("k")
    action = Action(
        name="global-pendulum",
        fields=(Field("g", "global"),),
        parameters=(Parameter("k", 2.0),),
        global_=g.diff(t) ** 2 / 2 + k * sp.cos(g),
    )
    module = build(action, replace(MECHANICS, backend=backend))
    graph = _graph("chain:3")
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    state = module.init(plan, None, [0, 1])
    state["g"][...] = [0.5, 1.0]
    assert state["g"].shape == state["g_d1"].shape == (2,)
    for step in range(1000):
        module.step(step * DT, 10 * DT, state, plan, None, lambda time: {})
    energy = state["g_d1"] ** 2 / 2 - 2.0 * np.cos(state["g"])
    np.testing.assert_allclose(energy, -2.0 * np.cos([0.5, 1.0]), rtol=0, atol=1e-9)
    np.testing.assert_allclose(module.hamiltonian(10.0, state, plan, None, {}), energy, atol=1e-12)
