"""The non-linearities of the vocabulary beyond SymPy's own: ``sigmoid``, ``softplus``,
``logsigmoid``, ``log1p``, ``expm1`` (SymPy functions with their derivatives), ``relu`` and the
kink functions, and :func:`elementary`, their textbook formulas.

The five new functions stay unevaluated in derivations, so that the generated code prints each
in a numerically stable form (``softplus(a)`` as ``np.logaddexp(0, a)``); their derivatives are
written in the same vocabulary and without cancellation (``sigmoid'(a) = sigmoid(a) sigmoid(-a)``,
which is ``sigmoid (1 - sigmoid)``; ``softplus' = sigmoid``).
``relu(a)`` is ``Max(0, a)``; ``heaviside`` is SymPy's ``Heaviside`` (``1/2`` at ``0``).

Fields are real: at a kink the derivative is the mean of the one-sided derivatives, so
``d|u|/du = sign(u)`` (``0`` at ``u = 0``), ``d max(a, b)/da = heaviside(a - b)`` (``1/2`` at
``a = b``), and the derivatives of ``sign`` and ``heaviside`` are ``0`` (their delta at the jump
is dropped, docs/theory.md section 2).

>>> import sympy as sp
>>> a = sp.Symbol("a")
>>> sigmoid(a).diff(a), softplus(a).diff(a), logsigmoid(a).diff(a)
(sigmoid(-a)*sigmoid(a), sigmoid(a), sigmoid(-a))
>>> relu(a).diff(a), log1p(a).diff(a), expm1(a).diff(a)
(Heaviside(a), 1/(a + 1), exp(a))
>>> elementary(softplus(a) + relu(a))
a/2 + log(exp(a) + 1) + Abs(a)/2
"""

from __future__ import annotations

import sympy as sp
from mpmath.libmp import prec_to_dps

__all__ = [
    "FORMULAS",
    "KINKS",
    "elementary",
    "erf",
    "expm1",
    "has_kinks",
    "heaviside",
    "log1p",
    "logsigmoid",
    "relu",
    "sigmoid",
    "softplus",
]

#: SymPy's error function and step function, under the vocabulary's names.
erf = sp.erf
heaviside = sp.Heaviside


class _Real(sp.Function):
    """A real function of one real argument (the vocabulary's functions)."""

    nargs = 1

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_is_finite(self) -> bool | None:
        return self.args[0].is_finite

    @staticmethod
    def formula(a: sp.Expr) -> sp.Expr:
        """The textbook formula (for numbers at any precision and for references)."""
        raise NotImplementedError

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self.formula(self.args[0]).evalf(prec_to_dps(prec))

    def _eval_rewrite(self, rule: object, args: tuple, **hints) -> sp.Expr:
        return self.formula(*args)  # expr.rewrite(sp.exp), rewrite(sp.log): the formula


class sigmoid(_Real):  # noqa: N801 - the name users write
    """The logistic function ``1 / (1 + exp(-a))``; printed stably as
    ``exp(-logaddexp(0, -a))``."""

    @staticmethod
    def formula(a: sp.Expr) -> sp.Expr:
        return 1 / (1 + sp.exp(-a))

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return self * sigmoid(-self.args[0])

    @classmethod
    def eval(cls, a: sp.Expr) -> sp.Expr | None:
        return sp.S.Half if a.is_zero else None


class softplus(_Real):  # noqa: N801
    """``log(1 + exp(a))``; printed stably as ``logaddexp(0, a)``."""

    @staticmethod
    def formula(a: sp.Expr) -> sp.Expr:
        return sp.log(1 + sp.exp(a))

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid(self.args[0])

    @classmethod
    def eval(cls, a: sp.Expr) -> sp.Expr | None:
        return sp.log(2) if a.is_zero else None


class logsigmoid(_Real):  # noqa: N801
    """``log(sigmoid(a)) = -softplus(-a)``; printed stably as ``-logaddexp(0, -a)``."""

    @staticmethod
    def formula(a: sp.Expr) -> sp.Expr:
        return -sp.log(1 + sp.exp(-a))

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid(-self.args[0])

    @classmethod
    def eval(cls, a: sp.Expr) -> sp.Expr | None:
        return -sp.log(2) if a.is_zero else None


class log1p(_Real):  # noqa: N801
    """``log(1 + a)``, accurate for small ``a``; printed as ``np.log1p``."""

    @staticmethod
    def formula(a: sp.Expr) -> sp.Expr:
        return sp.log(1 + a)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return 1 / (1 + self.args[0])

    @classmethod
    def eval(cls, a: sp.Expr) -> sp.Expr | None:
        return sp.S.Zero if a.is_zero else None


class expm1(_Real):  # noqa: N801
    """``exp(a) - 1``, accurate for small ``a``; printed as ``np.expm1``."""

    @staticmethod
    def formula(a: sp.Expr) -> sp.Expr:
        return sp.exp(a) - 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.exp(self.args[0])

    @classmethod
    def eval(cls, a: sp.Expr) -> sp.Expr | None:
        return sp.S.Zero if a.is_zero else None


def relu(a: object) -> sp.Expr:
    """``max(0, a)``: SymPy's ``Max(0, a)``, whose derivative is ``heaviside(a)``."""
    return sp.Max(0, sp.sympify(a, strict=True))


#: The vocabulary's own functions and their textbook formulas (for independent references).
FORMULAS: dict[type, object] = {f: f.formula for f in (sigmoid, softplus, logsigmoid, log1p, expm1)}


#: The functions with a kink or a jump (not differentiable at some point).
KINKS: tuple[type, ...] = (sp.Abs, sp.sign, sp.Heaviside, sp.Max, sp.Min)


def has_kinks(*exprs: sp.Expr) -> bool:
    """True when an expression uses a function of :data:`KINKS`.

    >>> a = sp.Symbol("a")
    >>> has_kinks(sigmoid(a)), has_kinks(sigmoid(a), relu(a))
    (False, True)
    """
    return any(sp.sympify(e).has(*KINKS) for e in exprs)


def _max_of(*args: sp.Expr) -> sp.Expr:
    first, *rest = args
    for arg in rest:
        first = (first + arg + sp.Abs(first - arg)) / 2
    return first


def _min_of(*args: sp.Expr) -> sp.Expr:
    first, *rest = args
    for arg in rest:
        first = (first + arg - sp.Abs(first - arg)) / 2
    return first


def elementary(expr: sp.Expr) -> sp.Expr:
    """``expr`` with the vocabulary's functions written by their formulas and ``Max``/``Min``
    through ``Abs`` (``max(a, b) = (a + b + |a - b|) / 2``): the same values, computed by other
    means than the generated code's stable forms."""
    for function, formula in FORMULAS.items():
        expr = expr.replace(function, formula)
    return expr.replace(sp.Max, _max_of).replace(sp.Min, _min_of)
