"""The vocabulary of actions: the time symbol, fields, signals, clamps, aggregates, parameters.

A field or signal is an undefined function of the time symbol :data:`t` (``fn("x")`` is
``x(t)``); the ends of an arc are reached with :func:`src` and :func:`dst`, which rename a node
quantity ``x`` to ``x__src`` / ``x__dst``. Role indicators (``is_output``, ...) are 0/1 symbols.

>>> src(fn("x")), split_end("x__src")
(x__src(t), ('x', 'src'))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import ActionError

Domain = Literal["node", "edge", "global"]
Role = Literal["all", "input", "output", "hidden", "free"]
End = Literal["src", "dst"]

DOMAINS: tuple[str, ...] = ("node", "edge", "global")
ROLES: tuple[str, ...] = ("all", "input", "output", "hidden", "free")
ENDS: tuple[str, ...] = ("src", "dst")

#: The time symbol every field, signal and aggregate depends on.
t = sp.Symbol("t")

#: Role indicators: node-domain 0/1 symbols (``is_free`` = not an input).
ROLE_INDICATORS: dict[str, sp.Symbol] = {
    role: sp.Symbol(f"is_{role}") for role in ("input", "output", "hidden", "free")
}
IS_INPUT = ROLE_INDICATORS["input"]
IS_OUTPUT = ROLE_INDICATORS["output"]
IS_HIDDEN = ROLE_INDICATORS["hidden"]
IS_FREE = ROLE_INDICATORS["free"]
#: Their names (``is_input``, ...).
ROLE_NAMES: frozenset[str] = frozenset(s.name for s in ROLE_INDICATORS.values())

# Names the generated code and the expression frames use for themselves.
RESERVED_NAMES = frozenset(
    {"t", "np", "plan", "state", "params", "signals", "jet", "out", "dt", "phi", "self"}
    | {str(s) for s in ROLE_INDICATORS.values()}
)
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_SEPARATOR = "__"


def fn(name: str) -> sp.Expr:
    """The undefined function ``name(t)``: a field, signal or aggregate in an expression.

    >>> fn("x")
    x(t)
    """
    return sp.Function(name)(t)


def _at_end(expr: sp.Expr, end: End) -> sp.Expr:
    base, _, old_end = expr.func.__name__.partition(_SEPARATOR)
    if old_end:
        raise ActionError(f"{expr} is already taken at an arc end; src/dst cannot be nested")
    return sp.Function(f"{base}{_SEPARATOR}{end}")(t)


def at_end(expr: sp.Expr, end: End) -> sp.Expr:
    """Evaluate a node quantity (field, signal, aggregate, role indicator) at an arc's end.

    Works through time derivatives and whole expressions:

    >>> at_end(fn("x").diff(t) + IS_OUTPUT, "dst")
    is_output__dst + Derivative(x__dst(t), t)
    """
    replacements: dict[sp.Basic, sp.Basic] = {}
    for atom in expr.atoms(AppliedUndef):
        replacements[atom] = _at_end(atom, end)
    for symbol in ROLE_INDICATORS.values():
        replacements[symbol] = sp.Symbol(f"{symbol.name}{_SEPARATOR}{end}")
    return sp.sympify(expr).xreplace(replacements)


def src(expr: sp.Expr) -> sp.Expr:
    """A node quantity at the arc's source node ``j`` (in edge terms and aggregates).

    >>> src(fn("x"))
    x__src(t)
    """
    return at_end(expr, "src")


def dst(expr: sp.Expr) -> sp.Expr:
    """A node quantity at the arc's destination node ``i`` (in edge terms and aggregates).

    >>> dst(fn("x"))
    x__dst(t)
    """
    return at_end(expr, "dst")


def split_end(name: str) -> tuple[str, str | None]:
    """Split ``"x__src"`` into ``("x", "src")``; a plain name has end ``None``.

    >>> split_end("x__dst"), split_end("x")
    (('x', 'dst'), ('x', None))
    """
    base, _, end = name.partition(_SEPARATOR)
    return base, (end or None)


def check_identifier(name: str, what: str) -> None:
    """Reject names that are not safe to use as identifiers in generated code."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ActionError(
            f"{what} name {name!r} is not an identifier: use letters, digits and single "
            "underscores, starting with a letter"
        )
    if _SEPARATOR in name or name.endswith("_"):
        raise ActionError(f"{what} name {name!r} may not contain '__' or end with '_'")
    # Python keywords (``lambda``) are fine: generated code keys states by string and
    # sanitises its local variable names.
    if name in RESERVED_NAMES:
        raise ActionError(f"{what} name {name!r} is reserved; choose another name")
    if re.fullmatch(r".*_d[0-9]+", name):
        raise ActionError(
            f"{what} name {name!r} collides with generated state names (suffix _dK); "
            "choose another name"
        )


