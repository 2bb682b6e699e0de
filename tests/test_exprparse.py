"""The whitelist expression parser: every allowed construct, every refused one, the limits
against denial of service, and a randomized test that nothing but the package's own errors
comes out and nothing is executed."""

from __future__ import annotations

import builtins
import random
import re
import time

import pytest
import sympy as sp

from stlp_sym.errors import ActionError, StlpError
from stlp_sym.parse.expressions import (
    MAX_LENGTH,
    ParseError,
    parse_aggregate,
    parse_expression,
    parse_number,
)
from stlp_sym.symbolic.vocabulary import IS_FREE, IS_HIDDEN, IS_INPUT, IS_OUTPUT, dst, fn, src, t

NAMES = {
    "x": "field",
    "w": "field",
    "lambda": "field",
    "u": "signal",
    "z": "signal",
    "a": "aggregate",
    "c": "parameter",
    "theta": "parameter",
}
x, w, lam, u, z, a = (fn(n) for n in ("x", "w", "lambda", "u", "z", "a"))
c, theta = sp.symbols("c theta")
POSITION = re.compile(r"^f\.toml:(\d+):(\d+): terms\.node: ")


def parse(text: str) -> sp.Expr:
    return parse_expression(
        text, NAMES, source="f.toml", line=3, column_offset=8, where="terms.node"
    )


# ---- what is allowed ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x", x),
        ("c", c),
        ("t", t),
        ("lambda", lam),  # a declared name that is a Python keyword
        ("is_input + is_output + is_hidden + is_free", IS_INPUT + IS_OUTPUT + IS_HIDDEN + IS_FREE),
        ("2", sp.Integer(2)),
        ("0.5", sp.Float(0.5)),
        ("1e-3", sp.Float(1e-3)),
        ("x + w - u", x + w - u),
        ("c * x / 2", c * x / 2),
        ("x**2", x**2),
        ("-x", -x),
        ("+x", x),
        ("-(x - z)**2", -((x - z) ** 2)),
        ("2**-1", sp.Rational(1, 2)),
        ("(x\n + w)", x + w),
        ("  x + w  # trailing comment", x + w),
        ("exp(theta * t)", sp.exp(theta * t)),
        ("log(x) + sin(x) + cos(x) + tan(x)", sp.log(x) + sp.sin(x) + sp.cos(x) + sp.tan(x)),
        ("tanh(a) + sinh(x) + cosh(x)", sp.tanh(a) + sp.sinh(x) + sp.cosh(x)),
        ("asin(x) + acos(x) + atan(x)", sp.asin(x) + sp.acos(x) + sp.atan(x)),
        ("sqrt(x) + abs(x) + sign(x)", sp.sqrt(x) + sp.Abs(x) + sp.sign(x)),
        ("Dt(x)", x.diff(t)),
        ("Dt(w, 2)", w.diff(t, 2)),
        ("Dt(Dt(x), 3)", x.diff(t, 4)),
        ("Dt(u)", u.diff(t)),
        ("src(x)", src(x)),
        ("dst(Dt(x))", dst(x.diff(t))),
        ("Dt(src(x))", src(x).diff(t)),
        ("src(Dt(x)) * w", src(x.diff(t)) * w),
        ("dst(is_output)", sp.Symbol("is_output__dst")),
        ("dst(lambda * x)", dst(lam * x)),
        (
            "exp(theta*t) * c / 2 * is_output * (x - z)**2 + lambda * (Dt(x) - c * (tanh(a) - x))",
            sp.exp(theta * t) * c / 2 * IS_OUTPUT * (x - z) ** 2
            + lam * (x.diff(t) - c * (sp.tanh(a) - x)),
        ),
        ("(10**29)**10", sp.Integer(10) ** 290),
        ("1_000 + 0x10", sp.Integer(1016)),
    ],
)
def test_allowed_constructs_give_the_sympy_expression(text, expected):
    result = parse(text)
    assert sp.srepr(result) == sp.srepr(expected)


def test_same_structure_as_python_operators():
    """A file gives exactly the tree the same Python code gives (the built-in models)."""
    text = "exp(theta*t) * c / 2 * is_output * (x - z)**2"
    assert sp.srepr(parse(text)) == sp.srepr(sp.exp(theta * t) * c / 2 * IS_OUTPUT * (x - z) ** 2)


