"""Property tests of every text input: the expression parser, model files, graph files and
graph specs. Whatever the input, the outcome is a success or the package's own error
(:class:`~stlp_sym.errors.StlpError`), within a time bound per example (the ``deadline``);
``derandomize`` makes the examples the same on every run.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stlp_sym.errors import StlpError
from stlp_sym.graph import Digraph, parse_spec, read_graph
from stlp_sym.parse.expressions import parse_expression, parse_number
from stlp_sym.parse.modelfile import read_model
from stlp_sym.symbolic.transforms import apply_options

BOUNDED = settings(
    max_examples=80,
    deadline=3000,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
NAMES = {"x": "field", "y": "field", "w": "field", "c": "parameter", "a": "aggregate"}

_TOKENS = [
    *"xycwa",
    "t",
    "0",
    "1",
    "2",
    "9",
    "0.0",
    "1e300",
    "1e-3",
    "10**29",
    "99999999999",
    "+",
    "-",
    "*",
    "/",
    "**",
    "(",
    ")",
    ",",
    " ",
    "\n",
    ".",
    "_",
    "__import__",
    "lambda",
    "exp(",
    "log(",
    "sinh(",
    "tanh(",
    "acos(",
    "sqrt(",
    "abs(",
    "sign(",
    "Dt(",
    "src(",
    "dst(",
    "in_sum(",
    "is_output",
    "phi",
    "[",
    "]",
    "'",
    "#",
    "=",
    ":",
    "%",
    "@",
    "~",
    "<",
    "and",
]
expressions = st.lists(st.sampled_from(_TOKENS), max_size=60).map("".join)


def _parses_or_refuses(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except StlpError:
        return None


@BOUNDED
@given(expressions)
def test_expression_parser_accepts_or_refuses(text: str) -> None:
    _parses_or_refuses(parse_expression, text, NAMES)
    _parses_or_refuses(parse_number, text)


@BOUNDED
@given(st.text(max_size=300))
def test_expression_parser_on_any_text(text: str) -> None:
    _parses_or_refuses(parse_expression, text, NAMES)


_VALUES = [
    '"node"',
    '"edge"',
    '"global"',
    '"in_sum(w * src(x))"',
    '"Dt(x)**2/2"',
    "1.0",
    "-3",
    "1e400",
    "9" * 320,
    "true",
    '"acos(9)"',
    '"x/0.0"',
    '{ domain = "node" }',
    "[1, 2]",
    '"""\nDt(x)**2\n"""',
    '"(x+c)**40"',
    '"tanh(tanh(tanh(tanh(tanh(tanh(x))))))"',
    '""',
]
_KEYS = ["x", "y", "w", "c", "a", "node", "edge", "global", "role", "domain", "lambda", "_x"]
_SECTIONS = ["fields", "parameters", "aggregates", "terms", "signals", "clamps", "options", "x"]
lines = st.one_of(
    st.builds(lambda s: f"[{s}]", st.sampled_from(_SECTIONS)),
    st.builds(lambda k, v: f"{k} = {v}", st.sampled_from(_KEYS), st.sampled_from(_VALUES)),
    st.sampled_from(["", "# comment", "[", "=", " " * 200, "a.b = 1", "[[fields]]"]),
)
VALID = (
    '[parameters]\nc = 2.0\n[fields]\nx = "node"\nw = "edge"\n'
    '[aggregates]\na = "in_sum(w * src(x))"\n[terms]\n'
)


@BOUNDED
@given(st.lists(lines, max_size=25), st.booleans())
def test_model_files_load_or_refuse(body: list[str], prefixed: bool) -> None:
    text = (VALID if prefixed else "") + "\n".join(body) + "\n"
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "m.toml"
        path.write_text(text)
        _parses_or_refuses(read_model, path)


def _grammar(leaves: list[str]) -> st.SearchStrategy[str]:
    """Well-formed expressions over ``leaves``: sums, products, quotients, powers, calls."""
    return st.recursive(
        st.sampled_from([*leaves, "0", "1", "2", "0.5", "1e3", "10**29", "-1"]),
        lambda inner: st.one_of(
            st.builds("({} {} {})".format, inner, st.sampled_from("+-*/"), inner),
            st.builds("({})**{}".format, inner, st.sampled_from(["2", "3", "-1", "0.5", "30"])),
            st.builds(
                "{}({})".format, st.sampled_from(["exp", "log", "tanh", "acos", "sqrt"]), inner
            ),
        ),
        max_leaves=12,
    )


node_terms = st.one_of(_grammar(["x", "Dt(x)", "a", "c", "t", "phi"]), expressions)
edge_terms = st.one_of(_grammar(["w", "Dt(w)", "src(x)", "dst(Dt(x))", "c"]), expressions)


@BOUNDED
@given(node_terms, edge_terms, edge_terms)
def test_model_files_with_random_expressions(node: str, edge: str, aggregate: str) -> None:
    text = VALID.replace('"in_sum(w * src(x))"', json.dumps(f"in_sum({aggregate})"))
    text += f"node = {json.dumps(node)}\nedge = {json.dumps(edge)}\n"
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "m.toml"
        path.write_text(text)
        model = _parses_or_refuses(read_model, path)
        if model is not None:  # within the limits, deriving is bounded too
            _parses_or_refuses(apply_options, *model)


ids = st.one_of(st.integers(-3, 12), st.sampled_from(["a", "b", "", "1.5", "-0", "x y", "9" * 40]))
rows = st.lists(st.tuples(ids, ids).map(lambda p: f"{p[0]},{p[1]}"), max_size=20)
csv_extra = st.sampled_from(["src,dst", "# inputs: 0", "# outputs: 3, 4", "#", "", "1", "a,b,c"])


@BOUNDED
@given(st.lists(st.one_of(rows.map("\n".join), csv_extra), max_size=6))
def test_csv_graph_files_read_or_refuse(parts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "g.csv"
        path.write_text("\n".join(parts) + "\n")
        graph = _parses_or_refuses(read_graph, path)
        assert graph is None or isinstance(graph, Digraph)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2, 10), st.sampled_from(["input", "x", ""])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(
            st.sampled_from(
                [
                    "nodes",
                    "arcs",
                    "links",
                    "id",
                    "role",
                    "source",
                    "target",
                    "inputs",
                    "outputs",
                    "other",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=25,
)


@BOUNDED
@given(json_values)
def test_json_graph_files_read_or_refuse(value) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "g.json"
        path.write_text(json.dumps(value))
        _parses_or_refuses(read_graph, path)


numbers = st.one_of(
    st.integers(-2, 30).map(str), st.sampled_from(["10**8", "100000", "1000000000", "x", ""])
)
specs = st.builds(
    lambda kind, args, options: f"{kind}:{','.join(args)}{options}",
    st.sampled_from(["chain", "feedforward", "complete", "random", "ring", ""]),
    st.lists(numbers, max_size=4),
    st.sampled_from(
        ["", ":in=1", ":out=2", ":in=1:out=1", ":in=x", ":in", ":out=40", ":in=1:in=1"]
    ),
)


@BOUNDED
@given(st.one_of(specs, st.text(max_size=40)))
def test_graph_specs_build_or_refuse(spec: str) -> None:
    graph = _parses_or_refuses(parse_spec, spec)
    assert graph is None or isinstance(graph, Digraph)


@pytest.mark.parametrize("spec", ["complete:100000", "random:1000000000,10,0"])
def test_specs_beyond_memory_are_refused(spec: str) -> None:
    with pytest.raises(StlpError, match="of memory"):
        parse_spec(spec)
