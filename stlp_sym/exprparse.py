"""A whitelist parser from expression strings (model files, ``--param``) to SymPy: no eval.

The text is checked character by character, parsed with :func:`ast.parse` (which builds a syntax
tree and executes nothing) and the tree is walked with a strict whitelist:

- numbers (integer and float literals, at most 30 digits and at most ``1e300``);
- declared names: fields, signals and aggregates become ``fn(name)`` (functions of ``t``),
  parameters plain symbols; the role indicators ``is_input``, ``is_output``, ``is_hidden``,
  ``is_free``, and the time ``t``;
- ``+ - * / **``, unary ``-`` and ``+``, parentheses;
- calls of :data:`FUNCTIONS` (``exp``, ``log``, ``tanh``, ...) with one argument;
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

>>> names = {"x": "field", "w": "field", "c": "parameter"}
>>> parse_expression("c * Dt(x)**2 / 2 + w * src(x)", names)
c*Derivative(x(t), t)**2/2 + w(t)*x__src(t)
>>> parse_expression("lambda * (Dt(x) - tanh(a))", {"x": "field", "lambda": "field",
...                                                  "a": "aggregate"})
(-tanh(a(t)) + Derivative(x(t), t))*lambda(t)
>>> parse_expression("x.__class__", names, source="m.toml", line=7, column_offset=9)
Traceback (most recent call last):
...
stlp_sym.exprparse.ParseError: m.toml:7:10: attribute access is not allowed: 'x.__class__'
>>> parse_number("2*10**-3")
0.002
"""

from __future__ import annotations

import ast
import keyword
import math
import operator
import re
import string
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import sympy as sp
from sympy.core.function import AppliedUndef

from .action import ROLE_INDICATORS, at_end, fn, split_end, t
from .errors import ActionError

MAX_LENGTH = 2000
MAX_DEPTH = 50
MAX_DIGITS = 30
MAX_LITERAL = 1e300
MAX_EXPONENT = 100
MAX_LOG10 = 300  # largest constant power, as a power of ten
MAX_BITS = 1100  # largest numerator or denominator of an exact number (~ 10**331)
MAX_DT_ORDER = 8
KINDS = ("field", "signal", "aggregate", "parameter")

#: The functions an expression may call, each with one argument.
FUNCTIONS: dict[str, Callable[[sp.Expr], sp.Expr]] = {
    "exp": sp.exp,
    "log": sp.log,
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "tanh": sp.tanh,
    "sinh": sp.sinh,
    "cosh": sp.cosh,
    "asin": sp.asin,
    "acos": sp.acos,
    "atan": sp.atan,
    "sqrt": sp.sqrt,
    "abs": sp.Abs,
    "sign": sp.sign,
}
SPECIAL_FORMS = ("Dt", "src", "dst", "in_sum", "out_sum")

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}
_BINARY |= {ast.Div: operator.truediv, ast.Pow: operator.pow}
_GROUPS = {ast.Add: "sum", ast.Sub: "sum", ast.Mult: "product", ast.Div: "product"}
_OPERATOR_TEXT = {
    ast.Mod: "%",
    ast.FloorDiv: "//",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.Not: "not",
    ast.Invert: "~",
}
_REJECTED = {
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "subscripts are not allowed",
    ast.Slice: "slices are not allowed",
    ast.Lambda: "lambda expressions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "boolean operators (and, or) are not allowed",
    ast.IfExp: "conditional expressions are not allowed",
    ast.Starred: "starred expressions are not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.List: "lists are not allowed",
    ast.Tuple: "tuples (a comma outside a call) are not allowed",
    ast.Set: "sets are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
}
_NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*")
_OPEN, _CLOSE = "([{", ")]}"
# Same-length stand-ins for declared names that are Python keywords (``lambda``): ast.parse
# would read the keyword. They start with "_", which no name in the text may.
_KEYWORD_STANDINS = {
    kw: "_" + string.ascii_letters[i] + "0" * (len(kw) - 2)
    for i, kw in enumerate(sorted(keyword.kwlist))
}


class ParseError(ActionError):
    """An expression string that the whitelist parser refuses, with its source position."""


@dataclass(frozen=True)
class _Source:
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


def _line_col(text: str, index: int) -> tuple[int, int]:
    lineno = text.count("\n", 0, index) + 1
    return lineno, index - (text.rfind("\n", 0, index) + 1)


