"""Pass: shape each leading derivative for the integrator, before it is lowered.

Two rewrites of a top state's rate ``s' = f``:

- :func:`split_decay` takes off a linear decay ``f = rest - k s`` with ``k`` a constant of the
  run (parameters only), so that explicit Euler updates ``s <- s (1 - dt k) + dt rest`` in place
  and the stability warning can read ``k``;
- :func:`fold_scale` multiplies the rest by the kernel's scale argument ``_scale`` (``dt`` under
  explicit Euler, 1 otherwise) and expands it, so that the factor lands on scalar coefficients and
  hoisted node factors instead of costing one more pass over the arcs.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.function import AppliedUndef

from ..symbolic.vocabulary import ROLE_NAMES, split_end, t
from .kernel import SCALE


def split_decay(rate: sp.Expr, field: str, order: int) -> tuple[sp.Expr, sp.Expr]:
    """``rate = rest - k * s`` for the top state ``s`` and a parameter-only ``k`` (else ``k = 0``).

    Explicit Euler then updates ``s <- s (1 - dt k) + dt rest`` in place: the decay term costs
    no separate pass over the arcs.

    >>> from stlp_sym.symbolic.vocabulary import fn, t
    >>> theta, c = sp.symbols("theta c")
    >>> split_decay(c * fn("y") - theta * fn("w").diff(t), "w", 1)
    (c*y(t), theta)
    """
    own = sp.Function(field)(t)
    own = sp.Derivative(own, (t, order)) if order else own
    rate = sp.expand(rate)
    coefficient = rate.coeff(own)
    # Only a constant of the run (parameters) is a decay: one that varies with time (a factor
    # exp(theta t) left unnormalised), with the node (a role) or with a field stays in the kernel.
    varying = (AppliedUndef, sp.Derivative, t, *_role_indicators(coefficient))
    if coefficient == 0 or coefficient.has(*varying):
        return rate, sp.S.Zero
    return sp.expand(rate - coefficient * own), -coefficient


def _role_indicators(expr: sp.Expr) -> list[sp.Symbol]:
    """Role indicators in ``expr`` (which vary from node to node)."""
    return [s for s in expr.free_symbols if split_end(s.name)[0] in ROLE_NAMES]


def fold_scale(rate: sp.Expr) -> sp.Expr:
    """``_scale * rate``, expanded: the scale factor multiplies each term's coefficient.

    >>> c, x, y = sp.symbols("c x y")
    >>> fold_scale(c * (x + 2 * y))
    _scale*c*x + 2*_scale*c*y
    """
    return sp.expand(SCALE * rate)
