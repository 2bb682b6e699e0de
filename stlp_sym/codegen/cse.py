"""Pass: common-subexpression elimination per domain, before a kernel is scheduled.

Each domain's expressions go through :func:`sympy.cse` together, so a product used by several
edge outputs is computed once per arc; temporaries are named ``_ncN`` (node) / ``_ecN`` (edge) /
``_gcN`` (global) and typed by the widest domain they read (scalar < global < node < edge).

>>> import sympy as sp
>>> w, x = sp.symbols("w x__src")
>>> ops = [Op("a", "edge", "expr", sp.tanh(w * x)), Op("b", "edge", "expr", 2 * sp.tanh(w * x))]
>>> [str(op) for op in common_subexpressions(ops, {"w": "edge", "x__src": "edge"})]
['edge _ec0 = tanh(w*x__src)', 'edge a = _ec0', 'edge b = 2*_ec0']
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from .kernel import Domain, Op


def domain_of(expr: sp.Expr, domains: Mapping[str, Domain]) -> Domain:
    found = {domains.get(s.name, "scalar") for s in expr.free_symbols}
    return next((d for d in ("edge", "node", "global") if d in found), "scalar")


def common_subexpressions(ops: list[Op], input_domains: Mapping[str, Domain]) -> list[Op]:
    """CSE per domain; temporaries are named ``_ncN`` / ``_ecN`` / ``_gcN`` and typed by what
    they read."""
    result = list(ops)
    for domain in ("node", "edge", "global"):
        indices = [i for i, op in enumerate(result) if op.kind == "expr" and op.domain == domain]
        if not indices:
            continue
        symbols = sp.numbered_symbols(f"_{domain[0]}c")
        replacements, reduced = sp.cse([result[i].expr for i in indices], symbols=symbols)
        domains = {**input_domains, **{op.target: op.domain for op in result}}
        temps = []
        for symbol, value in replacements:
            kind = domain_of(value, domains)
            domains[symbol.name] = kind
            temps.append(Op(symbol.name, kind, "expr", value))
        for i, expr in zip(indices, reduced, strict=True):
            result[i] = Op(result[i].target, result[i].domain, "expr", expr)
        result = temps + result
    return result
