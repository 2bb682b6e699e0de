"""The NumPy printer: one SymPy expression over plain symbols -> one line of NumPy.

Only a fixed list of functions is printed; anything else is refused at the IR boundary
(:func:`check_supported`), so no SymPy construct reaches generated code unnoticed.

>>> import sympy as sp
>>> x, c = sp.symbols("x c")
>>> numpy_code(c * sp.tanh(x) ** 2 - sp.Rational(1, 2) * sp.exp(-x))
'-np.exp(-x)/2 + c*np.tanh(x)**2'
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.str import StrPrinter

from ..errors import StructureError

#: SymPy function -> NumPy ufunc name.
FUNCTIONS: dict[type, str] = {
    sp.exp: "exp",
    sp.log: "log",
    sp.sin: "sin",
    sp.cos: "cos",
    sp.tan: "tan",
    sp.tanh: "tanh",
    sp.sinh: "sinh",
    sp.cosh: "cosh",
    sp.asin: "arcsin",
    sp.acos: "arccos",
    sp.atan: "arctan",
    sp.Abs: "abs",
    sp.sign: "sign",
}
_ATOMS = (sp.Symbol, sp.Number, sp.NumberSymbol)
_OPERATORS = (sp.Add, sp.Mul, sp.Pow)


def check_supported(expr: sp.Expr, where: str) -> None:
    """Raise :class:`StructureError` for a construct the NumPy printer cannot emit."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, _ATOMS + _OPERATORS) or type(node) in FUNCTIONS:
            continue
        if node in (sp.S.true, sp.S.false) or isinstance(node, sp.Tuple):
            continue
        raise StructureError(
            f"{where}: {type(node).__name__} ({node}) cannot be turned into NumPy code; "
            f"supported functions: {', '.join(sorted(FUNCTIONS.values()))}"
        )


class NumPyCodePrinter(StrPrinter):
    """Prints ``np.<ufunc>(...)`` calls and float literals; symbols print as their names."""

    def _print_Function(self, expr: sp.Function) -> str:
        name = FUNCTIONS.get(type(expr))
        if name is None:
            raise StructureError(f"{expr.func} has no NumPy equivalent")
        return f"np.{name}({', '.join(self._print(a) for a in expr.args)})"

    def _print_Rational(self, expr: sp.Rational) -> str:
        return repr(float(expr)) if expr.q != 1 else str(expr.p)

    def _print_Float(self, expr: sp.Float) -> str:
        return repr(float(expr))

    def _print_Exp1(self, expr: sp.Expr) -> str:
        return "np.e"

    def _print_Pi(self, expr: sp.Expr) -> str:
        return "np.pi"

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exponent = expr.args
        if exponent == sp.S.Half:
            return f"np.sqrt({self._print(base)})"
        if exponent == -sp.S.Half:
            return f"1/np.sqrt({self._print(base)})"
        if exponent.is_Rational and exponent.q != 1:
            exponent = sp.Float(exponent)
        return super()._print_Pow(sp.Pow(base, exponent, evaluate=False), rational=False)


def numpy_code(expr: sp.Expr) -> str:
    """One line of NumPy code for ``expr`` (whose symbols are variable names)."""
    return NumPyCodePrinter({"order": "none"}).doprint(expr)
