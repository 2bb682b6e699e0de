"""The index-generic derivation against SymPy's unrolled ``euler_equations`` and hand results."""

from __future__ import annotations

import warnings

import pytest
import sympy as sp
from unrolled import evaluate, random_point, unrolled_equations

from stlp_sym.errors import StlpWarning, StructureError
from stlp_sym.graph import Digraph
from stlp_sym.symbolic.action import Action
from stlp_sym.symbolic.derivation import derive
from stlp_sym.symbolic.expansion import expand
from stlp_sym.symbolic.models import MODELS
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

GRAPHS = {
    "chain": "chain:4",
    "dag": "feedforward:2,2,1",
    # cycles, self-loops (e.g. 3->3), two inputs and two outputs
    "cyclic": "random:6,13,4:in=2:out=2",
    "complete": "complete:4:in=1",
}


def _kitchen_sink() -> Action:
    """Every branch of the chain rule: in- and out-aggregates, velocities inside an aggregate,
    edge terms on both ends, a role-restricted field, a clamp and a global field."""
    x, y, w, g, z = (fn(n) for n in ("x", "y", "w", "G", "z"))
    k = sp.Symbol("k")
    a, b = fn("a"), fn("b")
    return Action(
        name="kitchen-sink",
        fields=(Field("x"), Field("y", role="free"), Field("w", "edge"), Field("G", "global")),
        signals=(Signal("u", "input"), Signal("z", "output")),
        clamps=(Clamp("x", "u"),),
        aggregates=(
            Aggregate("a", w * src(x) + k * w * src(y).diff(t)),
            Aggregate("b", w * dst(x) ** 2, "out"),
        ),
        parameters=(Parameter("k", 0.5),),
        node=x.diff(t) ** 2 / 2
        + y.diff(t) ** 2 * x / 2
        - sp.cos(a)
        + b * x * g
        + IS_OUTPUT * (x - z) ** 2
        + t * y,
        edge=w.diff(t) ** 2 / 2 + src(x) * dst(y) * w + w**2 * g + src(x.diff(t)) * w.diff(t),
        global_=g.diff(t) ** 2 / 2 + g**2,
    )


def _assert_matches_unrolled(action: Action, spec: str, seed: int = 0) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StlpWarning)  # outputs no input reaches: fine here
        graph = Digraph.from_spec(spec)
    ours = expand(derive(action), graph).equations
    reference = unrolled_equations(action, graph)
    assert set(ours) == set(reference)
    point = random_point([*ours.values(), *reference.values()], seed)
    for key, ref in reference.items():
        expected, got = evaluate(ref, point), evaluate(ours[key], point)
        assert got == pytest.approx(expected, rel=1e-10, abs=1e-10), key


@pytest.mark.parametrize("spec", GRAPHS.values(), ids=GRAPHS.keys())
@pytest.mark.parametrize("model", ["stlp", "stlp-holonomic", "cal4"])
def test_builtin_models_match_unrolled_euler_equations(model: str, spec: str) -> None:
    _assert_matches_unrolled(MODELS[model].build(), spec)


@pytest.mark.parametrize("spec", ["random:5,9,7:in=1:out=2", "chain:3", "random:4,8,1"])
def test_every_chain_rule_branch_matches_unrolled(spec: str) -> None:
    _assert_matches_unrolled(_kitchen_sink(), spec, seed=3)


def test_cyclic_graph_really_has_cycles_and_self_loops() -> None:
    graph = Digraph.from_spec(GRAPHS["cyclic"])
    arcs = set(graph.arcs())
    assert any(j == i for j, i in arcs)
    assert any((i, j) in arcs for j, i in arcs if i != j) or len(arcs) > graph.n


# SymPy's own sympy/calculus/tests/test_euler.py, on a one-node graph.
def _one_node(name: str) -> dict:
    derivation = derive(MODELS[name].build())
    return {eq.field.name: eq.lhs for eq in derivation.equations}, derivation


def test_pendulum_gives_sympys_equation() -> None:
    eqs, _ = _one_node("pendulum")
    q = fn("q")
    assert sp.expand(eqs["q"] - (-sp.sin(q) - q.diff(t, 2))) == 0


def test_henon_heiles_gives_sympys_equations() -> None:
    eqs, _ = _one_node("henon-heiles")
    x, y = fn("x"), fn("y")
    assert sp.expand(eqs["x"] - (-x - 2 * x * y - x.diff(t, 2))) == 0
    assert sp.expand(eqs["y"] - (-(x**2) - y + y**2 - y.diff(t, 2))) == 0


