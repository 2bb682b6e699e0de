"""Hardening of the inputs: every case below once hung, gave a traceback or a non-real value.

Each test bounds its time (well above what it takes, far below what the case once took).
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager

import pytest

from stlp_sym.cli import main
from stlp_sym.errors import ActionError, GraphError, StlpError
from stlp_sym.parse.expressions import ParseError, parse_expression, parse_number
from stlp_sym.parse.modelfile import read_model
from stlp_sym.symbolic.derivation import derive

NAMES = {"x": "field", "a": "parameter", "b": "parameter", "c": "parameter", "d": "parameter"}


@contextmanager
def within(seconds: float):
    start = time.perf_counter()
    yield
    assert time.perf_counter() - start < seconds


def _model(tmp_path, body: str, name: str = "m.toml"):
    path = tmp_path / name
    path.write_text(body)
    return path


BASE = '[fields]\nx = "node"\n[terms]\nnode = "Dt(x)**2/2"\n'


def test_key_locator_is_linear_on_long_blank_lines(tmp_path) -> None:
    # once cubic: 81 s for 5,000 blanks inside an array of arrays
    path = _model(tmp_path, BASE + "[parameters]\nc = [\n[" + " " * 5000 + "1], [2]]\n")
    with within(2), pytest.raises(ActionError, match=r"m.toml:6: parameters.c: must be a number"):
        read_model(path)


def test_power_of_a_long_sum_is_refused_by_its_size() -> None:
    # once 82 s of symbolic expansion
    with within(2), pytest.raises(ParseError, match=r"1:1: .*expands into about 10626 terms"):
        parse_expression("(x+a+b+c+d)**20", NAMES)


def test_expansion_limit_at_its_edge(tmp_path) -> None:
    from stlp_sym.symbolic.size import MAX_TERMS

    # (x+a+b)**n has (n+1)(n+2)/2 terms: the largest n within the limit, and the next one
    n = max(k for k in range(1, 60) if (k + 1) * (k + 2) // 2 <= MAX_TERMS)
    path = _model(
        tmp_path,
        BASE.replace("Dt(x)**2/2", f"Dt(x)**2/2 + (x+a+b)**{n}")
        + ("[parameters]\na = 1.0\nb = 2.0\n"),
    )
    with within(20):
        derive(read_model(path)[0]).require_system()
    with within(2), pytest.raises(ParseError, match="expands into"):
        parse_expression(f"(x+a+b)**{n + 1}", NAMES)


def test_nested_functions_are_bounded() -> None:
    from stlp_sym.parse.expressions import MAX_CALL_DEPTH

    deep = "tanh(" * MAX_CALL_DEPTH + "x" + ")" * MAX_CALL_DEPTH
    with within(5):
        parse_expression(deep, NAMES)
    with within(2), pytest.raises(ParseError, match=f"calls nested more than {MAX_CALL_DEPTH}"):
        parse_expression(f"tanh({deep})", NAMES)


def test_huge_constant_inside_a_function_is_refused_where_formed() -> None:
    # once a hang of stlp run over 120 s
    with within(2), pytest.raises(ParseError, match=r"1:5: constant beyond 1e\+300"):
        parse_expression("exp(sinh(2154723607701179712143360))", NAMES)


def test_many_fields_and_aggregates_derive_in_linear_time(tmp_path) -> None:
    # once 56-72 s for 1,000 x 1,000 (a 40 KB file): cost grew as fields x aggregates
    n = 400
    lines = ["[fields]", *(f'x{i} = "node"' for i in range(n)), 'w = "edge"', "[aggregates]"]
    lines += [f'a{i} = "in_sum(w*src(x{i}))"' for i in range(n)]
    lines += ["[terms]", 'node = "Dt(x0)**2/2 + a0 + a1"', 'edge = "Dt(w)**2/2"']
    path = _model(tmp_path, "\n".join(lines) + "\n")
    with within(15):
        derivation = derive(read_model(path)[0])
        assert len(derivation.equations) == n + 1


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("0.0/0.0", "division by zero"),
        ("x/0.0", "division by zero"),
        ("x/(a-a)", "division by zero"),
        ("(-8)**(1/3)", "not a finite real number"),
        ("sqrt(-2)", "not a finite real number"),
        ("acos(9)", "not a finite real number"),
        ("asin(8)", "not a finite real number"),
        ("log(0)", "infinite or undefined"),
        ("sinh(10**29)", "constant beyond"),
        ("exp(exp(exp(10)))", "constant beyond"),
    ],
)
def test_non_real_constants_are_refused_where_formed(text, problem) -> None:
    with within(2), pytest.raises(ParseError, match=rf"<expr>:1:\d+: {problem}"):
        parse_expression(text, NAMES)
    with pytest.raises(ParseError):
        parse_number(text.replace("x", "1").replace("a", "2"))


@pytest.mark.parametrize(("digits", "problem"), [(400, "400 digits"), (5001, "300 digits")])
def test_toml_integers_beyond_the_limit(tmp_path, digits, problem) -> None:
    body = BASE + f"[parameters]\nc = {'9' * digits}\n"
    with within(2), pytest.raises(ActionError, match=rf"m.toml:\d+: .*{problem}"):
        read_model(_model(tmp_path, body))


def test_param_that_is_not_a_real_number(capsys) -> None:
    argv = ["run", "stlp", "--graph", "complete:3:in=1", "--steps", "2", "--param", "r=0.0/0.0"]
    assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    # the informational line naming an automatic backend comes first, once per process
    lines = [line for line in lines if not line.startswith("stlp_sym: backend ")]
    assert len(lines) == 1 and lines[0].startswith("stlp: error: --param")
    assert "division by zero" in lines[0]


def test_model_file_errors_name_file_line_and_column(tmp_path) -> None:
    path = _model(tmp_path, BASE.replace("Dt(x)**2/2", "Dt(x)**2/2 + acos(9)*x"))
    with pytest.raises(StlpError, match=r"m.toml:4:22: terms.node: not a finite real"):
        read_model(path)


# ---- every documented limit at its edge (docs/model-files.md): the limit passes, one past fails --

_LONGEST = "x" + "+x" * 999  # 1999 characters


@pytest.mark.parametrize(
    ("within_limit", "beyond", "problem"),
    [
        (_LONGEST + " ", _LONGEST + "  ", "longer than 2000 characters"),
        ("(" * 50 + "x" + ")" * 50, "(" * 51 + "x" + ")" * 51, "nested more than 50 deep"),
        ("-" * 50 + "x", "-" * 51 + "x", "nested more than 50 deep"),
        ("x**100 + x**-100", "x**101", "exponent beyond +-100"),
        ("1" * 30 + "*x", "1" * 31 + "*x", "more than 30 digits"),
        ("1e300*x", "1.0000000001e300*x", "beyond 1e+300"),
        ("(10**100)**3*x", "(2*10**100)**3*x", "constant power beyond 10**300"),
        ("10**100*10**100*10**100*x", "10**100*10**100*10**100*10*x", "beyond 1e+300"),
        ("Dt(x, 8)", "Dt(x, 9)", "derivative order must be 1..8"),
    ],
)
def test_expression_limits_at_their_edge(within_limit, beyond, problem) -> None:
    with within(2):
        parse_expression(within_limit, NAMES)
    with within(2), pytest.raises(ParseError, match=re.escape(problem)):
        parse_expression(beyond, NAMES)


def test_model_file_size_and_integers_at_their_edge(tmp_path) -> None:
    from stlp_sym.parse.modelfile import MAX_BYTES

    body = BASE + "[parameters]\nc = 1" + "0" * 300 + "\n"  # 10**300: the largest integer
    padded = body + "#" * (MAX_BYTES - len(body) - 1) + "\n"
    assert len(padded.encode()) == MAX_BYTES
    with within(5):
        action, _ = read_model(_model(tmp_path, padded))
    assert action.lookup("c").default == 1e300
    with within(2), pytest.raises(ActionError, match=f"larger than {MAX_BYTES} bytes"):
        read_model(_model(tmp_path, padded + "#"))
    beyond = BASE + "[parameters]\nc = 1" + "0" * 299 + "1\n"  # 10**300 + 1
    with within(2), pytest.raises(ActionError, match=r"m.toml:\d+: parameters.c: .*beyond 1e300"):
        read_model(_model(tmp_path, beyond))


def test_graph_memory_estimates_at_their_edge(tmp_path, monkeypatch) -> None:
    """A spec, a graph file and a node id: exactly the memory (length) allowed passes, one byte
    (character) more is refused with the estimate, before anything is allocated or read."""
    from stlp_sym.graph import digraph, parse_spec, read_graph
    from stlp_sym.graph.files import READ_BYTES

    need = 1000 * digraph.NODE_BYTES + 999 * digraph.ARC_BYTES  # chain:1000
    monkeypatch.setattr(digraph, "available_memory", lambda: need)
    assert parse_spec("chain:1000").n == 1000
    monkeypatch.setattr(digraph, "available_memory", lambda: need - 1)
    with pytest.raises(GraphError, match=r"1000 nodes and 999 arcs: about 249\.\d KiB of memory"):
        parse_spec("chain:1000")
    path = tmp_path / "net.csv"
    path.write_text("src,dst\n" + "a" * 200 + ",b\n")  # the longest node id
    size = path.stat().st_size
    monkeypatch.setattr(digraph, "available_memory", lambda: size * READ_BYTES)
    assert read_graph(path).n == 2
    monkeypatch.setattr(digraph, "available_memory", lambda: size * READ_BYTES - 1)
    with pytest.raises(GraphError, match=rf"net.csv has {size} bytes .*: about [\d.]+ KiB"):
        read_graph(path)
    monkeypatch.undo()
    path.write_text("src,dst\n" + "a" * 201 + ",b\n")
    with pytest.raises(GraphError, match=r"line 2: node id 'a+' is empty or too long"):
        read_graph(path)
