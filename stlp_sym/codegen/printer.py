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


class BufferPool:
    """Numbered edge-sized work buffers of the plan, handed out and taken back."""

    def __init__(self) -> None:
        self.free: list[int] = []
        self.count = 0

    def take(self) -> str:
        if self.free:
            return f"_b[{self.free.pop()}]"
        self.count += 1
        return f"_b[{self.count - 1}]"

    def give(self, buffer: str) -> None:
        self.free.append(int(buffer[3:-1]))
        self.free.sort(reverse=True)  # reuse low numbers first: deterministic output


class InPlaceEmitter:
    """Edge-domain expressions as ufunc calls writing into preallocated buffers.

    NumPy's operators allocate a fresh array per operation; on a million arcs the allocations
    (and their page faults) cost more than the arithmetic. Every operation here writes into a
    buffer of the pool (``out=``), scalar factors are folded into one Python float first, and
    ``a - s*b`` becomes a multiply and a subtract.

    >>> x, y, c = sp.symbols("x y c")
    >>> emitter = InPlaceEmitter({"c"}, BufferPool())
    >>> for line in emitter.assign("_b[0]", c * x * y - x): print(line)
    np.multiply(x, y, out=_b[0])
    np.multiply(_b[0], c, out=_b[0])
    np.subtract(_b[0], x, out=_b[0])
    """

    def __init__(self, scalars: set[str], pool: BufferPool):
        self.scalars = scalars
        self.pool = pool
        self.lines: list[str] = []

    def is_scalar(self, expr: sp.Expr) -> bool:
        return all(s.name in self.scalars for s in expr.free_symbols)

    def assign(self, out: str, expr: sp.Expr) -> list[str]:
        """Lines that leave the value of ``expr`` in the buffer ``out``."""
        self.lines = []
        result = self.emit(expr, out)
        if result != out:
            self.lines.append(f"np.copyto({out}, {result})")
        return self.lines

    def emit(self, expr: sp.Expr, out: str) -> str:
        """Compute ``expr`` into ``out`` if needed; return where its value is."""
        if isinstance(expr, sp.Symbol) and not self.is_scalar(expr):
            return expr.name
        if self.is_scalar(expr):
            self.lines.append(f"{out}[...] = {numpy_code(expr)}")
            return out
        if expr.is_Add:
            return self._add(expr, out)
        if expr.is_Mul:
            return self._mul(expr, out)
        if expr.is_Pow and expr.exp == 2:
            value = self.emit(expr.base, out)
            self.lines.append(f"np.multiply({value}, {value}, out={out})")
            return out
        if expr.is_Pow:
            value = self.emit(expr.base, out)
            self.lines.append(f"np.power({value}, {numpy_code(expr.exp)}, out={out})")
            return out
        name = FUNCTIONS.get(type(expr))
        if name is None or len(expr.args) != 1:
            raise StructureError(f"{expr} cannot be turned into NumPy code")
        value = self.emit(expr.args[0], out)
        self.lines.append(f"np.{name}({value}, out={out})")
        return out

    def _operand(self, expr: sp.Expr) -> tuple[str, str | None]:
        """The value of a sub-expression, in a fresh buffer if it must be computed."""
        if isinstance(expr, sp.Symbol) or self.is_scalar(expr):
            return numpy_code(expr), None
        buffer = self.pool.take()
        return self.emit(expr, buffer), buffer

    def _combine(self, ufunc: str, acc: str, expr: sp.Expr, out: str) -> None:
        value, buffer = self._operand(expr)
        self.lines.append(f"np.{ufunc}({acc}, {value}, out={out})")
        if buffer is not None:
            self.pool.give(buffer)

    def _add(self, expr: sp.Expr, out: str) -> str:
        scalar = sp.Add(*(a for a in expr.args if self.is_scalar(a)))
        terms = [a.as_coeff_Mul() for a in expr.args if not self.is_scalar(a)]
        # A positive term first, so that no negation is needed.
        terms.sort(key=lambda term: bool(term[0] < 0))
        coeff, rest = terms[0]
        acc = self.emit(coeff * rest, out)
        for coeff, rest in terms[1:]:
            ufunc = "subtract" if bool(coeff < 0) else "add"
            self._combine(ufunc, acc, abs(coeff) * rest, out)
            acc = out
        if scalar != 0:
            self.lines.append(f"np.add({acc}, {numpy_code(scalar)}, out={out})")
            acc = out
        return acc

    def _mul(self, expr: sp.Expr, out: str) -> str:
        scalar = sp.Mul(*(a for a in expr.args if self.is_scalar(a)))
        factors = [a for a in expr.args if not self.is_scalar(a)]
        acc = self.emit(factors[0], out)
        for factor in factors[1:]:
            if factor.is_Pow and factor.exp == -1:
                self._combine("divide", acc, factor.base, out)
            else:
                self._combine("multiply", acc, factor, out)
            acc = out
        if scalar != 1:
            self.lines.append(f"np.multiply({acc}, {numpy_code(scalar)}, out={out})")
            acc = out
        return acc
