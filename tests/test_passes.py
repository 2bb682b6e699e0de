"""Each code-generation pass on its own, compared in the compact printed form of its ops."""

from __future__ import annotations

import pytest
import sympy as sp

from stlp_sym.codegen.cse import common_subexpressions
from stlp_sym.codegen.kernel import Op
from stlp_sym.codegen.schedule import count_hops, schedule
from stlp_sym.errors import InternalError

w, x, y, c = sp.symbols("w x__src y c")
DOMAINS = {"w": "edge", "x__src": "edge", "y": "node", "c": "scalar"}


def printed(ops: list[Op]) -> list[str]:
    return [str(op) for op in ops]


def test_cse_shares_a_product_between_edge_outputs_and_types_it_by_what_it_reads() -> None:
    ops = [
        Op("e1", "edge", "expr", sp.tanh(w * x) * c),
        Op("e2", "edge", "expr", sp.tanh(w * x) ** 2),
        Op("n1", "node", "expr", sp.sin(c * y) + sp.sin(c * y) ** 2),
    ]
    assert printed(common_subexpressions(ops, DOMAINS)) == [
        "edge _ec0 = tanh(w*x__src)",
        "node _nc0 = sin(c*y)",
        "edge e1 = _ec0*c",
        "edge e2 = _ec0**2",
        "node n1 = _nc0**2 + _nc0",
    ]


def test_cse_never_mixes_domains() -> None:
    """A subexpression shared by a node and an edge output is not hoisted across domains."""
    ops = [Op("e", "edge", "expr", sp.sin(c) * w), Op("n", "node", "expr", sp.sin(c) * y)]
    assert printed(common_subexpressions(ops, DOMAINS)) == [
        "edge e = w*sin(c)",
        "node n = y*sin(c)",
    ]


def test_schedule_puts_each_op_after_what_it_reads_and_keeps_order_otherwise() -> None:
    ops = [
        Op("out", "node", "expr", sp.Symbol("s") + y),
        Op("s", "node", "scatter", source="p", end="dst"),
        Op("p", "edge", "expr", w * x),
        Op("x__src", "edge", "gather", source="x", end="src"),
    ]
    ordered = schedule(ops, {"w", "x", "y"})
    assert printed(ordered) == [
        "edge x__src = gather_src(x)",
        "edge p = w*x__src",
        "node s = scatter_dst(p)",
        "node out = s + y",
    ]
    assert count_hops(ordered) == {"x__src": 1, "p": 1, "s": 2, "out": 2}


def test_schedule_refuses_an_undefined_variable_as_an_internal_error() -> None:
    with pytest.raises(InternalError, match=r"undefined variables: \['nowhere'\]"):
        schedule([Op("a", "node", "expr", sp.Symbol("nowhere") * y)], {"y"})