def _scan(src: _Source) -> None:
    """Refuse, before parsing, what no expression contains: odd characters, strings, deep or
    unbalanced brackets."""
    text, stack = src.text, []
    for index, char in enumerate(text):
        if char in "'\"":
            raise src.error("strings are not allowed", *_line_col(text, index))
        if not (char.isascii() and (char.isprintable() or char in "\n\t")):
            raise src.error(f"character {char!r} is not allowed", *_line_col(text, index))
        if char in _OPEN:
            stack.append((char, index))
            if len(stack) > MAX_DEPTH:
                problem = f"brackets nested more than {MAX_DEPTH} deep"
                raise src.error(problem, *_line_col(text, index))
        elif char in _CLOSE:
            if not stack or _OPEN.index(stack[-1][0]) != _CLOSE.index(char):
                raise src.error(f"unmatched {char!r}", *_line_col(text, index))
            stack.pop()
    if stack:
        raise src.error(f"{stack[-1][0]!r} is never closed", *_line_col(text, stack[-1][1]))


def _rewrite_names(src: _Source, declared: Mapping[str, object]) -> tuple[str, dict[str, str]]:
    """Refuse names starting with ``_`` (dunders); replace declared keywords by stand-ins."""
    pieces, standins, last = [], {}, 0
    for match in _NAME.finditer(src.text):
        name = match.group()
        if name.startswith("_"):
            problem = "names starting with '_' (such as dunder names) are not allowed"
            lineno, col = _line_col(src.text, match.start())
            raise src.error(problem, lineno, col, (lineno, col + len(name)))
        if keyword.iskeyword(name) and name in declared:
            standin = _KEYWORD_STANDINS[name]
            standins[standin] = name
            pieces += [src.text[last : match.start()], standin]
            last = match.end()
    return "".join([*pieces, src.text[last:]]), standins


def _syntax_tree(src: _Source, text: str) -> ast.expr:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # parentheses allow line breaks and leading blanks; "\n" ends a trailing comment
            tree = ast.parse(f"({text}\n)", mode="eval")
    except SyntaxError as exc:
        lines = src.text.split("\n")
        lineno, offset = exc.lineno or 1, max((exc.offset or 1) - 1, 0)
        col = max(offset - 1, 0) if lineno == 1 else offset
        if lineno > len(lines):  # at the closing parenthesis we added: the end of the text
            lineno, col = len(lines), len(lines[-1])
        detail = "" if exc.msg == "invalid syntax" else f" ({exc.msg})"
        raise src.error(f"invalid syntax{detail}", lineno, col) from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        raise src.error(f"cannot parse ({type(exc).__name__})", 1, 0, (1, 60)) from None
    return tree.body


