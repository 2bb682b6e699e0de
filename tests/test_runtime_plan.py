"""The plan, gathers and scatters of stlp_sym/runtime, against plain Python loops."""

from __future__ import annotations

import numpy as np
import pytest

from stlp_sym.runtime.plan import (
    edge_buffers,
    gather_dst,
    gather_src,
    initial_state,
    prepare_plan,
    role_mask,
    scatter_dst,
    scatter_src,
    work_arrays,
)

FIELDS = {
    "x": {"domain": "node", "role": "all", "clamp": "u", "clamp_role": "input"},
    "lam": {"domain": "node", "role": "free", "clamp": None, "clamp_role": None},
    "w": {"domain": "edge", "role": "all", "clamp": None, "clamp_role": None},
}
STATES = {
    "x": {"field": "x", "order": 0, "domain": "node"},
    "lam": {"field": "lam", "order": 0, "domain": "node"},
    "w": {"field": "w", "order": 0, "domain": "edge"},
}
MODEL = {"fields": FIELDS, "states": STATES}


def random_graph(seed: int, n: int = 7, m: int = 15) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, m), rng.integers(0, n, m)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scatters_equal_python_loops(seed) -> None:
    src, dst = random_graph(seed)
    plan = prepare_plan(7, src, dst, [0], [6], MODEL)
    values = np.random.default_rng([seed, 1]).normal(size=plan["m"])
    into_dst, out_of_src = np.zeros(7), np.zeros(7)
    for arc in range(plan["m"]):
        into_dst[plan["dst"][arc]] += values[arc]
        out_of_src[plan["src"][arc]] += values[arc]
    np.testing.assert_allclose(scatter_dst(values, plan), into_dst, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(scatter_src(values, plan), out_of_src, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1])
def test_gathers_equal_indexing(seed) -> None:
    src, dst = random_graph(seed)
    plan = prepare_plan(7, src, dst, [], [], MODEL)
    node_values = np.arange(7.0) ** 2
    out = np.empty(plan["m"])
    assert gather_src(node_values, plan, out) is out
    assert out.tolist() == [node_values[s] for s in plan["src"]]
    assert gather_dst(node_values, plan).tolist() == [node_values[d] for d in plan["dst"]]


def test_arcs_are_sorted_by_destination_and_arc_order_maps_back() -> None:
    src, dst = random_graph(3)
    plan = prepare_plan(7, src, dst, [], [], MODEL)
    pairs = list(zip(plan["dst"].tolist(), plan["src"].tolist(), strict=True))
    assert pairs == sorted(pairs)
    assert plan["src"].tolist() == src[plan["arc_order"]].tolist()
    assert plan["dst"].tolist() == dst[plan["arc_order"]].tolist()


def test_graph_without_arcs_scatters_zeros() -> None:
    plan = prepare_plan(3, [], [], [], [], MODEL)
    assert scatter_dst(np.zeros(0), plan).tolist() == [0.0, 0.0, 0.0]
    assert scatter_src(np.zeros(0), plan).tolist() == [0.0, 0.0, 0.0]


def test_arc_ends_are_checked() -> None:
    with pytest.raises(ValueError, match="out of range"):
        prepare_plan(2, [0], [2], [], [], MODEL)
    with pytest.raises(ValueError, match="same length"):
        prepare_plan(2, [0, 1], [1], [], [], MODEL)


def test_roles_and_where_fields_live() -> None:
    plan = prepare_plan(4, [0, 1], [2, 3], np.array([True, True, False, False]), [3], MODEL)
    assert role_mask(4, [1, 3]).tolist() == [0.0, 1.0, 0.0, 1.0]
    assert plan["roles"]["is_hidden"].tolist() == [0.0, 0.0, 1.0, 0.0]
    # x is clamped on the inputs, the multiplier lives on the free (non-input) nodes
    assert plan["field_live"]["x"].tolist() == [False, False, True, True]
    assert plan["live"]["lam"].tolist() == [False, False, True, True]
    assert set(plan["live"]) == {"x", "lam"}


def test_work_arrays_are_allocated_once_per_plan_and_shape() -> None:
    plan = prepare_plan(3, [0, 1], [1, 2], [], [], MODEL)
    assert edge_buffers(plan, ("key", "k"), 2) is edge_buffers(plan, ("key", "k"), 1)
    state = {"x": np.zeros(3), "w": np.zeros(2)}
    first = work_arrays(plan, ("key", "rk"), state, 2)
    again = work_arrays(plan, ("key", "rk"), state, 2)
    assert all(a[n] is b[n] for a, b in zip(first, again, strict=True) for n in state)
    batched = work_arrays(plan, ("key", "rk"), {"x": np.zeros((4, 3)), "w": np.zeros((4, 2))}, 2)
    assert batched[0]["x"].shape == (4, 3)


def test_initial_state_is_seeded() -> None:
    plan = prepare_plan(3, [0, 1], [1, 2], [], [], MODEL)
    a, b = initial_state(plan, None, 5, MODEL), initial_state(plan, None, 5, MODEL)
    assert a["w"].tolist() == b["w"].tolist() and a["w"].std() > 0
    assert a["x"].tolist() == [0.0, 0.0, 0.0]
