"""A whitelist parser from expression strings (model files, ``--param``) to SymPy: no eval.

The text is checked character by character, parsed with :func:`ast.parse` (which builds a syntax
tree and executes nothing) and the tree is walked with a strict whitelist:

- numbers (integer and float literals, at most 30 digits and at most ``1e300``);
- declared names: fields, signals and aggregates become ``fn(name)`` (functions of ``t``),
  parameters plain symbols; the role indicators ``is_input``, ``is_output``, ``is_hidden``,
  ``is_free``, and the time ``t``;
- ``+ - * / **``, unary ``-`` and ``+``, parentheses;
- calls of :data:`FUNCTIONS` (``exp``, ``log``, ``tanh``, ``sigmoid``, ...) with one argument,
  ``max(a, b)`` and ``min(a, b)`` with two;
- ``Dt(x)`` / ``Dt(x, k)`` (``k``-th time derivative of a field or signal, ``1 <= k <= 8``),
  ``src(...)`` / ``dst(...)`` (a node quantity at an arc's end), and ``in_sum(...)`` /
  ``out_sum(...)`` as the whole definition of an aggregate (:func:`parse_aggregate`).

Anything else is a :class:`ParseError` naming the source, line, column and offending text.
Against denial of service: at most 2,000 characters, nesting at most 50 deep, numeric exponents
at most 100 in absolute value and constant powers at most ``10**300``: ``9**9**9**9`` is refused
at once, before any large number is computed. Operations are otherwise built with SymPy's own
operators, so a file gives exactly the expression the same Python code would (``q/2`` is
``Rational(1, 2)*q``; note that ``1/2`` is the exact rational, not ``0.5``).

A declared name that is a Python keyword (the multiplier ``lambda``) may be written as is.

The text checks and the limits are in :mod:`stlp_sym.parse.scan`, the walk of the syntax tree in
:mod:`stlp_sym.parse.tree`; this module holds the entry points and :class:`ParseError`.

>>> names = {"x": "field", "w": "field", "c": "parameter"}
>>> parse_expression("c * Dt(x)**2 / 2 + w * src(x)", names)
c*Derivative(x(t), t)**2/2 + w(t)*x__src(t)
>>> parse_expression("lambda * (Dt(x) - tanh(a))", {"x": "field", "lambda": "field",
...                                                  "a": "aggregate"})
(-tanh(a(t)) + Derivative(x(t), t))*lambda(t)
>>> parse_expression("x.__class__", names, source="m.toml", line=7, column_offset=9)
Traceback (most recent call last):
...
stlp_sym.parse.expressions.ParseError: m.toml:7:10: attribute access is not allowed: 'x.__class__'
>>> parse_number("2*10**-3")
0.002
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import ActionError
from ..symbolic.size import MAX_TERMS
from .scan import (
    MAX_BITS,
    MAX_CALL_DEPTH,
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_DT_ORDER,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_LITERAL,
    MAX_LOG10,
    rewrite_names,
    scan_text,
    syntax_tree,
)
from .tree import FUNCTIONS, SPECIAL_FORMS, TreeBuilder, to_float

__all__ = [
    "FUNCTIONS",
    "KINDS",
    "MAX_BITS",
    "MAX_CALL_DEPTH",
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MAX_DT_ORDER",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "MAX_LITERAL",
    "MAX_LOG10",
    "MAX_TERMS",
    "SPECIAL_FORMS",
    "ParseError",
    "parse_aggregate",
    "parse_expression",
    "parse_number",
]


KINDS = ("field", "signal", "aggregate", "parameter", "local parameter")


class ParseError(ActionError):
    """An expression string that the whitelist parser refuses, with its source position."""


@dataclass(frozen=True)
class SourceText:
    """Where an expression's text sits, to turn AST positions into messages."""

    text: str
    name: str
    line: int
    column_offset: int
    where: str

    def position(self, lineno: int, col: int) -> str:
        """``source:line:column`` (1-based) of a 0-based column on a 1-based text line."""
        column = col + (self.column_offset if lineno == 1 else 0) + 1
        return f"{self.name}:{self.line + lineno - 1}:{column}"

    def excerpt(self, lineno: int, col: int, end_lineno: int, end_col: int) -> str:
        lines = self.text.split("\n")
        if not 1 <= lineno <= len(lines):
            return self.text[-60:]
        if end_lineno == lineno:
            piece = lines[lineno - 1][col:end_col]
        else:
            piece = "\n".join([lines[lineno - 1][col:], *lines[lineno : end_lineno - 1]])
            piece += "\n" + lines[end_lineno - 1][:end_col] if end_lineno <= len(lines) else ""
        piece = piece or lines[lineno - 1][max(col - 20, 0) : col + 20] or self.text[:60]
        return piece if len(piece) <= 60 else piece[:57] + "..."

    def error(
        self, problem: str, lineno: int = 1, col: int = 0, end: tuple[int, int] | None = None
    ) -> ParseError:
        """A :class:`ParseError` at a 0-based column, quoting the text up to ``end``."""
        end_lineno, end_col = end or (lineno, col + 1)
        where = f"{self.where}: " if self.where else ""
        text = self.excerpt(lineno, col, end_lineno, end_col)
        return ParseError(f"{self.position(lineno, col)}: {where}{problem}: {text!r}")

    def node_error(self, problem: str, node: ast.AST) -> ParseError:
        # line 1 of the parsed text has a leading "(" that the source does not
        # (a top-level tuple starts at that "(": clamp to the text)
        shift = 1 if node.lineno == 1 else 0
        end_shift = 1 if node.end_lineno == 1 else 0
        end = (node.end_lineno, max(node.end_col_offset - end_shift, 0))
        return self.error(problem, node.lineno, max(node.col_offset - shift, 0), end)