def test_aggregates_and_numbers():
    assert parse_aggregate("in_sum(w * src(x))", NAMES) == ("in", w * src(x))
    assert parse_aggregate(" out_sum(w * dst(x)**2)", NAMES) == ("out", w * dst(x) ** 2)
    assert parse_number("1e-3") == 1e-3
    assert parse_number("2*10**-3") == pytest.approx(2e-3)
    assert parse_number("-sqrt(16) + exp(0)") == -3.0
    assert parse_number("1/3") == pytest.approx(1 / 3)


def test_aliases_stand_for_expressions():
    phi = sp.exp(theta * t)
    assert parse_expression("phi * x", NAMES, aliases={"phi": phi}) == phi * x


# ---- what is refused ----------------------------------------------------------------------------

REFUSED = [
    # (text, part of the message, offending text quoted in the message)
    ("x.real", "attribute access", "x.real"),
    ("exp.__class__", "attribute access", "exp.__class__"),
    ("x[0]", "subscripts", "x[0]"),
    ("lambda q: q", "invalid syntax", ""),  # 'lambda' is declared here: a name, not a lambda
    ("[q for q in x]", "comprehensions", "[q for q in x]"),
    ("{q for q in x}", "comprehensions", "{q for q in x}"),
    ("exp(q for q in x)", "comprehensions", "q for q in x"),
    ("exp(x=1)", "keyword arguments", "exp(x=1)"),
    ("__import__", "names starting with '_'", "__import__"),
    ("x + __builtins__", "names starting with '_'", "__builtins__"),
    ("'os'", "strings", "'"),
    ('f"{x}"', "strings", '"'),
    ("x < 1", "comparisons", "x < 1"),
    ("x == w", "comparisons", "x == w"),
    ("x and w", "boolean operators", "x and w"),
    ("not x", "operator 'not'", "not x"),
    ("~x", "operator '~'", "~x"),
    ("x % 2", "operator '%'", "x % 2"),
    ("x // 2", "operator '//'", "x // 2"),
    ("x @ w", "operator '@'", "x @ w"),
    ("x if c else w", "conditional expressions", "x if c else w"),
    ("exp(*x)", "starred expressions", "*x"),
    ("(q := 1)", "assignment expressions", "q := 1"),
    ("[x, w]", "lists", "[x, w]"),
    ("x, w", "tuples", "x, w"),
    ("{x: 1}", "dicts", "{x: 1}"),
    ("foo(x)", "unknown function 'foo'", "foo(x)"),
    ("eval(x)", "unknown function 'eval'", "eval(x)"),
    ("y + x", "unknown name 'y'", "y"),
    ("x(t)", "x is a field, not a function", "x(t)"),
    ("exp", "exp is a function", "exp"),
    ("exp(x, w)", "exactly one argument", "exp(x, w)"),
    ("Dt(x, 9)", "derivative order", "Dt(x, 9)"),
    ("Dt(x, k)", "must be an integer", "k"),
    ("Dt(c)", "differentiates a field or signal", "Dt(c)"),
    ("Dt(a)", "may not be differentiated", "Dt(a)"),
    ("src(src(x))", "cannot be nested", "src(src(x))"),
    ("in_sum(w)", "whole definition of an aggregate", "in_sum(w)"),
    ("1j", "complex numbers", "1j"),
    ("True", "bool literals", "True"),
    ("None", "NoneType literals", "None"),
    ("1234567890123456789012345678901", "more than 30 digits", "1234567890123456789012345678901"),
    ("1e999", "beyond 1e+300", "1e999"),
    ("1e300 * 1e300", "beyond 1e+300", "1e300 * 1e300"),
    ("x / 0", "division by zero", "x / 0"),
    ("log(0)", "infinite", "log(0)"),
    ("x**1000", "exponent beyond", "x**1000"),
    ("2**2**2**2**2", "exponent beyond", "2**2**2**2**2"),
    ("x +", "invalid syntax", "x +"),
    ("import os", "invalid syntax", ""),
    ("x; w", "invalid syntax", ";"),
    ("x) + (w", "unmatched ')'", ")"),
    ("(x", "never closed", "("),
    ("xé", "character 'é'", "é"),
    ("", "empty expression", ""),
]


