"""The tree stage of the expression parser: the whitelist walk of a syntax tree into SymPy.

:class:`TreeBuilder` accepts numbers, declared names, ``+ - * / **``, the calls of
:data:`FUNCTIONS` and the special forms (``Dt``, ``src``, ``dst``, ``in_sum``, ``out_sum``), and
refuses every other node with a message naming its position (:mod:`stlp_sym.parse.expressions`).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import ActionError
from ..symbolic import functions as nonlinear
from ..symbolic.size import MAX_TERMS, expanded_terms
from ..symbolic.vocabulary import ROLE_INDICATORS, at_end, fn, split_end, t
from .scan import (
    MAX_BITS,
    MAX_CALL_DEPTH,
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_DT_ORDER,
    MAX_EXPONENT,
    MAX_LITERAL,
    MAX_LOG10,
)

if TYPE_CHECKING:
    from .expressions import SourceText


#: The functions an expression may call, with one argument (two for those in :data:`ARITY`).
FUNCTIONS: dict[str, Callable[..., sp.Expr]] = {
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
    "heaviside": nonlinear.heaviside,
    "max": sp.Max,
    "min": sp.Min,
    "relu": nonlinear.relu,
    "erf": nonlinear.erf,
    "sigmoid": nonlinear.sigmoid,
    "softplus": nonlinear.softplus,
    "logsigmoid": nonlinear.logsigmoid,
    "log1p": nonlinear.log1p,
    "expm1": nonlinear.expm1,
}
#: The functions of :data:`FUNCTIONS` that take two arguments.
ARITY: dict[str, int] = {"max": 2, "min": 2}
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


@dataclass
class TreeBuilder:
    """Walks a whitelisted syntax tree into SymPy."""

    src: SourceText
    names: Mapping[str, str]
    aliases: Mapping[str, sp.Expr]
    standins: Mapping[str, str]
    allow_sums: bool = False
    direction: str | None = field(default=None, init=False)
    calls: int = field(default=0, init=False)

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
            if isinstance(link.op, ast.Div) and (right == 0 or right.is_zero):
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
        """Refuse huge numbers, (with ``finite``, after a power or a function) infinities, and
        any constant that is not a finite real of magnitude at most ``MAX_LITERAL`` (a root of
        a negative number, ``acos(9)``, ``sinh(10**29)``): constants are evaluated in floating
        point where they are formed."""
        coefficient = value if isinstance(value, sp.Number) else value.as_coeff_Mul()[0]
        if coefficient.is_Rational:
            if max(coefficient.p.bit_length(), coefficient.q.bit_length()) > MAX_BITS:
                raise self.src.node_error(f"number beyond 10**{MAX_LOG10}", node)
        elif isinstance(coefficient, sp.Float) and not abs(coefficient) <= MAX_LITERAL:
            raise self.src.node_error(f"number beyond {MAX_LITERAL:g}", node)
        if finite and value.has(sp.zoo, sp.nan, sp.oo, sp.S.NegativeInfinity):
            raise self.src.node_error("infinite or undefined value (division by zero?)", node)
        if value.is_number:
            problem = constant_problem(value)
            if problem is not None:
                raise self.src.node_error(problem, node)
        terms = expanded_terms(value)
        if terms > MAX_TERMS:
            problem = f"expands into about {terms} terms, more than {MAX_TERMS} (a power of a sum?)"
            raise self.src.node_error(problem, node)
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
            self.calls += 1
            if self.calls > MAX_CALL_DEPTH:
                problem = f"function calls nested more than {MAX_CALL_DEPTH} deep"
                raise self.src.node_error(problem, node)
            inner = [self.build(arg, depth + 1) for arg in self._arguments(name, node)]
            self.calls -= 1
            return self._checked(FUNCTIONS[name](*inner), node, finite=True)
        if name in self.names:
            kind = self.names[name]
            problem = f"{name} is a {kind}, not a function: write {name}, not {name}(...)"
            raise self.src.node_error(problem, node)
        allowed = ", ".join([*FUNCTIONS, "Dt", "src", "dst"])
        raise self.src.node_error(f"unknown function {name!r}; allowed: {allowed}", node)

    def _arguments(self, name: str, node: ast.Call) -> list[ast.AST]:
        """The arguments of a call of :data:`FUNCTIONS`, as many as the function takes."""
        count = ARITY.get(name, 1)
        if len(node.args) != count:
            takes = "exactly one argument" if count == 1 else f"{count} arguments: {name}(a, b)"
            raise self.src.node_error(f"{name}(...) takes {takes}", node)
        return list(node.args)

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
    sp.Heaviside: lambda v: 1.0 if v > 0 else 0.0 if v < 0 else 0.5,
    sp.erf: math.erf,
    nonlinear.sigmoid: lambda v: math.exp(-_softplus(-v)),
    nonlinear.softplus: lambda v: _softplus(v),
    nonlinear.logsigmoid: lambda v: -_softplus(-v),
    nonlinear.log1p: math.log1p,
    nonlinear.expm1: math.expm1,
}


def _softplus(value: float) -> float:
    """``log(1 + exp(value))`` without overflow."""
    return max(value, 0.0) + math.log1p(math.exp(-abs(value)))


def to_float(expr: sp.Expr) -> float:
    """Evaluate a constant SymPy expression in floats.

    Raises ``OverflowError``, ``ValueError`` (a complex value, a value outside a function's
    domain) or ``ZeroDivisionError``; never calls SymPy's arbitrary-precision evaluation, so it
    takes time linear in the size of ``expr``.
    """
    if isinstance(expr, sp.Rational):
        return int(expr.p) / int(expr.q)
    if isinstance(expr, sp.Float | sp.NumberSymbol):
        return float(expr)
    args = [to_float(a) for a in expr.args]
    if isinstance(expr, sp.Add):
        return math.fsum(args)
    if isinstance(expr, sp.Mul):
        return math.prod(args)
    if isinstance(expr, sp.Pow):
        value = args[0] ** args[1]
        if not isinstance(value, float | int):
            raise ValueError("a complex power (a root of a negative number?)")
        return float(value)
    if type(expr) in _FLOAT_FUNCTIONS and len(args) == 1:
        return float(_FLOAT_FUNCTIONS[type(expr)](args[0]))
    if isinstance(expr, sp.Max | sp.Min) and args:
        return float(max(args) if isinstance(expr, sp.Max) else min(args))
    raise ValueError(f"{expr} is not a real number")


def constant_problem(value: sp.Expr) -> str | None:
    """Why a constant is not a finite real of magnitude at most ``MAX_LITERAL``, or None."""
    try:
        number = to_float(value)
    except OverflowError:
        return f"constant beyond {MAX_LITERAL:g}"
    except ZeroDivisionError:
        return "division by zero"
    except (ValueError, TypeError, RecursionError) as exc:
        detail = "math domain error" if "math domain" in str(exc) else str(exc)
        return f"not a finite real number ({detail})"
    if not math.isfinite(number) or abs(number) > MAX_LITERAL:
        return f"constant beyond {MAX_LITERAL:g}"
    return None


def _log10(number: sp.Number) -> float:
    """``log10 |number|`` without forming a float that could overflow."""
    if number.is_Rational:
        p, q = abs(int(number.p)), int(number.q)
        # math.log10 of a Python int of any size is exact to rounding, and forms no float
        return math.log10(p) - math.log10(q) if p else 0.0
    value = abs(float(number))
    return math.log10(value) if value > 0 else 0.0
