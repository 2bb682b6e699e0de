"""Parameters on nodes and arcs: derivation against SymPy's euler_equations on the unrolled
action with one symbol per node or arc, verify on a DAG and on a graph with cycles and
self-loops in both backends, the backends against each other, batches, arc orders, model files,
``--param-file`` and the errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from unrolled import evaluate, random_point, unrolled_equations

from stlp_sym.cache.store import build
from stlp_sym.checks import verify
from stlp_sym.cli import main
from stlp_sym.errors import ActionError, StlpError
from stlp_sym.graph import Digraph
from stlp_sym.options import Options
from stlp_sym.parse.modelfile import ModelFileError, load_model
from stlp_sym.runner.loop import run
from stlp_sym.runner.parameters import read_param_file
from stlp_sym.runner.tasks import make_task
from stlp_sym.symbolic.action import Action
from stlp_sym.symbolic.derivation import derive
from stlp_sym.symbolic.expansion import expand
from stlp_sym.symbolic.vocabulary import Aggregate, Field, Parameter, dst, fn, src, t

DAG, CYCLIC = "feedforward:2,3,1", "random:6,12,0:in=1:out=1"
BACKENDS = ("numpy", "numba")
MODEL = """
name = "tau-tracker"
factor = "exp(theta * t)"
[parameters]
c = 1.0
theta = 1.0
q = 100.0
r = 0.1
r_w = 1.0
tau = { default = 1.0, on = "node" }
mask = { default = 1.0, on = "edge" }
[fields]
v = "node"
lambda = { domain = "node", role = "free", multiplier = true }
w = "edge"
[signals]
s = "input"
y = "output"
[clamps]
v = "s"
[aggregates]
a = "in_sum(mask * w * src(v))"
[terms]
node = "phi * q / 2 * is_output * (v - y)**2 + lambda * (tau * Dt(v) - c * (tanh(a) - v))"
edge = "phi * (r / 2 * Dt(w)**2 + r_w * dst(tau) / 2 * w**2)"
[run]
output = "v"
target = "y"
"""


def _action() -> Action:
    """Parameters on nodes and arcs in every place they may appear: the node term (with a
    velocity, so that the momentum carries one), an aggregate (at the source), the edge term
    (at the destination, and on the arc with an acceleration)."""
    x, w, tau, m = fn("x"), fn("w"), fn("tau"), fn("m")
    k = sp.Symbol("k")
    return Action(
        name="local-params",
        fields=(Field("x"), Field("w", "edge")),
        parameters=(
            Parameter("tau", 1.0, on="node"),
            Parameter("m", 1.0, on="edge"),
            Parameter("k", 0.5),
        ),
        aggregates=(Aggregate("a", m * w * src(x * tau)),),
        node=sp.Symbol("tau") * x.diff(t) ** 2 / 2 - k * x**2 / 2 + x * sp.tanh(fn("a")),
        edge=m * w.diff(t) ** 2 / 2 - dst(tau) * w**2 / 2 + m * w * src(x) * dst(x),
    )


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "tau-tracker.toml"
    path.write_text(MODEL)
    return path


def _values(graph: Digraph, seed: int) -> dict[str, np.ndarray]:
    """Seeded, non-uniform values of tau (per node) and mask (per arc)."""
    rng = np.random.default_rng(seed)
    return {"tau": rng.uniform(0.5, 2.0, graph.n), "mask": rng.uniform(0.5, 1.5, graph.n_arcs)}


@pytest.mark.parametrize("spec", [DAG, CYCLIC, "chain:3"])
def test_expanded_equations_match_unrolled_euler_equations(spec: str) -> None:
    action, graph = _action(), Digraph.from_spec(spec)
    ours = expand(derive(action), graph).equations
    reference = unrolled_equations(action, graph)
    assert set(ours) == set(reference)
    point = random_point([*ours.values(), *reference.values()], seed=7)
    tau = [s for s in point if isinstance(s, sp.Symbol) and s.name.startswith("tau[")]
    assert len(tau) == graph.n and len({point[s] for s in tau}) == graph.n  # one per node
    for key, ref in reference.items():
        expected, got = evaluate(ref, point), evaluate(ours[key], point)
        assert got == pytest.approx(expected, rel=1e-10, abs=1e-10), key


def test_parameters_have_no_rates_in_the_equations() -> None:
    for eq in derive(_action()).equations:
        derivatives = eq.lhs.atoms(sp.Derivative) | eq.momentum.atoms(sp.Derivative)
        assert not [d for d in derivatives if d.expr.func.__name__.split("__")[0] in ("tau", "m")]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("spec", [DAG, CYCLIC])
def test_verify_passes_with_values_per_node_and_arc(spec: str, backend: str) -> None:
    options = Options(flip=False, normalise=False, backend=backend)
    report = verify(_action(), options, Digraph.from_spec(spec))
    assert report.passed, report.table()
    assert "one per node or arc" in report.notes[-1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_verify_passes_on_a_model_file_at_given_values(model_file: Path, backend: str) -> None:
    model, graph = load_model(model_file), Digraph.from_spec(CYCLIC)
    options = replace(model.options, backend=backend, integrator="rk4")
    report = verify(model.build(), options, graph, params=_values(graph, 3))
    assert report.passed, report.table()


def test_a_module_tells_the_domains_and_the_backends_agree(model_file: Path) -> None:
    graph = Digraph.from_spec(CYCLIC)
    values = _values(graph, 1)
    task = make_task("tracking-sine", graph)
    traces = []
    for backend in BACKENDS:
        module = build(load_model(model_file).build(), Options(backend=backend))
        assert module.PARAMS["tau"] == 1.0
        assert module.PARAM_DOMAINS == {"tau": "node", "mask": "edge"}
        traces.append(run(module, graph, task, horizon=1.0, params=values, progress=False))
    np.testing.assert_allclose(traces[0].output, traces[1].output, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(traces[0].state["w"], traces[1].state["w"], rtol=1e-11)
    uniform = run(module, graph, task, horizon=1.0, progress=False)
    assert np.max(np.abs(uniform.output - traces[1].output)) > 1e-6  # the values matter


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_batch_takes_shared_or_per_member_values(model_file: Path, backend: str) -> None:
    graph = Digraph.from_spec(CYCLIC)
    module = build(load_model(model_file).build(), Options(backend=backend))
    task = make_task("tracking-sine", graph)
    first, second = _values(graph, 1), _values(graph, 2)
    rows = {"tau": np.stack([first["tau"], second["tau"]]), "mask": first["mask"]}
    batch = run(module, graph, task, horizon=0.5, seed=[0, 0], params=rows, progress=False)
    for b, tau in enumerate((first["tau"], second["tau"])):
        alone = run(module, graph, task, horizon=0.5, params={"tau": tau, "mask": first["mask"]},
                    progress=False)  # fmt: skip
        np.testing.assert_allclose(batch.output[:, b], alone.output, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_arc_values_follow_the_arcs_order_given_to_prepare(backend: str) -> None:
    graph = Digraph.from_spec(CYCLIC)
    module = build(_action(), Options(flip=False, normalise=False, backend=backend))
    rng = np.random.default_rng(5)
    m, tau = rng.uniform(0.5, 2.0, graph.n_arcs), rng.uniform(0.5, 2.0, graph.n)
    shuffle = rng.permutation(graph.n_arcs)
    rates = []
    for order in (np.arange(graph.n_arcs), shuffle):
        plan = module.prepare(graph.n, graph.src[order], graph.dst[order], graph.inputs,
                              graph.outputs)  # fmt: skip
        state = module.init(plan, None, 0)
        # the same value on each arc (the plan sorts the arcs it is given by destination)
        state["w"] = np.linspace(-1, 1, graph.n_arcs)[order][plan["arc_order"]]
        state["w_d1"] = np.zeros(graph.n_arcs)
        state["x"], state["x_d1"] = np.linspace(0.1, 0.6, graph.n), np.ones(graph.n)
        out = module.rhs(0.0, state, plan, {"m": m[order], "tau": tau}, {})
        rates.append({k: np.array(v) for k, v in out.items()})
    for name in rates[0]:
        np.testing.assert_allclose(rates[0][name], rates[1][name], rtol=1e-12, atol=1e-14)


def test_wrong_values_are_refused_in_one_line(model_file: Path) -> None:
    graph = Digraph.from_spec(CYCLIC)
    module = build(load_model(model_file).build(), Options(backend="numpy"))
    task = make_task("tracking-sine", graph)
    cases = [
        ({"tau": np.ones(5)}, r"'tau' has one value per node: give 6 values"),
        ({"mask": np.ones(6)}, r"'mask' has one value per arc: give 12 values"),
        ({"tau": np.array([1.0, np.nan, 1, 1, 1, 1])}, r"tau = an array with nan at entry 1"),
        ({"c": np.ones(6)}, r"'c' is a number"),
        ({"sigma": 1.0}, r"unknown parameter 'sigma'"),
    ]
    for params, message in cases:
        with pytest.raises(StlpError, match=message):
            run(module, graph, task, horizon=0.01, params=params, progress=False)


def test_declarations_and_places_are_checked() -> None:
    with pytest.raises(ActionError, match="on='arc' is not 'node' or 'edge'"):
        Parameter("m", 1.0, on="arc")
    action = _action()
    with pytest.raises(ActionError, match=r"may not use 'm' \(edge parameter\)"):
        action.replace(node=action.node + fn("m"))
    with pytest.raises(ActionError, match=r"'tau' \(node parameter\): in an edge term, reach"):
        action.replace(edge=action.edge + fn("tau") * fn("w"))
    with pytest.raises(ActionError, match="constant in time"):
        action.replace(node=action.node + fn("tau").diff(t))
    with pytest.raises(ActionError, match="scalar parameters only"):
        action.replace(factor=sp.exp(fn("tau") * t))


def test_model_file_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(MODEL.replace('on = "node"', 'on = "arc"'))
    with pytest.raises(ModelFileError, match=r"bad.toml:\d+: parameters.tau: .*'node' or 'edge'"):
        load_model(path)
    path.write_text(MODEL.replace('tau = { default = 1.0, on = "node" }', 'tau = { on = "node" }'))
    with pytest.raises(ModelFileError, match=r"parameters.tau: .*default missing"):
        load_model(path)


def test_param_file_arrays_and_their_errors(tmp_path: Path) -> None:
    edges = tmp_path / "net.csv"  # arcs given out of the stored (dst, src) order
    edges.write_text("# inputs: 0\n# outputs: 3\nsrc,dst\n2,3\n0,1\n1,3\n0,2\n")
    graph = Digraph.from_spec(str(edges))
    assert graph.arcs() == [(0, 1), (0, 2), (1, 3), (2, 3)]
    file = tmp_path / "p.npz"
    np.savez(file, tau=np.arange(4.0), mask=np.array([23.0, 1.0, 13.0, 2.0]), c=2.0)
    defaults = {"tau": 1.0, "mask": 1.0, "c": 1.0}
    values = read_param_file(file, defaults, {"tau": "node", "mask": "edge"}, graph)
    assert values["tau"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert values["mask"].tolist() == [1.0, 2.0, 13.0, 23.0]  # arc (j -> i) holds ji
    assert float(values["c"]) == 2.0
    np.savez(file, sigma=1.0)
    with pytest.raises(StlpError, match="array 'sigma' names no parameter"):
        read_param_file(file, defaults, {}, graph)
    np.savez(file, tau=np.array([1.0, np.inf, 1.0, 1.0]))
    with pytest.raises(StlpError, match="array 'tau' must hold finite numbers"):
        read_param_file(file, defaults, {"tau": "node"}, graph)
    file.write_text("not a zip")
    with pytest.raises(StlpError, match=r"cannot read it as an \.npz file"):
        read_param_file(file, defaults, {}, graph)


def test_cli_runs_a_per_node_time_constant_from_a_param_file(model_file, tmp_path, capsys):
    graph = Digraph.from_spec(CYCLIC)
    file = tmp_path / "tau.npz"
    np.savez(file, **_values(graph, 11))
    plots = tmp_path / "plots"
    argv = ["run", str(model_file), "--graph", CYCLIC, "--param-file", str(file),
            "--horizon", "2", "--plot", str(plots)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    score = float(out.split("score (mean (v_o - y)^2 / var y over the last 20%): ")[1].split()[0])
    assert np.isfinite(score)
    assert sorted(p.name for p in plots.iterdir()) == [
        "tracking-sine-energy.png", "tracking-sine-tracking.png", "tracking-sine-weights.png"
    ]  # fmt: skip
    module = build(load_model(model_file).build(), load_model(model_file).options)
    trace = run(module, graph, make_task("tracking-sine", graph), horizon=2.0,
                params=_values(graph, 11), progress=False)  # fmt: skip
    assert f"{trace.score():.4f}" == f"{score:.4f}"
    assert main(["verify", str(model_file), "--param-file", str(file)]) == 0
    assert "given values of ['mask', 'tau']" in capsys.readouterr().out


def test_graph_file_columns_give_values_per_node_and_arc(model_file, tmp_path, capsys) -> None:
    edges = tmp_path / "net.csv"  # arcs out of the stored order, a mask column per arc
    edges.write_text(
        "# inputs: 0\n# outputs: 3\nsrc,dst,mask,comment\n"
        "2,3,0.7,x\n0,1,1.3,x\n1,3,0.9,x\n0,2,1.1,x\n1,2,0.6,x\n"
    )
    (tmp_path / "net.nodes.csv").write_text("node,role,tau\n0,input,1.0\n1,,0.6\n2,,1.7\n")
    graph = Digraph.from_spec(str(edges))
    from stlp_sym.runner.parameters import graph_file_params

    model = load_model(model_file)
    action = model.build()
    values = graph_file_params(
        str(edges), graph, action.parameter_defaults, action.parameter_domains
    )
    assert values["tau"].tolist() == [1.0, 0.6, 1.7, 1.0]  # node 3 has no row: the default
    by_arc = dict(zip(graph.arcs(), values["mask"].tolist(), strict=True))
    assert by_arc == {(2, 3): 0.7, (0, 1): 1.3, (1, 3): 0.9, (0, 2): 1.1, (1, 2): 0.6}
    argv = ["run", str(model_file), "--graph", str(edges), "--horizon", "0.5"]
    assert main(argv) == 0
    from_file = capsys.readouterr().out
    module = build(action, model.options)
    trace = run(module, graph, make_task("tracking-sine", graph), horizon=0.5, params=values,
                progress=False)  # fmt: skip
    assert f"{trace.score():.4f}" in from_file
    assert main(["verify", str(model_file), "--graph", str(edges)]) == 0
    (tmp_path / "net.nodes.csv").write_text("node,role,tau\n0,input,1.0\n1,,fast\n")
    with pytest.raises(StlpError, match=r"net.nodes.csv line 3: column 'tau': 'fast' is not"):
        graph_file_params(str(edges), graph, action.parameter_defaults, action.parameter_domains)
    (tmp_path / "net.nodes.csv").write_text("node,role,c\n0,input,1.0\n")
    with pytest.raises(StlpError, match="names parameter 'c', which is a scalar"):
        graph_file_params(str(edges), graph, action.parameter_defaults, action.parameter_domains)


def test_exact_policy_batches_take_a_row_of_values_per_member() -> None:
    from stlp_sym.symbolic.models import MODELS

    action = MODELS["stlp-holonomic"].build()
    x, lam, a = fn("x"), fn("lambda"), fn("a")
    gain = sp.Symbol("gain")  # the constraint x = tanh(gain a), a gain per node
    action = action.replace(
        parameters=(*action.parameters, Parameter("gain", 1.0, on="node")),
        node=action.node - lam * (x - sp.tanh(a)) + lam * (x - sp.tanh(gain * a)),
    )
    graph = Digraph.from_spec("complete:4:in=1:out=1")
    module = build(action, Options(policy="exact", backend="numpy"))
    task = make_task("tracking-sine", graph)
    rows = np.array([[1.0, 0.5, 1.5, 0.8], [1.2, 0.9, 0.7, 1.1]])
    batch = run(module, graph, task, horizon=0.2, seed=[0, 0], params={"gain": rows},
                progress=False)  # fmt: skip
    for b in range(2):
        alone = run(module, graph, task, horizon=0.2, params={"gain": rows[b]}, progress=False)
        np.testing.assert_allclose(batch.output[:, b], alone.output, rtol=1e-12, atol=1e-12)
    assert np.max(np.abs(batch.output[:, 0] - batch.output[:, 1])) > 1e-6
