"""The kernel IR: ops typed by domain, the :class:`Kernel` they form, and the passes over them.

Lowering (:mod:`stlp_sym.codegen.lowering`) emits :class:`Op` records; the passes here run on the
list of ops before it becomes a :class:`Kernel`: CSE per domain (temporaries ``_ncN`` / ``_ecN``),
scheduling (each op after what it reads) and hop counts (gathers and scatters on the longest path to
each variable). Also the naming of variables: :func:`identifier`, :func:`jet_name` and the scale
argument :data:`SCALE`. :mod:`stlp_sym.codegen.ir` re-exports the public names.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import sympy as sp

from ..errors import StructureError

Domain = Literal["scalar", "node", "edge"]
#: The ``rhs`` kernel's outputs are multiplied by this argument (default 1).
SCALE = sp.Symbol("_scale")


def identifier(name: str) -> str:
    """A Python identifier for a variable name (``lambda`` -> ``lambda_``)."""
    return f"{name}_" if keyword.iskeyword(name) else name


def jet_name(base: str, order: int) -> str:
    """``x`` for order 0, ``x_dK`` for the K-th time derivative."""
    return base if order == 0 else f"{base}_d{order}"


@dataclass(frozen=True)
class Op:
    """One IR instruction.

    ``kind`` is ``"expr"`` (``target = expr``), ``"gather"`` (``target = source[end]``, node to
    edge) or ``"scatter"`` (``target = sum of source over arcs into dst (end "dst") or out of
    src (end "src")``, edge to node).
    """

    target: str
    domain: Domain
    kind: Literal["expr", "gather", "scatter"]
    expr: sp.Expr | None = None
    source: str | None = None
    end: Literal["src", "dst"] | None = None

    @property
    def reads(self) -> set[str]:
        """The variables this op reads."""
        if self.kind == "expr":
            return {s.name for s in self.expr.free_symbols}
        return {self.source}


@dataclass(frozen=True)
class Kernel:
    """A straight-line program: ``ops`` in execution order, from ``inputs`` to ``outputs``.

    ``inputs`` maps each variable read from outside to ``(domain, source, key)``: source is
    ``"jet"``, ``"signal"``, ``"role"``, ``"param"``, ``"time"`` or ``"argument"`` (the scale
    factor ``_scale``), key the name it is read by.
    ``outputs`` maps output names to the variable holding them; ``hops`` counts gathers and
    scatters on the longest path to each output (its neighbourhood radius); ``domains`` the
    domain (``node`` or ``edge``) of each output, which a value computed from parameters only
    must still fill.
    """

    inputs: Mapping[str, tuple[Domain, str, str]]
    ops: tuple[Op, ...]
    outputs: Mapping[str, str]
    hops: Mapping[str, int]
    domains: Mapping[str, Domain] = field(default_factory=dict)


def _domain_of(expr: sp.Expr, domains: Mapping[str, Domain]) -> Domain:
    found = {domains.get(s.name, "scalar") for s in expr.free_symbols}
    return "edge" if "edge" in found else "node" if "node" in found else "scalar"


def common_subexpressions(ops: list[Op], input_domains: Mapping[str, Domain]) -> list[Op]:
    """CSE per domain; temporaries are named ``_ncN`` / ``_ecN`` and typed by what they read."""
    result = list(ops)
    for domain in ("node", "edge"):
        indices = [i for i, op in enumerate(result) if op.kind == "expr" and op.domain == domain]
        if not indices:
            continue
        symbols = sp.numbered_symbols(f"_{domain[0]}c")
        replacements, reduced = sp.cse([result[i].expr for i in indices], symbols=symbols)
        domains = {**input_domains, **{op.target: op.domain for op in result}}
        temps = []
        for symbol, value in replacements:
            kind = _domain_of(value, domains)
            domains[symbol.name] = kind
            temps.append(Op(symbol.name, kind, "expr", value))
        for i, expr in zip(indices, reduced, strict=True):
            result[i] = Op(result[i].target, result[i].domain, "expr", expr)
        result = temps + result
    return result


def schedule(ops: list[Op], inputs: set[str]) -> list[Op]:
    """Order ops so that each comes after what it reads (stable otherwise)."""
    pending, done, ordered = list(ops), set(inputs), []
    while pending:
        ready = [op for op in pending if op.reads <= done | {"t"}]
        if not ready:
            missing = sorted(set().union(*(op.reads for op in pending)) - done)
            raise StructureError(f"lowering produced a cycle or undefined variables: {missing}")
        for op in ready:
            ordered.append(op)
            done.add(op.target)
        pending = [op for op in pending if op.target not in done]
    return ordered


def count_hops(ops: list[Op]) -> dict[str, int]:
    hops: dict[str, int] = {}
    for op in ops:
        base = max((hops.get(name, 0) for name in op.reads), default=0)
        hops[op.target] = base + (op.kind != "expr")
    return hops