def test_third_derivative_lagrangian_cross_matching_and_six_states() -> None:
    eqs, derivation = _one_node("high-order")
    x, y = fn("x"), fn("y")
    m, k = sp.symbols("m k")
    assert sp.expand(eqs["x"] - (2 * k * y.diff(t, 3) - m * x.diff(t, 2))) == 0
    assert sp.expand(eqs["y"] - (-2 * k * x.diff(t, 3) - m * y.diff(t, 2))) == 0
    system = derivation.require_system()
    assert [s.name for s in system.states] == ["x", "x_d1", "x_d2", "y", "y_d1", "y_d2"]
    assert system.matching == {"x": "y", "y": "x"}
    # x''' from the y equation, y''' from the x equation.
    assert sp.expand(system.solution["x"] - (-m * y.diff(t, 2) / (2 * k))) == 0
    assert sp.expand(system.solution["y"] - (m * x.diff(t, 2) / (2 * k))) == 0


def test_stlp_system_cross_matches_constraint_and_costate() -> None:
    system = derive(MODELS["stlp"].build()).require_system()
    assert system.matching == {"x": "lambda", "lambda": "x", "w": "w"}
    assert [s.name for s in system.states] == ["x", "lambda", "w", "w_d1"]


def test_momentum_of_a_hand_solved_case() -> None:
    # L = m/2 xdot^2 - alpha/2 xddot^2: p = m xdot + alpha xdddot, P1 = -m xddot - alpha x''''.
    x = fn("x")
    m, alpha = sp.symbols("m alpha")
    act = Action(
        fields=[Field("x")],
        parameters=[Parameter(n, 1) for n in ("m", "alpha")],
        node=m / 2 * x.diff(t) ** 2 - alpha / 2 * x.diff(t, 2) ** 2,
    )
    eq = derive(act).field_equation("x")
    assert sp.expand(eq.momentum - (m * x.diff(t) + alpha * x.diff(t, 3))) == 0
    assert sp.expand(eq.P1 - (-m * x.diff(t, 2) - alpha * x.diff(t, 4))) == 0
    assert eq.P0 == 0


# Structure errors: each names the culprit and says what to do.


def test_algebraic_constraint_is_reported_and_derivation_still_returned() -> None:
    derivation = derive(MODELS["stlp-holonomic"].build())
    assert derivation.system is None
    message = str(derivation.problem)
    assert "'lambda'" in message and "algebraic" in message and "penalty" in message
    with pytest.raises(StructureError, match="lambda"):
        derivation.require_system()
    assert derivation.equation("lambda") != 0  # the equations can still be printed


def test_block_coupling_neighbours_is_reported() -> None:
    x = fn("x")
    act = Action(
        fields=[Field("x")],
        aggregates=[Aggregate("a", src(x.diff(t)))],
        node=x.diff(t) ** 2 / 2 + fn("a") * x.diff(t),
    )
    derivation = derive(act)
    assert derivation.system is None
    assert "'x'" in str(derivation.problem) and "several nodes" in str(derivation.problem)


def test_edge_term_coupling_end_accelerations_is_reported() -> None:
    x, w = fn("x"), fn("w")
    act = Action(
        fields=[Field("x"), Field("w", "edge")],
        node=x.diff(t) ** 2 / 2,
        edge=w.diff(t) ** 2 / 2 + src(x.diff(t)) * dst(x.diff(t)),
    )
    with pytest.raises(StructureError, match="several nodes or arcs"):
        derive(act).require_system()


def test_singular_leading_block_is_reported() -> None:
    x, y = fn("x"), fn("y")
    act = Action(fields=[Field("x"), Field("y")], node=(x.diff(t) + y.diff(t)) ** 2 / 2 + x * y)
    with pytest.raises(StructureError, match=r"singular.*x.*y|singular"):
        derive(act).require_system()
    assert "'x'" in str(derive(act).problem)


def test_field_without_kinetic_term_is_reported() -> None:
    x, y = fn("x"), fn("y")
    act = Action(fields=[Field("x"), Field("y")], node=x.diff(t) ** 2 / 2 + x * y**2)
    problem = derive(act).problem
    assert problem is not None and "'y'" in str(problem)