@dataclass
class _Builder:
    """Walks a whitelisted syntax tree into SymPy."""

    src: _Source
    names: Mapping[str, str]
    aliases: Mapping[str, sp.Expr]
    standins: Mapping[str, str]
    allow_sums: bool = False
    direction: str | None = field(default=None, init=False)

    def build(self, node: ast.AST, depth: int = 0) -> sp.Expr:
        if depth > MAX_DEPTH:
            raise self.src.node_error(f"expression nested more than {MAX_DEPTH} deep", node)
        if isinstance(node, ast.BinOp):
            return self._binary(node, depth)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Constant):
            return self._constant(node)
        what = _REJECTED.get(type(node), f"{type(node).__name__} expressions are not allowed")
        raise self.src.node_error(what, node)

    # ---- leaves ------------------------------------------------------------------------------

    def _constant(self, node: ast.Constant) -> sp.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float | complex):
            raise self.src.node_error(f"{type(value).__name__} literals are not allowed", node)
        if isinstance(value, complex):
            raise self.src.node_error("complex numbers are not allowed", node)
        if isinstance(value, int):
            if abs(value) >= 10**MAX_DIGITS:
                problem = f"integer literal with more than {MAX_DIGITS} digits"
                raise self.src.node_error(problem, node)
            return sp.Integer(value)
        if not math.isfinite(value) or abs(value) > MAX_LITERAL:
            raise self.src.node_error(f"number literal beyond {MAX_LITERAL:g}", node)
        return sp.Float(value)

    def _name(self, node: ast.Name) -> sp.Expr:
        name = self.standins.get(node.id, node.id)
        if name in self.names:
            kind = self.names[name]
            return sp.Symbol(name) if kind == "parameter" else fn(name)
        if name in self.aliases:
            return self.aliases[name]
        if name == "t":
            return t
        role = ROLE_INDICATORS.get(name[3:]) if name.startswith("is_") else None
        if role is not None:
            return role
        if name in FUNCTIONS or name in SPECIAL_FORMS:
            raise self.src.node_error(f"{name} is a function: call it, as {name}(...)", node)
        raise self.src.node_error(f"unknown name {name!r}; {self._known()}", node)

    def _known(self) -> str:
        declared = sorted({*self.names, *self.aliases})
        shown = ", ".join(declared[:12]) + (", ..." if len(declared) > 12 else "")
        if not declared:
            return "no names are declared here"
        return f"declared names are {shown} (and t, is_input, is_output, is_hidden, is_free)"

    # ---- operators ---------------------------------------------------------------------------

    def _binary(self, node: ast.BinOp, depth: int) -> sp.Expr:
        op = type(node.op)
        if op not in _BINARY:
            text = _OPERATOR_TEXT.get(op, op.__name__)
            raise self.src.node_error(f"operator {text!r} is not allowed", node)
        if op is ast.Pow:  # right-associative: a chain nests, and counts as depth
            base = self.build(node.left, depth + 1)
            exponent = self.build(node.right, depth + 1)
            return self._power(base, exponent, node)
        # a left-associative chain a + b - c + ... is walked iteratively, not as nesting
        chain: list[ast.BinOp] = []
        left: ast.AST = node
        while isinstance(left, ast.BinOp) and _GROUPS.get(type(left.op)) == _GROUPS[op]:
            chain.append(left)
            left = left.left
        value = self.build(left, depth + 1)
        for link in reversed(chain):
            right = self.build(link.right, depth + 1)
            if isinstance(link.op, ast.Div) and right == 0:
                raise self.src.node_error("division by zero", link)
            value = self._checked(_BINARY[type(link.op)](value, right), link)
        return value

    def _power(self, base: sp.Expr, exponent: sp.Expr, node: ast.BinOp) -> sp.Expr:
        if isinstance(exponent, sp.Number):
            if abs(exponent) > MAX_EXPONENT:
                raise self.src.node_error(f"exponent beyond +-{MAX_EXPONENT}", node)
            if isinstance(base, sp.Number) and _log10(base) * abs(float(exponent)) > MAX_LOG10:
                raise self.src.node_error(f"constant power beyond 10**{MAX_LOG10}", node)
        return self._checked(operator.pow(base, exponent), node, finite=True)

    def _unary(self, node: ast.UnaryOp, depth: int) -> sp.Expr:
        if isinstance(node.op, ast.USub):
            return self._checked(-self.build(node.operand, depth + 1), node)
        if isinstance(node.op, ast.UAdd):
            return self.build(node.operand, depth + 1)
        text = _OPERATOR_TEXT.get(type(node.op), type(node.op).__name__)
        raise self.src.node_error(f"operator {text!r} is not allowed", node)

    def _checked(self, value: sp.Expr, node: ast.AST, finite: bool = False) -> sp.Expr:
        """Refuse huge numbers and (with ``finite``, after a power or a function) infinities."""
        coefficient = value if isinstance(value, sp.Number) else value.as_coeff_Mul()[0]
        if coefficient.is_Rational:
            if max(coefficient.p.bit_length(), coefficient.q.bit_length()) > MAX_BITS:
                raise self.src.node_error(f"number beyond 10**{MAX_LOG10}", node)
        elif isinstance(coefficient, sp.Float) and not abs(coefficient) <= MAX_LITERAL:
            raise self.src.node_error(f"number beyond {MAX_LITERAL:g}", node)
        if finite and value.has(sp.zoo, sp.nan, sp.oo, sp.S.NegativeInfinity):
            raise self.src.node_error("infinite or undefined value (division by zero?)", node)
        return value

    # ---- calls -------------------------------------------------------------------------------

    def _call(self, node: ast.Call, depth: int) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.src.node_error("only named functions may be called", node)
        name = self.standins.get(node.func.id, node.func.id)
        if node.keywords:
            raise self.src.node_error(f"keyword arguments are not allowed in {name}(...)", node)
        if name in ("in_sum", "out_sum"):
            return self._sum(name, node, depth)
        if name == "Dt":
            return self._derivative(node, depth)
        if name in ("src", "dst"):
            inner = self.build(self._one_argument(name, node), depth + 1)
            try:
                return at_end(inner, name)
            except ActionError:
                raise self.src.node_error(f"{name}(...) cannot be nested", node) from None
        if name in FUNCTIONS:
            inner = self.build(self._one_argument(name, node), depth + 1)
            return self._checked(FUNCTIONS[name](inner), node, finite=True)
        if name in self.names:
            kind = self.names[name]
            problem = f"{name} is a {kind}, not a function: write {name}, not {name}(...)"
            raise self.src.node_error(problem, node)
        allowed = ", ".join([*FUNCTIONS, "Dt", "src", "dst"])
        raise self.src.node_error(f"unknown function {name!r}; allowed: {allowed}", node)

    def _one_argument(self, name: str, node: ast.Call) -> ast.AST:
        if len(node.args) != 1:
            raise self.src.node_error(f"{name}(...) takes exactly one argument", node)
        return node.args[0]

    def _sum(self, name: str, node: ast.Call, depth: int) -> sp.Expr:
        if not self.allow_sums or depth != 0:
            problem = (
                f"{name}(...) may only be the whole definition of an aggregate, "
                'as in a = "in_sum(w * src(x))"'
            )
            raise self.src.node_error(problem, node)
        self.direction = "in" if name == "in_sum" else "out"
        self.allow_sums = False
        return self.build(self._one_argument(name, node), depth + 1)

    def _derivative(self, node: ast.Call, depth: int) -> sp.Expr:
        if not 1 <= len(node.args) <= 2:
            raise self.src.node_error("Dt takes one or two arguments: Dt(x) or Dt(x, k)", node)
        order = 1
        if len(node.args) == 2:
            k = node.args[1]
            value = k.value if isinstance(k, ast.Constant) else None
            if isinstance(value, bool) or not isinstance(value, int):
                problem = f"the order k of Dt(x, k) must be an integer 1..{MAX_DT_ORDER}"
                raise self.src.node_error(problem, k)
            order = value
        inner = self.build(node.args[0], depth + 1)
        quantity = inner.expr if isinstance(inner, sp.Derivative) else inner
        total = order + (inner.derivative_count if isinstance(inner, sp.Derivative) else 0)
        if order < 1 or total > MAX_DT_ORDER:
            raise self.src.node_error(f"derivative order must be 1..{MAX_DT_ORDER}", node)
        if not isinstance(quantity, AppliedUndef):
            problem = "Dt(...) differentiates a field or signal, e.g. Dt(x) or Dt(src(x))"
            raise self.src.node_error(problem, node)
        base, _ = split_end(quantity.func.__name__)
        if self.names.get(base) == "aggregate":
            problem = f"aggregate {base!r} may not be differentiated; differentiate its fields"
            raise self.src.node_error(problem, node)
        return inner.diff(t, order)