@pytest.mark.parametrize(("text", "problem", "culprit"), REFUSED)
def test_refused_constructs_name_position_and_text(text, problem, culprit):
    with pytest.raises(ParseError) as info:
        parse(text)
    message = str(info.value)
    assert isinstance(info.value, ActionError)
    assert POSITION.match(message), message
    assert problem in message
    assert f"{culprit}" in message.split(f"{problem}", 1)[1]


def test_positions_are_file_positions():
    """Line 1 is shifted by the column offset; later lines of a multi-line text are not."""
    with pytest.raises(ParseError, match=r"^f\.toml:3:13: terms\.node: .*'x\.y'"):
        parse("c + x.y")
    with pytest.raises(ParseError, match=r"^f\.toml:4:4: terms\.node: .*'w\.y'"):
        parse("c + x\n + w.y")


def test_aggregate_and_number_misuse():
    with pytest.raises(ParseError, match=r"in_sum.*or out_sum"):
        parse_aggregate("w * src(x)", NAMES)
    with pytest.raises(ParseError, match="whole definition"):
        parse_aggregate("2 * in_sum(w)", NAMES)
    for text in ("x", "nan", "1/0", "exp(1000)", "sqrt(-1)", "asin(2)", "1e308*10"):
        with pytest.raises(ParseError):
            parse_number(text)


def test_bad_names_mapping_is_an_action_error():
    with pytest.raises(ActionError, match="kind"):
        parse_expression("x", {"x": "variable"})


# ---- denial of service --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("9**9**9**9", "exponent beyond"),
        ("(9**9)**(9**9)", "exponent beyond"),
        ("10**30**30", "exponent beyond"),
        ("10**99 * 10**99 * 10**99 * 10**99", "number beyond 10**300"),
        ("99**99 / 99**-99", "number beyond 10**300"),
        ("(10**29)**20", "constant power beyond"),
        ("x" * 10_000, f"longer than {MAX_LENGTH}"),
        ("(" * 100 + "x" + ")" * 100, "nested more than 50"),
        ("exp(" * 60 + "x" + ")" * 60, "nested more than 50"),
        ("-" * 1900 + "x", "nested more than 50"),
        ("1" * 2000, "more than 30 digits"),
        ("1e" + "9" * 1000, "beyond 1e+300"),
    ],
)
def test_denial_of_service_inputs_are_refused_quickly(text, problem):
    start = time.perf_counter()
    with pytest.raises(ParseError, match=re.escape(problem)):
        parse(text)
    assert time.perf_counter() - start < 1.0


def test_long_flat_sums_are_not_nesting():
    start = time.perf_counter()
    assert parse("+".join(["x"] * 999)) == 999 * x
    assert time.perf_counter() - start < 1.0


# ---- randomized: parse or refuse, quickly, and never execute ------------------------------------

_ALPHABET = [
    *["x", "w", "lambda", "z", "a", "c", "t", "is_output", "y", "foo", "os", "system"],
    *["0", "1", "2.5", "1e308", "1e999", "9" * 40, "0x1f", "1j", "1_0", ".5", "10**"],
    *["+", "-", "*", "/", "**", "%", "//", "@", "<", "==", "=", ":=", "~", "&", "|", "^"],
    *["(", ")", "(", ")", "[", "]", "{", "}", ",", ".", ":", ";", "'", '"', "\\", "#", "\n"],
    *["lambda", "import", "for", "in", "if", "else", "and", "not", "yield", "await", "def"],
    *["__import__", "__class__", "__builtins__", "__subclasses__", "_x", "getattr"],
    *["exp", "tanh", "sqrt", "Dt", "src", "dst", "in_sum", "out_sum", "eval", "exec", "open"],
    *[" ", " ", "f'", "b'", "*", "**", "...", "None", "True", "é", "\x00", "\t"],
]
_PAYLOADS = [
    "__import__('os').system('touch {s}')",
    "exec(\"open('{s}', 'w')\")",
    "eval('open(\\'{s}\\', \\'w\\')')",
    "().__class__.__bases__[0].__subclasses__()",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "(lambda: open('{s}', 'w'))()",
    "open('{s}', 'w').write('x')",
    "x.__globals__['os'].system('touch {s}')",
    "getattr(x, '__class__')",
    "x + y[0] + z.__dict__",
]