def _source(text: object, source: str, line: int, column_offset: int, where: str) -> SourceText:
    if not isinstance(text, str):
        raise ParseError(f"{source}:{line}: {where + ': ' if where else ''}expected a string")
    text = text.replace("\r\n", "\n")
    src = SourceText(text, source, line, column_offset, where)
    if len(text) > MAX_LENGTH:
        raise src.error(f"expression longer than {MAX_LENGTH} characters", 1, 0, (1, 40))
    if not text.strip():
        raise src.error("empty expression", 1, 0)
    return src


def _check_names(names: Mapping[str, str]) -> None:
    for name, kind in names.items():
        if kind not in KINDS:
            raise ActionError(f"name {name!r} has kind {kind!r}; kinds are {', '.join(KINDS)}")


def _parse(
    src: SourceText,
    names: Mapping[str, str],
    aliases: Mapping[str, sp.Expr] | None,
    allow_sums: bool,
) -> tuple[sp.Expr, str | None]:
    _check_names(names)
    aliases = dict(aliases or {})
    scan_text(src)
    rewritten, standins = rewrite_names(src, {**names, **aliases})
    tree = syntax_tree(src, rewritten)
    builder = TreeBuilder(src, names, aliases, standins, allow_sums=allow_sums)
    expr = builder.build(tree)
    return sp.sympify(expr), builder.direction


def parse_expression(
    text: str,
    names: Mapping[str, str],
    *,
    source: str = "<expr>",
    line: int = 1,
    column_offset: int = 0,
    where: str = "",
    aliases: Mapping[str, sp.Expr] | None = None,
) -> sp.Expr:
    """Parse ``text`` into a SymPy expression, allowing only the whitelist of the module.

    Parameters
    ----------
    text : the expression, e.g. ``"lambda * (Dt(x) - c * (tanh(a) - x))"``.
    names : each declared name and its kind: ``"field"``, ``"signal"``, ``"aggregate"``,
        ``"local parameter"`` (a parameter on nodes or arcs; these become ``name(t)``) or
        ``"parameter"`` (a plain symbol).
    source, line, column_offset : where the text starts (file name, 1-based line, 0-based
        column of its first character), for messages.
    where : what the expression is (e.g. ``terms.node``), for messages.
    aliases : names that stand for a given expression (a model file's ``phi``).

    Raises
    ------
    ParseError
        For anything outside the whitelist, with ``source:line:column`` and the offending text.

    >>> parse_expression("is_output * (x - z)**2", {"x": "field", "z": "signal"})
    is_output*(x(t) - z(t))**2
    >>> parse_expression("9**9**9**9", {})
    Traceback (most recent call last):
    ...
    stlp_sym.parse.expressions.ParseError: <expr>:1:4: exponent beyond +-100: '9**9**9'
    """
    src = _source(text, source, line, column_offset, where)
    return _parse(src, names, aliases, allow_sums=False)[0]


def parse_aggregate(
    text: str,
    names: Mapping[str, str],
    *,
    source: str = "<expr>",
    line: int = 1,
    column_offset: int = 0,
    where: str = "",
    aliases: Mapping[str, sp.Expr] | None = None,
) -> tuple[Literal["in", "out"], sp.Expr]:
    """Parse an aggregate definition ``in_sum(g)`` or ``out_sum(g)`` into ``(direction, g)``.

    >>> parse_aggregate("in_sum(w * src(x))", {"w": "field", "x": "field"})
    ('in', w(t)*x__src(t))
    """
    src = _source(text, source, line, column_offset, where)
    expr, direction = _parse(src, names, aliases, allow_sums=True)
    if direction is None:
        problem = "an aggregate is defined as in_sum(...) or out_sum(...) of an edge expression"
        raise src.error(problem, 1, 0, (1, 60))
    return direction, expr  # type: ignore[return-value]


def parse_number(
    text: str, *, source: str = "<number>", line: int = 1, column_offset: int = 0, where: str = ""
) -> float:
    """A finite float from a number or a constant expression (``1e-3``, ``2*10**-3``).

    Goes through the same whitelist as :func:`parse_expression` (no names), then evaluates in
    floating point; NaN, infinities and complex values are refused.

    >>> parse_number("1e-3"), parse_number("-sqrt(4)/8"), parse_number("exp(0)")
    (0.001, -0.25, 1.0)
    """
    src = _source(text, source, line, column_offset, where)
    expr = _parse(src, {}, None, allow_sums=False)[0]
    if expr.free_symbols or expr.atoms(AppliedUndef):
        raise src.error("a number may not use names", 1, 0, (1, 60))
    try:
        value = to_float(expr)
    except (OverflowError, ValueError, ZeroDivisionError, TypeError, RecursionError):
        value = math.nan
    if not math.isfinite(value):
        raise src.error("not a finite real number", 1, 0, (1, 60))
    return value