def _log10(number: sp.Number) -> float:
    """``log10 |number|`` without forming a float that could overflow."""
    if number.is_Rational:
        p, q = abs(int(number.p)), int(number.q)
        if p == 0:
            return 0.0
        return (p.bit_length() - q.bit_length()) * math.log10(2) + 1
    value = abs(float(number))
    return math.log10(value) if value > 0 else 0.0


def _source(text: object, source: str, line: int, column_offset: int, where: str) -> _Source:
    if not isinstance(text, str):
        raise ParseError(f"{source}:{line}: {where + ': ' if where else ''}expected a string")
    text = text.replace("\r\n", "\n")
    src = _Source(text, source, line, column_offset, where)
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
    src: _Source,
    names: Mapping[str, str],
    aliases: Mapping[str, sp.Expr] | None,
    allow_sums: bool,
) -> tuple[sp.Expr, str | None]:
    _check_names(names)
    aliases = dict(aliases or {})
    _scan(src)
    rewritten, standins = _rewrite_names(src, {**names, **aliases})
    tree = _syntax_tree(src, rewritten)
    builder = _Builder(src, names, aliases, standins, allow_sums=allow_sums)
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
    names : each declared name and its kind: ``"field"``, ``"signal"``, ``"aggregate"``
        (these become ``name(t)``) or ``"parameter"`` (a plain symbol).
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
    stlp_sym.exprparse.ParseError: <expr>:1:4: exponent beyond +-100: '9**9**9'
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
        value = _to_float(expr)
    except (OverflowError, ValueError, ZeroDivisionError, TypeError, RecursionError):
        value = math.nan
    if not math.isfinite(value):
        raise src.error("not a finite real number", 1, 0, (1, 60))
    return value


_FLOAT_FUNCTIONS: dict[type, Callable[[float], float]] = {
    sp.exp: math.exp,
    sp.log: math.log,
    sp.sin: math.sin,
    sp.cos: math.cos,
    sp.tan: math.tan,
    sp.tanh: math.tanh,
    sp.sinh: math.sinh,
    sp.cosh: math.cosh,
    sp.asin: math.asin,
    sp.acos: math.acos,
    sp.atan: math.atan,
    sp.Abs: abs,
    sp.sign: lambda v: math.copysign(1.0, v) if v else 0.0,
}


def _to_float(expr: sp.Expr) -> float:
    """Evaluate a constant SymPy expression in floats (raises on overflow or a complex value)."""
    if isinstance(expr, sp.Rational):
        return int(expr.p) / int(expr.q)
    if isinstance(expr, sp.Float | sp.NumberSymbol):
        return float(expr)
    args = [_to_float(a) for a in expr.args]
    if isinstance(expr, sp.Add):
        return math.fsum(args)
    if isinstance(expr, sp.Mul):
        return math.prod(args)
    if isinstance(expr, sp.Pow):
        value = args[0] ** args[1]
        if not isinstance(value, float | int):
            raise ValueError("complex power")
        return float(value)
    if type(expr) in _FLOAT_FUNCTIONS and len(args) == 1:
        return float(_FLOAT_FUNCTIONS[type(expr)](args[0]))
    raise ValueError(f"cannot evaluate {type(expr).__name__}")
