"""Checks that an :class:`~stlp_sym.Action` only uses what it declares, where it may.

Each Lagrangian term lives in a frame (docs/theory.md section 2): the node term sees one node,
the edge term one arc and its two end nodes, the global term global fields only. A name outside
its frame, or not declared at all, is an :class:`~stlp_sym.errors.ActionError` naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import ActionError
from .vocabulary import (
    ROLE_NAMES,
    Aggregate,
    Field,
    Parameter,
    Signal,
    split_end,
    t,
)

if TYPE_CHECKING:
    from .action import Action


# What each frame may use, by kind of declaration and arc end (None = local). An aggregate's
# summand lives on an arc, like the edge term.
_ON_ARC = {("edge", None), ("global", None), ("edge parameter", None)} | {
    (kind, end) for kind in ("node", "signal", "role", "node parameter") for end in ("src", "dst")
}
_ALLOWED: dict[str, set[tuple[str, str | None]]] = {
    "node": {
        (kind, None) for kind in ("node", "global", "signal", "aggregate", "role", "node parameter")
    },
    "edge": _ON_ARC,
    "aggregate": _ON_ARC,
    "global": {("global", None)},
}

_HINTS = {
    ("node", "edge"): "edge fields enter a node term only through an aggregate",
    ("edge", "node"): "in an edge term, reach a node quantity with src(...) or dst(...)",
    ("aggregate", "node"): "in an aggregate, reach a node quantity with src(...) or dst(...)",
    ("aggregate", "aggregate"): "an aggregate may not use another aggregate",
    ("edge", "aggregate"): "aggregates may only be used in the node term",
    ("node", "edge parameter"): "a parameter on arcs enters a node term only through an aggregate",
    (
        "edge",
        "node parameter",
    ): "in an edge term, reach a parameter on nodes with src(...) or dst(...)",
    ("aggregate", "node parameter"): "in an aggregate, reach a parameter on nodes with src(...) "
    "or dst(...)",
    ("global", "node parameter"): "the global term and the factor use scalar parameters only",
    ("global", "edge parameter"): "the global term and the factor use scalar parameters only",
}


def _kind(action: Action, base: str) -> str | None:
    if base in ROLE_NAMES:
        return "role"
    item = action.lookup(base)
    if isinstance(item, Field):
        return item.domain
    if isinstance(item, Signal):
        return "signal"
    if isinstance(item, Aggregate):
        return "aggregate"
    if isinstance(item, Parameter):
        return "parameter" if item.on is None else f"{item.on} parameter"
    return None


def _check_names(action: Action, expr: sp.Expr, frame: str, where: str) -> None:
    undeclared: set[str] = set()
    for symbol in expr.free_symbols:
        if symbol == t:
            continue
        base, end = split_end(symbol.name)
        kind = _kind(action, base)
        if kind is None:
            undeclared.add(symbol.name)
        elif kind == "role":
            if ("role", end) not in _ALLOWED[frame]:
                _misplaced(frame, where, symbol.name, kind)
        elif kind != "parameter" or end is not None:
            raise ActionError(
                f"{where}: {symbol.name!r} is a {kind}, a function of time: write fn({base!r})"
            )
    for applied in expr.atoms(AppliedUndef):
        base, end = split_end(applied.func.__name__)
        kind = _kind(action, base)
        if kind is None:
            undeclared.add(applied.func.__name__)
            continue
        if kind in ("parameter", "role"):
            raise ActionError(f"{where}: {base!r} is a {kind}, not a function of t; write {base}")
        if applied.args != (t,):
            raise ActionError(f"{where}: {applied} must be a function of t alone, as {base}(t)")
        if (kind, end) not in _ALLOWED[frame]:
            _misplaced(frame, where, applied.func.__name__, kind)
    if undeclared:
        names = ", ".join(repr(n) for n in sorted(undeclared))
        raise ActionError(
            f"{where} uses undeclared name(s) {names}: declare each as a field, signal, "
            "aggregate or parameter"
        )


def _misplaced(frame: str, where: str, name: str, kind: str) -> None:
    hint = _HINTS.get((frame, kind), f"a {kind} cannot be used there")
    raise ActionError(f"{where} may not use {name!r} ({kind}): {hint}")


def _check_derivatives(action: Action, expr: sp.Expr, where: str) -> None:
    for derivative in expr.atoms(sp.Derivative):
        variables = set(derivative.variables)
        if variables != {t}:
            raise ActionError(f"{where}: {derivative} is not a time derivative")
        inner = derivative.expr
        if not isinstance(inner, AppliedUndef):
            raise ActionError(f"{where}: differentiate fields only, not {inner}")
        base, _ = split_end(inner.func.__name__)
        if _kind(action, base) == "aggregate":
            raise ActionError(
                f"{where}: aggregate {base!r} may not be differentiated; differentiate the "
                "fields inside its expression instead"
            )
        if str(_kind(action, base)).endswith("parameter"):
            raise ActionError(f"{where}: parameter {base!r} is constant in time: its derivative "
                              "is zero, so leave Dt out")  # fmt: skip


def _check_declarations(action: Action) -> None:
    if not action.fields:
        raise ActionError(f"action {action.name!r} declares no field")
    for clamp in action.clamps:
        target = action.lookup(clamp.field)
        if not isinstance(target, Field) or target.domain != "node":
            raise ActionError(
                f"clamp of {clamp.field!r}: only a declared node field can be clamped"
            )
        if not isinstance(action.lookup(clamp.signal), Signal):
            raise ActionError(
                f"clamp {clamp.field} = {clamp.signal}: signal {clamp.signal!r} is not declared"
            )
        if clamp.role not in ("input", "output", "hidden"):
            raise ActionError(f"clamp of {clamp.field!r}: role {clamp.role!r} is not a node role")
    clamped = [c.field for c in action.clamps]
    if len(set(clamped)) != len(clamped):
        raise ActionError("a field is clamped twice; give each field at most one clamp")


def _check_observed(action: Action) -> None:
    """The output must be a node field, the target a signal, and a target needs an output."""
    if action.output is not None:
        field = action.lookup(action.output)
        if not isinstance(field, Field) or field.domain != "node":
            raise ActionError(
                f"output {action.output!r} of {action.name!r} is not a node field of the action: "
                "name the node field a run records on the output nodes"
            )
    if action.target is not None:
        if not isinstance(action.lookup(action.target), Signal):
            raise ActionError(
                f"target {action.target!r} of {action.name!r} is not a signal of the action: "
                "name the signal the output is scored against"
            )
        if action.output is None:
            raise ActionError(
                f"target {action.target!r} of {action.name!r} has no output to be compared "
                "with: name the output field too"
            )


def validate_action(action: Action) -> None:
    """Raise :class:`ActionError` naming the first undeclared or misplaced name."""
    _check_declarations(action)
    _check_observed(action)
    terms = [
        (action.node, "node", f"node term of {action.name!r}"),
        (action.edge, "edge", f"edge term of {action.name!r}"),
        (action.global_, "global", f"global term of {action.name!r}"),
    ]
    terms.append((action.factor, "global", f"dissipation factor of {action.name!r}"))
    terms += [(a.expr, "aggregate", f"aggregate {a.name!r}") for a in action.aggregates]
    for expr, frame, where in terms:
        _check_names(action, expr, frame, where)
        _check_derivatives(action, expr, where)
