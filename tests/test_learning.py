"""The paper's properties (docs/theory.md, 5 and 6), reproduced by the module of model ``stlp``.

The references are independent of the package: a static network solved by Newton's method,
its loss differentiated by central finite differences, and a hand-written back-propagation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import root

from stlp_sym.cache.store import build
from stlp_sym.graph import Digraph
from stlp_sym.runner.loop import run
from stlp_sym.runner.tasks import make_task
from stlp_sym.symbolic.models import MODELS
from stlp_sym.symbolic.transforms import Options

Q, R, R_W = 100.0, 0.1, 1.0


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("STLP_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def module():
    return build(MODELS["stlp"].build(), MODELS["stlp"].options)


class StaticNetwork:
    """``x = tanh(W x)`` on the free nodes with inputs clamped: the network at equilibrium."""

    def __init__(self, graph: Digraph, w: np.ndarray, u: np.ndarray, z: np.ndarray):
        self.graph, self.u, self.z = graph, u, z
        self.free = np.flatnonzero(~graph.inputs)
        self.w = w

    def matrix(self, w: np.ndarray) -> np.ndarray:
        m = np.zeros((self.graph.n, self.graph.n))
        np.add.at(m, (self.graph.dst, self.graph.src), w)
        return m

    def solve(self, w: np.ndarray, bump: np.ndarray | None = None) -> np.ndarray:
        """Newton's method to 1e-13 on ``x_f = tanh((W x)_f) + bump_f``."""
        m, x = self.matrix(w), np.where(self.graph.inputs, self.u, 0.0)
        bump = np.zeros(self.graph.n) if bump is None else bump
        for _ in range(100):
            s = np.tanh(m @ x)
            residual = (x - s - bump)[self.free]
            if np.abs(residual).max() < 1e-13:
                return x
            jac = np.eye(self.graph.n) - (1 - s**2)[:, None] * m
            x[self.free] -= np.linalg.solve(jac[np.ix_(self.free, self.free)], residual)
        raise AssertionError("Newton did not converge")

    def loss(self, w: np.ndarray, bump: np.ndarray | None = None) -> float:
        x = self.solve(w, bump)
        out = self.graph.outputs
        return Q / 2 * float(np.sum((x[out] - self.z[out]) ** 2))


def _central(f, n: int, h: float = 1e-6) -> np.ndarray:
    grad = np.empty(n)
    for k in range(n):
        e = np.zeros(n)
        e[k] = h
        grad[k] = (f(e) - f(-e)) / (2 * h)
    return grad


def _fixed_point(module, graph, w, u, z, c):
    """Root of the (x, lambda_hat) right-hand side with w frozen and theta = 0."""
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    params = {"c": c, "theta": 0.0}
    signals = {"u": u, "z": z}
    free = ~graph.inputs
    state = {
        "x": np.zeros(graph.n),
        "lambda_hat": np.zeros(graph.n),
        "w": w.copy(),
        "w_d1": np.zeros(graph.n_arcs),
    }

    def residual(vector):
        state["x"][free], state["lambda_hat"][free] = np.split(vector, 2)
        rates = module.rhs(0.0, state, plan, params, signals)
        return np.concatenate([rates["x"][free], rates["lambda_hat"][free]])

    solution = root(residual, np.zeros(2 * free.sum()), method="hybr", tol=1e-14)
    # (hybr may report that it cannot improve further: the residual is what counts)
    assert np.abs(residual(solution.x)).max() < 1e-12
    return state, module.rhs(0.0, state, plan, params, signals)


def _cyclic_graph() -> tuple[Digraph, np.ndarray]:
    graph = Digraph.from_spec("random:7,18,11:in=2:out=2")
    w = np.random.default_rng(3).normal(0, 0.5, graph.n_arcs)
    m = np.zeros((graph.n, graph.n))
    np.add.at(m, (graph.dst, graph.src), np.abs(w))
    w *= 0.8 / max(np.abs(np.linalg.eigvals(m)).max(), 0.8)  # spectral radius of |W| <= 0.8
    return graph, w


def _feedforward_graph() -> tuple[Digraph, np.ndarray]:
    graph = Digraph.from_spec("feedforward:2,3,2,1")
    return graph, np.random.default_rng(1).normal(0, 0.8, graph.n_arcs)


@pytest.mark.parametrize("c", [1.0, 10.0])
@pytest.mark.parametrize("make_graph", [_feedforward_graph, _cyclic_graph], ids=["dag", "cyclic"])
def test_back_propagation_limit(module, make_graph, c: float) -> None:
    graph, w = make_graph()
    u = np.where(graph.inputs, np.linspace(-0.6, 0.7, graph.n), 0.0)
    z = np.where(graph.outputs, 0.3, 0.0)
    static = StaticNetwork(graph, w, u, z)
    state, rates = _fixed_point(module, graph, w, u, z, c)
    np.testing.assert_allclose(state["x"], static.solve(w), atol=1e-11)
    # r wddot + r_w w = -dloss/dw: the weights descend the static network's loss.
    dloss_dw = _central(lambda e: static.loss(w + e), graph.n_arcs)
    drive = R * rates["w_d1"] + R_W * w
    assert np.abs(drive + dloss_dw).max() <= 1e-6 * np.abs(dloss_dw).max()
    # -c lambda_hat = dloss/dx: the costates are the back-propagation deltas.
    deltas = _central(lambda e: static.loss(w, e), graph.n)
    free = ~graph.inputs
    lam = -c * state["lambda_hat"]
    assert np.abs(lam[free] - deltas[free]).max() <= 1e-6 * np.abs(deltas).max()