_CLEAN = [tok for tok in _ALPHABET if not set(tok) & set("'\"\\#é\x00")]
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def _soup(rng: random.Random) -> str:
    """A token soup: from the whole alphabet, or (half the time) from the clean tokens with
    brackets balanced, so that it gets past the character scan into the syntax tree."""
    clean = rng.random() < 0.5
    tokens = [rng.choice(_CLEAN if clean else _ALPHABET) for _ in range(rng.randint(1, 25))]
    if clean:
        stack, kept = [], []
        for tok in tokens:
            if tok in _PAIRS:
                stack.append(_PAIRS[tok])
            elif tok in _PAIRS.values():
                if not stack or stack[-1] != tok:
                    continue
                stack.pop()
            kept.append(tok)
        tokens = kept + stack[::-1]
    return "".join(t + rng.choice(["", "", " "]) for t in tokens)


def _well_formed(rng: random.Random, depth: int = 0) -> str:
    """Random expressions from the grammar, so the happy path is exercised too."""
    if depth > 3 or rng.random() < 0.3:
        return rng.choice(["x", "w", "c", "t", "2", "0.5", "lambda", "is_output", "Dt(x)"])
    kind = rng.randrange(4)
    if kind == 0:
        op = rng.choice(["+", "-", "*", "/"])
        return f"{_well_formed(rng, depth + 1)} {op} {_well_formed(rng, depth + 1)}"
    if kind == 1:
        return f"({_well_formed(rng, depth + 1)})**{rng.randint(-3, 3)}"
    if kind == 2:
        return f"{rng.choice(['exp', 'tanh', 'cos', 'sqrt'])}({_well_formed(rng, depth + 1)})"
    return f"-{_well_formed(rng, depth + 1)}"


def _mutated(rng: random.Random, text: str) -> str:
    """A well-formed expression with one token of the alphabet inserted somewhere."""
    k = rng.randrange(len(text) + 1)
    return text[:k] + rng.choice(_ALPHABET) + text[k:]


@pytest.fixture
def no_eval(monkeypatch):
    """Warm up (imports), then make eval and exec raise: the parser must never call them."""
    parse("exp(c) + log(x) + sin(x) + cos(x) + tan(x) + tanh(a) + sinh(x) + cosh(x)")
    parse("asin(x) + acos(x) + atan(x) + sqrt(x) + abs(x) + sign(x) + src(Dt(x, 2)) / 2")
    parse_number("2*10**-3 + sin(1) + abs(-1) + sign(2) + acos(0.5)")
    calls: list[str] = []

    def refuse(name):
        def forbidden(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} was called")

        return forbidden

    monkeypatch.setattr(builtins, "eval", refuse("eval"))
    monkeypatch.setattr(builtins, "exec", refuse("exec"))
    return calls


def test_random_expressions_parse_or_fail_cleanly(tmp_path, no_eval):
    rng = random.Random(20240611)
    sentinel = tmp_path / "SENTINEL"
    texts = [_soup(rng) for _ in range(3000)]
    texts += [_well_formed(rng) for _ in range(300)]
    texts += [_mutated(rng, _well_formed(rng)) for _ in range(500)]
    texts += [p.format(s=sentinel) for p in _PAYLOADS]
    texts += [rng.choice(_PAYLOADS).format(s=sentinel) + " + " + _soup(rng) for _ in range(100)]
    outcomes = {"parsed": 0, "refused": 0}
    slowest = 0.0
    for text in texts:
        for parser in (parse, parse_number):
            start = time.perf_counter()
            try:
                parser(text)
                outcomes["parsed"] += 1
            except StlpError:
                outcomes["refused"] += 1
            slowest = max(slowest, time.perf_counter() - start)
    assert slowest < 0.5
    assert not sentinel.exists()
    assert no_eval == []
    assert outcomes["parsed"] > 300 and outcomes["refused"] > 3000
