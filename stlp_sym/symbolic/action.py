"""Actions: the symbolic statement of a learning problem on a digraph.

An :class:`Action` holds ``L = sum_i L_node(i) + sum_e L_edge(e) + L_global`` (docs/theory.md
section 2) together with every name the terms may use: fields with a domain (node, edge,
global) and an optional role restriction, signals, clamps, aggregates and parameters.

Expressions are written with plain SymPy. A field or signal is an undefined function of the time
symbol :data:`t` (``fn("x")`` is ``x(t)``), time derivatives are ``diff(t, k)``, and the ends of an
arc are reached with :func:`src` and :func:`dst`:

Examples
--------
>>> import sympy as sp
>>> from stlp_sym.symbolic.vocabulary import Aggregate, Field, fn, src, t
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

from collections.abc import Iterable
from dataclasses import dataclass, replace

import sympy as sp

from ..errors import ActionError
from .printing import latex_action
from .validation import validate_action
from .vocabulary import (
    Aggregate,
    Clamp,
    Domain,
    Field,
    Parameter,
    Signal,
    canonical,
)


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
    output, target : what a run observes: the node field recorded on the output nodes and the
        signal it is scored against (either may be None: nothing recorded, no score).
    factor : the dissipation factor ``phi(t)`` (e.g. ``exp(theta t)``) by which multipliers are
        normalised; parameters and ``t`` only. Default 1.

    Notes
    -----
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
    output: str | None = None
    target: str | None = None

    def __post_init__(self) -> None:
        for name in ("fields", "signals", "clamps", "aggregates", "parameters"):
            object.__setattr__(self, name, _as_tuple(getattr(self, name)))
        for name in ("node", "edge", "global_", "factor"):
            object.__setattr__(self, name, canonical(getattr(self, name)))
        object.__setattr__(self, "_by_name", self._declarations())
        self._read_parameters_on_domains()
        validate_action(self)

    def _declarations(self) -> dict[str, object]:
        names: dict[str, object] = {}
        for item in (*self.fields, *self.signals, *self.aggregates, *self.parameters):
            if item.name in names:
                raise ActionError(f"name {item.name!r} is declared twice; names must be unique")
            names[item.name] = item
        return names

    def _read_parameters_on_domains(self) -> None:
        """A parameter on nodes or arcs written as a plain symbol ``tau`` is ``tau(t)``."""
        symbols = {sp.Symbol(p.name): p.symbol for p in self.parameters if p.on is not None}
        if not symbols:
            return
        for name in ("node", "edge", "global_", "factor"):
            object.__setattr__(self, name, getattr(self, name).xreplace(symbols))
        aggregates = tuple(replace(a, expr=a.expr.xreplace(symbols)) for a in self.aggregates)
        object.__setattr__(self, "aggregates", aggregates)
        by_name = dict(self._by_name)
        by_name.update({a.name: a for a in aggregates})
        object.__setattr__(self, "_by_name", by_name)

    def _repr_latex_(self) -> str:
        """The action and its declarations, for notebooks."""
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
    def parameter_domains(self) -> dict[str, str]:
        """``{name: "node" | "edge"}`` of the parameters with one value per node or arc."""
        return {p.name: p.on for p in self.parameters if p.on is not None}

    @property
    def observed(self) -> dict[str, str | None]:
        """``{"output": field, "target": signal}``: what a run records and scores."""
        return {"output": self.output, "target": self.target}

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
                "output",
                "target",
            )
        }
        values.update(changes)
        return Action(**values)  # type: ignore[arg-type]
