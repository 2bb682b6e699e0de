"""Actions: the symbolic statement of a learning problem on a digraph.

An :class:`Action` holds ``L = sum_i L_node(i) + sum_e L_edge(e) + L_global`` (MATH.md section 2)
together with every name the terms may use: fields with a domain (node, edge, global) and an
optional role restriction, signals, clamps, aggregates and parameters.

Expressions are written with plain SymPy. A field or signal is an undefined function of the time
symbol :data:`t` (``fn("x")`` is ``x(t)``), time derivatives are ``diff(t, k)``, and the ends of an
arc are reached with :func:`src` and :func:`dst`:

>>> import sympy as sp
>>> x, w = fn("x"), fn("w")
>>> agg = Aggregate("a", w * src(x))
>>> act = Action(
...     fields=[Field("x"), Field("w", "edge")],
...     aggregates=[agg],
...     node=fn("x").diff(t) ** 2 / 2 - sp.tanh(fn("a")) ** 2,
...     edge=w.diff(t) ** 2 / 2,
... )
>>> [f.name for f in act.fields]
['x', 'w']
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import sympy as sp
from sympy.core.function import AppliedUndef

from .errors import ActionError

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
        never flipped and it is the one normalised (MATH.md section 2).
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
    """A named scalar with a default value, passed at run time."""

    name: str
    default: float

    def __post_init__(self) -> None:
        check_identifier(self.name, "parameter")
        object.__setattr__(self, "default", float(self.default))

    @property
    def symbol(self) -> sp.Symbol:
        return sp.Symbol(self.name)


def canonical(expr: object) -> sp.Expr:
    """Sympify and strip assumptions, so that ``Symbol('c', positive=True)`` matches ``c``.

    Every symbol becomes a plain symbol and every undefined function a plain ``Function`` of
    the time symbol :data:`t`, which makes names the only identity that counts.
    """
    if isinstance(expr, str):
        # SymPy would eval the text: strings go through the whitelist parser instead.
        raise ActionError(
            f"{expr!r} is text: build expressions with SymPy (fn, src, dst, symbols), or read "
            "text with stlp_sym.exprparse.parse_expression, which evaluates nothing"
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


def _as_tuple(items: Iterable | None) -> tuple:
    return tuple(items or ())


@dataclass(frozen=True)
class Action:
    """``S = int L dt`` with ``L = sum_i node(i) + sum_e edge(e) + global_`` on any digraph.

    Parameters
    ----------
    fields, signals, clamps, aggregates, parameters : the declarations (see their classes).
    node : ``L_node``: local node fields and their derivatives, local signals, role indicators,
        local aggregates, global fields, parameters and ``t``.
    edge : ``L_edge``: edge fields, ``src(...)``/``dst(...)`` of node quantities, global fields,
        parameters and ``t``.
    global_ : ``L_global``: global fields, parameters and ``t``.
    name, description : for listings and generated headers.
    factor : the dissipation factor ``phi(t)`` (e.g. ``exp(theta t)``) by which multipliers are
        normalised; parameters and ``t`` only. Default 1.

    Undeclared names are rejected when the action is built (:class:`~stlp_sym.errors.ActionError`).
    """

    fields: tuple[Field, ...]
    node: sp.Expr = sp.S.Zero
    edge: sp.Expr = sp.S.Zero
    global_: sp.Expr = sp.S.Zero
    signals: tuple[Signal, ...] = ()
    clamps: tuple[Clamp, ...] = ()
    aggregates: tuple[Aggregate, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    name: str = "action"
    description: str = ""
    factor: sp.Expr = sp.S.One

    def __post_init__(self) -> None:
        for name in ("fields", "signals", "clamps", "aggregates", "parameters"):
            object.__setattr__(self, name, _as_tuple(getattr(self, name)))
        for name in ("node", "edge", "global_", "factor"):
            object.__setattr__(self, name, canonical(getattr(self, name)))
        object.__setattr__(self, "_by_name", self._declarations())
        from .validation import validate_action  # local: validation imports this module

        validate_action(self)

    def _declarations(self) -> dict[str, object]:
        names: dict[str, object] = {}
        for item in (*self.fields, *self.signals, *self.aggregates, *self.parameters):
            if item.name in names:
                raise ActionError(f"name {item.name!r} is declared twice; names must be unique")
            names[item.name] = item
        return names

    def _repr_latex_(self) -> str:
        """The action and its declarations, for notebooks."""
        from .printing import latex_action  # local: printing imports this module

        return "$$\\begin{gathered}" + " \\\\ ".join(latex_action(self)) + "\\end{gathered}$$"

    def lookup(self, name: str) -> object | None:
        """The declaration (field, signal, aggregate or parameter) called ``name``, if any."""
        return self._by_name.get(name)

    def fields_on(self, domain: Domain) -> tuple[Field, ...]:
        """The fields of one domain, in declaration order."""
        return tuple(f for f in self.fields if f.domain == domain)

    def field(self, name: str) -> Field:
        """The field called ``name``."""
        item = self._by_name.get(name)
        if not isinstance(item, Field):
            raise ActionError(f"{name!r} is not a field of action {self.name!r}")
        return item

    def clamp_of(self, field_name: str) -> Clamp | None:
        """The clamp declared for a node field, if any."""
        return next((c for c in self.clamps if c.field == field_name), None)

    @property
    def parameter_defaults(self) -> dict[str, float]:
        """``{name: default}`` of every parameter."""
        return {p.name: p.default for p in self.parameters}

    @property
    def lagrangian_terms(self) -> dict[Domain, sp.Expr]:
        """``{"node": L_node, "edge": L_edge, "global": L_global}``."""
        return {"node": self.node, "edge": self.edge, "global": self.global_}

    def replace(self, **changes: object) -> Action:
        """A copy with some attributes changed (and validated again)."""
        values = {
            name: getattr(self, name)
            for name in (
                "fields",
                "node",
                "edge",
                "global_",
                "signals",
                "clamps",
                "aggregates",
                "parameters",
                "name",
                "description",
                "factor",
            )
        }
        values.update(changes)
        return Action(**values)  # type: ignore[arg-type]
