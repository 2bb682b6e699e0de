"""A bound on symbolic work: the number of terms an expression expands into, estimated
without expanding it.

The pipeline expands equations (``sympy.expand``) to find factors, split rates and share
subexpressions; a short text can expand into millions of terms (``(x+a+b+c+d)**20`` has 10,626;
the derivative of twelve nested ``tanh`` has 4,096). :func:`expanded_terms` counts the terms of
the expansion from the expression's tree in time linear in its size, and :func:`check_size`
refuses an expression beyond :data:`MAX_TERMS` with a message naming it.

>>> import sympy as sp
>>> a, b, c, d, x = sp.symbols("a b c d x")
>>> expanded_terms((x + a + b + c + d) ** 20)
10626
>>> expanded_terms(sp.sin((a + b) ** 2) * (x + 1))
5
"""

from __future__ import annotations

from functools import lru_cache
from math import comb

import sympy as sp

from ..errors import ActionError

#: At most this many terms in the expansion of a term of the action or of a derived equation.
MAX_TERMS = 400
_CAP = 10**12  # counts saturate here: the estimate of a huge expansion stays a small integer


def expanded_terms(expr: sp.Basic) -> int:
    """The number of terms of ``sympy.expand(expr)``, counted (an upper bound) without expanding:
    a sum adds its terms' counts, a product multiplies them, an integer power ``n`` of ``k``
    terms gives ``C(k + n - 1, n)``, and the arguments of functions and of other powers count
    once each, as expand rewrites them too."""
    terms, inner = _count(expr)
    return min(terms + inner, _CAP)


@lru_cache(maxsize=4096)
def _count(expr: sp.Basic) -> tuple[int, int]:
    """``(terms at the top, terms inside function arguments)`` of the expansion."""
    if not expr.args or isinstance(expr, sp.Derivative) or (expr.is_Function and _plain(expr)):
        return 1, 0
    counts = [_count(a) for a in expr.args]
    inner = min(sum(i for _, i in counts), _CAP)
    if isinstance(expr, sp.Add):
        return min(sum(n for n, _ in counts), _CAP), inner
    if isinstance(expr, sp.Mul):
        product = 1
        for n, _ in counts:
            product = min(product * n, _CAP)
        return product, inner
    if isinstance(expr, sp.Pow) and expr.exp.is_Rational:
        base, power = counts[0][0], int(abs(expr.exp))
        size = min(comb(base + power - 1, power), _CAP) if base > 1 and power > 1 else base
        return (size, inner) if expr.exp > 0 else (1, min(inner + size, _CAP))
    return 1, min(inner + sum(n for n, _ in counts), _CAP)


def _plain(expr: sp.Basic) -> bool:
    """A function of ``t`` alone (a field ``x(t)``): one term, nothing inside."""
    return all(not a.args for a in expr.args)


def check_size(expr: sp.Basic, where: str) -> None:
    """Refuse an expression whose expansion would exceed :data:`MAX_TERMS` terms.

    >>> x, y = sp.symbols("x y")
    >>> check_size((x + y) ** 500, "the node term")
    Traceback (most recent call last):
    ...
    stlp_sym.errors.ActionError: the node term expands into about 501 terms, more than 400: \
simplify it (no powers of long sums)
    """
    terms = expanded_terms(expr)
    if terms > MAX_TERMS:
        raise ActionError(
            f"{where} expands into about {terms} terms, more than {MAX_TERMS}: "
            "simplify it (no powers of long sums)"
        )