def test_cyclic_graph_has_cycles() -> None:
    graph, _ = _cyclic_graph()
    import networkx as nx

    assert not nx.is_directed_acyclic_graph(graph.to_networkx())


def _gap(module, c: float) -> float:
    """Mean over [2 pi, 4 pi] of max|r wddot + r_w w + dloss/dw| / max|dloss/dw| (w frozen)."""
    graph, w = _feedforward_graph()
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    params = {"c": c, "theta": 0.0}
    state = {
        "x": np.zeros(graph.n),
        "lambda_hat": np.zeros(graph.n),
        "w": w.copy(),
        "w_d1": np.zeros(graph.n_arcs),
    }
    u, z = np.zeros(graph.n), np.zeros(graph.n)

    def signals(t):
        u[graph.inputs] = [math.sin(t), math.cos(2 * t)]
        z[graph.outputs] = 0.5 * math.sin(t)
        return {"u": u, "z": z}

    tau = 0.05 / c
    steps = round(4 * math.pi / tau)
    sample = max(1, steps // 400)
    gaps = []
    for k in range(steps):
        module.step(k * tau, tau, state, plan, params, signals)
        state["w"][:], state["w_d1"][:] = w, 0.0  # frozen weights
        t = (k + 1) * tau
        if t >= 2 * math.pi and k % sample == 0:
            rates = module.rhs(t, state, plan, params, signals(t))
            static = StaticNetwork(graph, w, u.copy(), z.copy())
            dloss_dw = _central(lambda e, s=static: s.loss(w + e), graph.n_arcs)
            drive = R * rates["w_d1"] + R_W * w
            gaps.append(np.abs(drive + dloss_dw).max() / np.abs(dloss_dw).max())
    return float(np.mean(gaps))


def test_finite_propagation_speed(module) -> None:
    speeds = np.array([100.0, 300.0, 1000.0])
    gaps = np.array([_gap(module, c) for c in speeds])
    slope = np.polyfit(np.log(speeds), np.log(gaps), 1)[0]
    print(f"gap at c = 100, 300, 1000: {gaps}; log-log slope {slope:.3f}")
    assert -1.2 <= slope <= -0.8


def test_tracking_sine_scores_below_target(module) -> None:
    graph = Digraph.from_spec("complete:6:in=1")
    trace = run(module, graph, make_task("tracking-sine", graph), progress=False)
    assert trace.diverged is None
    assert trace.score() < 0.2


def test_stability_needs_the_sign_flip() -> None:
    graph = Digraph.from_spec("complete:6:in=1")
    task = make_task("tracking-sine", graph)
    unflipped = build(MODELS["stlp"].build(), Options(flip=False))
    trace = run(unflipped, graph, task, horizon=20.0, progress=False)
    assert trace.diverged is not None and 2.0 < trace.diverged.t < 10.0
    assert trace.diverged.state in ("x", "lambda_hat", "w", "w_d1")
    assert "field " in str(trace.diverged) and (
        " node " in str(trace.diverged) or " arc " in str(trace.diverged)
    )
    assert np.all(np.abs(np.concatenate(list(trace.state.values()))) <= 1e6)  # last good state
    flipped = build(MODELS["stlp"].build(), Options(flip=True))
    assert run(flipped, graph, task, horizon=20.0, progress=False).diverged is None


def test_run_takes_a_plain_signals_callable(module) -> None:
    graph = Digraph.from_spec("complete:4:in=1")
    u, z = np.zeros(graph.n), np.zeros(graph.n)

    def signals(t: float) -> dict[str, np.ndarray]:
        u[graph.inputs], z[graph.outputs] = math.cos(t), math.sin(t)
        return {"u": u, "z": z}

    trace = run(module, graph, signals, horizon=1.0, progress=False)
    assert trace.diverged is None and trace.t[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(trace.reference[:, 0], np.sin(trace.t))


@pytest.mark.parametrize("make_graph", [_feedforward_graph, _cyclic_graph], ids=["dag", "cyclic"])
def test_backprop_limit_of_the_package_matches_the_static_network(module, make_graph) -> None:
    """:func:`backprop_limit` (force from the module's rhs and L, gradient by re-solved fixed
    points of its rhs) against the hand-written static network and its loss."""
    from stlp_sym.checks.backprop import backprop_limit, static_params

    graph, w = make_graph()
    u = np.where(graph.inputs, np.linspace(-0.6, 0.7, graph.n), 0.0)
    z = np.where(graph.outputs, 0.3, 0.0)
    params = {"c": 3.0, **static_params(MODELS["stlp"].build())}
    assert static_params(MODELS["stlp"].build()) == {"theta": 0.0}
    state = {"x": np.zeros(graph.n), "lambda_hat": np.zeros(graph.n), "w": w.copy()}
    state["w_d1"] = np.ones(graph.n_arcs)  # set to 0 by backprop_limit
    limit = backprop_limit(module, graph, params, {"u": u, "z": z}, state)
    static = StaticNetwork(graph, w, u, z)
    expected = -(R_W * w + _central(lambda e: static.loss(w + e), graph.n_arcs))
    scale = np.abs(expected).max()
    assert limit.field == "w"
    assert np.abs(limit.force - expected).max() <= 1e-6 * scale
    assert np.abs(limit.gradient - expected).max() <= 1e-5 * scale
    assert limit.gap <= 1e-5
