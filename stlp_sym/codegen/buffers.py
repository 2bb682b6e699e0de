"""Pass: edge arrays live in reusable work buffers, so that a kernel call allocates nothing.

A kernel's edge-domain values (``|A|`` floats each) go into numbered buffers ``_b[k]`` that the
plan allocates once; a buffer returns to the pool after the last op that reads its value
(liveness from :func:`last_uses`), so a kernel needs as many buffers as values live at once, not
one per value. Edge expressions are written as ufunc calls with ``out=`` (:class:`InPlaceEmitter`).
Node values (``n`` floats) are cheap and stay ordinary NumPy expressions.

>>> import sympy as sp
>>> from stlp_sym.codegen.kernel import Kernel, Op
>>> w, x = sp.symbols("w x__src")
>>> ops = (Op("x__src", "edge", "gather", source="x", end="src"),
...        Op("p", "edge", "expr", w * x),
...        Op("s", "node", "scatter", source="p", end="dst"))
>>> inputs = {"w": ("edge", "jet", "w"), "x": ("node", "jet", "x")}
>>> lines, count = kernel_lines(Kernel(inputs, ops, {"out": "s"}, {}))
>>> for line in lines: print(line)
x__src = gather_src(x, _plan, _b[0])
p = _b[1]
np.multiply(w, x__src, out=_b[1])
s = scatter_dst(p, _plan)
>>> count
2
"""

from __future__ import annotations

import sympy as sp

from .kernel import Kernel, Op
from .printer import FUNCTIONS, numpy_code


def op_line(op: Op) -> str:
    """One op as a line of NumPy (gathers, scatters and sums over every node or arc call the
    pasted runtime helpers)."""
    if op.kind == "gather":
        return f"{op.target} = gather_{op.end}({op.source}, _plan)"
    if op.kind == "scatter":
        return f"{op.target} = scatter_{op.end}({op.source}, _plan)"
    if op.kind == "reduce":
        return f"{op.target} = sum_{op.end}({op.source}, _plan, _lead)"
    return f"{op.target} = {numpy_code(op.expr)}"


def last_uses(kernel: Kernel) -> dict[str, int]:
    """Index of the last op reading each variable (outputs live to the end)."""
    last = {}
    for index, op in enumerate(kernel.ops):
        for name in op.reads:
            last[name] = index
    for name in kernel.outputs.values():
        last[name] = len(kernel.ops)
    return last


def kernel_lines(kernel: Kernel) -> tuple[list[str], int]:
    """The kernel body; edge arrays live in reusable plan buffers ``_b[k]`` (no allocation)."""
    scalars = {v for v, (domain, _, _) in kernel.inputs.items() if domain == "scalar"}
    scalars |= {op.target for op in kernel.ops if op.domain == "scalar"}
    pool, held, lines = BufferPool(), {}, []
    last = last_uses(kernel)
    for index, op in enumerate(kernel.ops):
        if op.domain != "edge":
            lines.append(op_line(op))
            continue
        if op.kind == "gather" and op.end == "dst":
            # np.repeat of the dst-sorted segments beats any gather into a buffer.
            lines.append(f"{op.target} = gather_dst({op.source}, _plan)")
            continue
        held[op.target] = buffer = pool.take()
        if op.kind == "gather":
            lines.append(f"{op.target} = gather_src({op.source}, _plan, {buffer})")
        else:
            lines.append(f"{op.target} = {buffer}")
            lines += InPlaceEmitter(scalars, pool).assign(buffer, op.expr)
        for name in sorted(held):
            if last.get(name, -1) <= index:
                pool.give(held.pop(name))
    return lines, pool.count


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
            # no single ufunc (a stable form, max, a step): computed whole, then copied
            self.lines.append(f"{out}[...] = {numpy_code(expr)}")
            return out
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