@dataclass(frozen=True)
class Field:
    """A declared function of time on a domain.

    Parameters
    ----------
    name : the identifier used in expressions (``fn(name)``) and in generated code.
    domain : ``"node"`` (one value per node), ``"edge"`` (per arc) or ``"global"``.
    role : for node fields, the nodes the field exists on; it is zero elsewhere and has no
        equation there (e.g. multipliers live on the free nodes, ``role="free"``).
    multiplier : a Lagrange multiplier: its Euler-Lagrange equation is a constraint, it is
        never flipped and it is the one normalised (docs/theory.md section 2).
    """

    name: str
    domain: Domain = "node"
    role: Role = "all"
    multiplier: bool = False

    def __post_init__(self) -> None:
        check_identifier(self.name, "field")
        if self.domain not in DOMAINS:
            raise ActionError(f"field {self.name!r}: domain {self.domain!r} not in {DOMAINS}")
        if self.role not in ROLES:
            raise ActionError(f"field {self.name!r}: role {self.role!r} not in {ROLES}")
        if self.role != "all" and self.domain != "node":
            raise ActionError(f"field {self.name!r}: only node fields can be restricted to a role")

    @property
    def symbol(self) -> sp.Expr:
        """``name(t)``."""
        return fn(self.name)


@dataclass(frozen=True)
class Signal:
    """A given node-domain function of time (e.g. ``u`` on inputs, ``z`` on outputs)."""

    name: str
    role: Role = "all"

    def __post_init__(self) -> None:
        check_identifier(self.name, "signal")
        if self.role not in ROLES:
            raise ActionError(f"signal {self.name!r}: role {self.role!r} not in {ROLES}")


@dataclass(frozen=True)
class Clamp:
    """``field = signal`` on the nodes of ``role``: those entries are not unknowns."""

    field: str
    signal: str
    role: Role = "input"


@dataclass(frozen=True)
class Aggregate:
    """A node quantity defined as a sum over arcs of an edge expression ``expr``.

    ``direction="in"`` sums over the arcs entering the node (``a_i = sum_{e: dst(e)=i} g(e)``),
    ``"out"`` over the arcs leaving it. ``expr`` may use edge fields, ``src(...)``/``dst(...)``
    of node fields and signals, parameters and ``t``, but no aggregate.
    """

    name: str
    expr: sp.Expr
    direction: Literal["in", "out"] = "in"
    #: For the time derivative ``a_dK`` of an aggregate that a derivation introduces: ``a``.
    derived_from: str | None = None

    def __post_init__(self) -> None:
        if self.derived_from is None:
            check_identifier(self.name, "aggregate")
        if self.direction not in ("in", "out"):
            raise ActionError(f"aggregate {self.name!r}: direction must be 'in' or 'out'")
        object.__setattr__(self, "expr", canonical(self.expr))

    @property
    def home(self) -> End:
        """The arc end at which the sum is collected."""
        return "dst" if self.direction == "in" else "src"


@dataclass(frozen=True)
class Parameter:
    """A named value with a default, passed at run time: a scalar, or one value per node
    (``on="node"``) or per arc (``on="edge"``).

    A scalar parameter is a plain symbol in expressions. A parameter on nodes or arcs is, like a
    signal, a function of time on its domain that never changes: ``fn(name)`` (or its
    :attr:`symbol`; a plain ``Symbol(name)`` is read as it), reached in an edge term with
    ``src(...)``/``dst(...)`` when it is on nodes. Its time derivatives are zero.

    >>> Parameter("tau", 1.0, on="node").symbol, Parameter("c", 2.0).symbol
    (tau(t), c)
    """

    name: str
    default: float
    on: Literal["node", "edge"] | None = None

    def __post_init__(self) -> None:
        check_identifier(self.name, "parameter")
        if self.on not in (None, "node", "edge"):
            raise ActionError(
                f"parameter {self.name!r}: on={self.on!r} is not 'node' or 'edge' (or None: "
                "a scalar)"
            )
        try:
            default = float(self.default)
        except (TypeError, ValueError):
            raise ActionError(
                f"parameter {self.name!r}: default {self.default!r} is not a number"
            ) from None
        object.__setattr__(self, "default", default)

    @property
    def domain(self) -> str:
        """``"node"``, ``"edge"`` or ``"scalar"``."""
        return self.on or "scalar"

    @property
    def symbol(self) -> sp.Expr:
        """``name`` (a scalar) or ``name(t)`` (on nodes or arcs)."""
        return sp.Symbol(self.name) if self.on is None else fn(self.name)


def canonical(expr: object) -> sp.Expr:
    """Sympify and strip assumptions, so that ``Symbol('c', positive=True)`` matches ``c``.

    Every symbol becomes a plain symbol and every undefined function a plain ``Function`` of
    the time symbol :data:`t`, which makes names the only identity that counts.
    """
    if isinstance(expr, str):
        # SymPy would eval the text: strings go through the whitelist parser instead.
        raise ActionError(
            f"{expr!r} is text: build expressions with SymPy (fn, src, dst, symbols), or read "
            "text with stlp_sym.parse.expressions.parse_expression, which evaluates nothing"
        )
    try:
        expr = sp.sympify(expr, strict=True)
    except (sp.SympifyError, TypeError) as exc:
        raise ActionError(f"cannot read {expr!r} as a SymPy expression: {exc}") from exc
    replacements: dict[sp.Basic, sp.Basic] = {}
    for symbol in expr.free_symbols:
        if isinstance(symbol, sp.Symbol):
            replacements[symbol] = sp.Symbol(symbol.name)
    expr = expr.xreplace(replacements)
    functions = {f: sp.Function(f.func.__name__)(*f.args) for f in expr.atoms(AppliedUndef)}
    return expr.xreplace(functions)
