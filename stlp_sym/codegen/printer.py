"""The NumPy printer: one SymPy expression over plain symbols -> one line of NumPy.

Only a fixed list of functions is printed; anything else is refused at the IR boundary
(:func:`check_supported`), so no SymPy construct reaches generated code unnoticed. The
non-linearities print in numerically stable forms (:data:`STABLE_FORMS`): ``softplus(a)`` is
``np.logaddexp(0, a)``, never ``log(1 + exp(a))``, which overflows for large ``a``. NumPy has no
``erf``: array code applies ``math.erf`` (correctly rounded to about 1e-16) to each entry, and the
compiled loops of the numba backend, which print with ``scalar=True``, call it directly.

>>> import sympy as sp
>>> x, c = sp.symbols("x c")
>>> numpy_code(c * sp.tanh(x) ** 2 - sp.Rational(1, 2) * sp.exp(-x))
'-np.exp(-x)/2 + c*np.tanh(x)**2'
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.str import StrPrinter

from ..errors import StructureError
from ..symbolic import functions as nonlinear

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
    nonlinear.log1p: "log1p",
    nonlinear.expm1: "expm1",
}
#: SymPy function -> its stable NumPy form, ``{0}`` standing for the printed argument and
#: ``{1}`` for its negative.
STABLE_FORMS: dict[type, str] = {
    nonlinear.softplus: "np.logaddexp(0, {0})",
    nonlinear.sigmoid: "np.exp(-np.logaddexp(0, {1}))",
    nonlinear.logsigmoid: "(-np.logaddexp(0, {1}))",
    sp.erf: "np.vectorize(math.erf, otypes=[float])({0})",
}
#: The same for code on scalars (the numba backend's loops), where they differ.
SCALAR_FORMS: dict[type, str] = {sp.erf: "math.erf({0})"}
#: Functions of several arguments, printed by :class:`NumPyCodePrinter` methods.
_OTHERS = (sp.Max, sp.Min, sp.Heaviside)
_ATOMS = (sp.Symbol, sp.Number, sp.NumberSymbol)
_OPERATORS = (sp.Add, sp.Mul, sp.Pow)


def check_supported(expr: sp.Expr, where: str) -> None:
    """Raise :class:`StructureError` for a construct the NumPy printer cannot emit."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, _ATOMS + _OPERATORS + _OTHERS) or type(node) in FUNCTIONS:
            continue
        if type(node) in STABLE_FORMS:
            continue
        if node in (sp.S.true, sp.S.false) or isinstance(node, sp.Tuple):
            continue
        raise StructureError(
            f"{where}: {type(node).__name__} ({node}) cannot be turned into NumPy code; "
            f"supported functions: {', '.join(supported_names())}"
        )


def supported_names() -> list[str]:
    """The names of the functions generated code can compute, sorted."""
    others = ["Heaviside", "Max", "Min"]
    return sorted([*FUNCTIONS.values(), *(f.__name__ for f in STABLE_FORMS), *others])


class NumPyCodePrinter(StrPrinter):
    """Prints ``np.<ufunc>(...)`` calls and float literals; symbols print as their names.

    With ``scalar`` (code on floats, such as numba's compiled loops) ``erf`` is ``math.erf``.
    """

    def __init__(self, settings: dict | None = None, scalar: bool = False):
        super().__init__(settings)
        self.forms = {**STABLE_FORMS, **SCALAR_FORMS} if scalar else STABLE_FORMS

    def _print_Function(self, expr: sp.Function) -> str:
        form = self.forms.get(type(expr))
        if form is not None:
            return form.format(self._print(expr.args[0]), self._print(-expr.args[0]))
        name = FUNCTIONS.get(type(expr))
        if name is None:
            raise StructureError(f"{expr.func} has no NumPy equivalent")
        return f"np.{name}({', '.join(self._print(a) for a in expr.args)})"

    def _print_Max(self, expr: sp.Max) -> str:
        return self._nested("np.maximum", expr.args)

    def _print_Min(self, expr: sp.Min) -> str:
        return self._nested("np.minimum", expr.args)

    def _nested(self, ufunc: str, args: tuple[sp.Expr, ...]) -> str:
        """``ufunc(a, ufunc(b, c))`` for the binary ufunc applied to several arguments."""
        first, *rest = args
        inner = self._print(rest[0]) if len(rest) == 1 else self._nested(ufunc, tuple(rest))
        return f"{ufunc}({self._print(first)}, {inner})"

    def _print_Heaviside(self, expr: sp.Heaviside) -> str:
        """``0, 1/2, 1`` for negative, zero, positive (the mean of the one-sided limits; another
        value ``H0`` at zero, ``Heaviside(a, H0)``, is added where the sign is zero)."""
        sign = f"np.sign({self._print(expr.args[0])})"
        at_zero = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        step = f"0.5*({sign} + 1)"
        if at_zero == sp.S.Half:
            return f"({step})"
        return f"({step} + {self._print(at_zero - sp.S.Half)}*(1 - np.abs({sign})))"

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


def numpy_code(expr: sp.Expr, scalar: bool = False) -> str:
    """One line of NumPy code for ``expr`` (whose symbols are variable names); ``scalar`` for
    code that computes on floats only (``math.erf`` instead of its elementwise form).

    >>> a = sp.Symbol("a")
    >>> numpy_code(nonlinear.relu(a) + nonlinear.softplus(a))
    'np.maximum(0, a) + np.logaddexp(0, a)'
    >>> numpy_code(sp.erf(a), scalar=True), numpy_code(nonlinear.sigmoid(2 * a))
    ('math.erf(a)', 'np.exp(-np.logaddexp(0, -2*a))')
    """
    return NumPyCodePrinter({"order": "none"}, scalar=scalar).doprint(expr)
