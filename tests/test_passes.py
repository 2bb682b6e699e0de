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


def test_buffer_reuse_hands_a_dead_value_s_buffer_to_the_next_one() -> None:
    from stlp_sym.codegen.buffers import kernel_lines
    from stlp_sym.codegen.kernel import Kernel

    a, b = sp.symbols("a b")
    ops = (
        Op("a", "edge", "expr", w * x),  # _b[0]
        Op("b", "edge", "expr", sp.tanh(a)),  # a dies here: b may not overwrite it yet
        Op("e", "edge", "expr", b * w),  # a is dead: e takes _b[0] back
        Op("s", "node", "scatter", source="e", end="dst"),
    )
    inputs = {"w": ("edge", "jet", "w"), "x__src": ("edge", "jet", "x__src")}
    lines, count = kernel_lines(Kernel(inputs, ops, {"out": "s"}, {}))
    assert lines == [
        "a = _b[0]",
        "np.multiply(w, x__src, out=_b[0])",
        "b = _b[1]",
        "np.tanh(a, out=_b[1])",
        "e = _b[0]",
        "np.multiply(b, w, out=_b[0])",
        "s = scatter_dst(e, _plan)",
    ]
    assert count == 2


def test_decay_split_keeps_time_varying_and_role_dependent_coefficients_in_the_rate() -> None:
    from stlp_sym.codegen.rates import fold_scale, split_decay
    from stlp_sym.symbolic.vocabulary import IS_OUTPUT, fn, t

    theta, q = sp.symbols("theta q")
    lam, y = fn("lam"), fn("y")
    assert split_decay(y - theta * lam, "lam", 0) == (y, theta)
    assert split_decay(y - sp.exp(theta * t) * lam, "lam", 0) == (y - sp.exp(theta * t) * lam, 0)
    assert split_decay(y - q * IS_OUTPUT * lam, "lam", 0)[1] == 0
    assert str(fold_scale(theta * (y + 1))) == "_scale*theta*y(t) + _scale*theta"
