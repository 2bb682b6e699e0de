"""Parameter values that would divide by zero: the denominators a derivation has in its
parameters alone.

Solving for the leading derivatives divides by their coefficients (``w'' = ... / r`` in model
``stlp``), and a model may divide by a parameter itself. A value that makes such a denominator
zero cannot be run; it is found before the run, from the equations, for any model.

>>> from stlp_sym.symbolic.derivation import derive
>>> from stlp_sym.symbolic.models import MODELS
>>> derivation = derive(MODELS["stlp"].build())
>>> parameter_denominators(derivation)
(r,)
>>> zero_denominators(derivation, {"r": 0.0})
[(r, ['r'])]
>>> zero_denominators(derivation, {"r": 0.5, "c": 0.0})
[]
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from .derivation import Derivation


def _denominator_bases(expr: sp.Expr) -> list[sp.Expr]:
    """Every ``b`` with ``b**(-k)`` somewhere in ``expr`` (nested ones included)."""
    return [
        node.base
        for node in sp.preorder_traversal(expr)
        if isinstance(node, sp.Pow) and node.exp.is_negative
    ]


def parameter_denominators(derivation: Derivation) -> tuple[sp.Expr, ...]:
    """The factors of denominators, in the Euler-Lagrange equations and in the explicit
    first-order system (when there is one), that hold parameters and nothing else.

    A factor with a field, a signal, ``t`` or a role indicator in it depends on the run, not
    on the parameters alone, and is left out.
    """
    names = {p.name for p in derivation.action.parameters}
    expressions = [eq.lhs for eq in derivation.equations]
    if derivation.system is not None:
        expressions += list(derivation.system.solution.values())
    found: list[sp.Expr] = []
    for expr in expressions:
        for base in _denominator_bases(expr):
            for factor in sp.Mul.make_args(sp.factor_terms(base)):
                symbols = {s.name for s in factor.free_symbols}
                pure = symbols and symbols <= names and not factor.atoms(sp.Function)
                if pure and factor not in found:
                    found.append(factor)
    return tuple(found)


def zero_denominators(
    derivation: Derivation, values: Mapping[str, float]
) -> list[tuple[sp.Expr, list[str]]]:
    """The denominators of :func:`parameter_denominators` that ``values`` (over the action's
    defaults) make zero, each with the names of the parameters it holds."""
    merged = {**derivation.action.parameter_defaults, **values}
    zeros = []
    for factor in parameter_denominators(derivation):
        names = sorted(s.name for s in factor.free_symbols)
        value = factor.subs({sp.Symbol(name): sp.Float(merged[name]) for name in names})
        if sp.N(value) == 0:
            zeros.append((factor, names))
    return zeros
