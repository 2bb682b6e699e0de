"""Building actions: declarations, frames, and messages that name the culprit."""

from __future__ import annotations

import pytest
import sympy as sp

from stlp_sym.errors import ActionError
from stlp_sym.symbolic.action import Action
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

x, w, a = fn("x"), fn("w"), fn("a")


def _action(**changes) -> Action:
    base = {
        "fields": [Field("x"), Field("w", "edge")],
        "aggregates": [Aggregate("a", w * src(x))],
        "parameters": [Parameter("c", 2)],
        "node": x.diff(t) ** 2 / 2 - sp.Symbol("c") * sp.tanh(a),
        "edge": w.diff(t) ** 2 / 2,
    }
    base.update(changes)
    return Action(**base)


def test_assumptions_on_user_symbols_are_ignored() -> None:
    c = sp.Symbol("c", positive=True)
    act = _action(node=x.diff(t) ** 2 / 2 - c * sp.tanh(a))
    assert sp.Symbol("c") in act.node.free_symbols
    assert act.parameter_defaults == {"c": 2.0}


def test_undeclared_symbol_is_named() -> None:
    with pytest.raises(ActionError, match=r"node term .* undeclared name\(s\) 'k'"):
        _action(node=x.diff(t) ** 2 + sp.Symbol("k") * x)


def test_undeclared_function_is_named() -> None:
    with pytest.raises(ActionError, match=r"undeclared name\(s\) 'y'"):
        _action(node=fn("y") * x)


def test_undeclared_name_inside_aggregate_is_named() -> None:
    with pytest.raises(ActionError, match=r"aggregate 'a' uses undeclared name\(s\) 'v'"):
        _action(aggregates=[Aggregate("a", fn("v") * src(x))])


def test_edge_field_in_node_term_points_to_aggregates() -> None:
    with pytest.raises(ActionError, match=r"'w'.*through an aggregate"):
        _action(node=x * w)


def test_bare_node_field_in_edge_term_points_to_src_dst() -> None:
    with pytest.raises(ActionError, match=r"'x'.*src\(\.\.\.\) or dst\(\.\.\.\)"):
        _action(edge=w * x)


def test_aggregate_may_not_be_differentiated() -> None:
    with pytest.raises(ActionError, match="aggregate 'a' may not be differentiated"):
        _action(node=x.diff(t) ** 2 + a.diff(t))


def test_field_written_as_symbol_is_explained() -> None:
    with pytest.raises(ActionError, match=r"'x' is a node.*fn\('x'\)"):
        _action(node=sp.Symbol("x") ** 2)


def test_role_indicators_only_at_ends_in_edge_terms() -> None:
    _action(edge=w.diff(t) ** 2 + dst(IS_OUTPUT) * w)
    with pytest.raises(ActionError, match="is_output"):
        _action(edge=w.diff(t) ** 2 + IS_OUTPUT * w)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("2x", "not an identifier"), ("x__y", "'__'"), ("np", "reserved"), ("w_d1", "_dK")],
)
def test_bad_identifiers_are_rejected(name: str, fragment: str) -> None:
    with pytest.raises(ActionError, match=fragment):
        Field(name)


def test_python_keyword_is_a_valid_field_name() -> None:
    assert Field("lambda", role="free", multiplier=True).name == "lambda"


def test_duplicate_declaration_is_named() -> None:
    with pytest.raises(ActionError, match="'x' is declared twice"):
        _action(parameters=[Parameter("x", 1.0)])


def test_clamp_needs_declared_signal_and_node_field() -> None:
    with pytest.raises(ActionError, match="signal 'u' is not declared"):
        _action(clamps=[Clamp("x", "u")])
    with pytest.raises(ActionError, match="clamp of 'w'"):
        _action(signals=[Signal("u")], clamps=[Clamp("w", "u")])


def test_restricted_edge_field_is_rejected() -> None:
    with pytest.raises(ActionError, match="only node fields"):
        Field("w", "edge", role="free")


def test_global_term_may_use_only_global_fields() -> None:
    with pytest.raises(ActionError, match=r"global term.*'x'"):
        _action(global_=x**2)


def test_time_derivative_must_be_in_t() -> None:
    s = sp.Symbol("c")
    with pytest.raises(ActionError, match="function of t alone"):
        _action(node=sp.Function("x")(s) ** 2)


def test_text_is_never_sympified() -> None:
    with pytest.raises(ActionError, match="is text"):
        _action(node="__import__('os').system('true')")
