r"""LaTeX and plain-text printing of actions and derivations, and a PNG of the LaTeX lines.

Expressions are printed in a *frame* (MATH.md section 2, :mod:`stlp_sym.frames`), which fixes
the index of every quantity:

- node frame (the equation of node ``i``): ``x(t)`` -> ``x_{i}``, ``is_output`` ->
  ``[i \in O]`` (``I`` inputs, ``N`` free, ``H`` hidden);
- inside ``InSum`` (over the parents ``j`` of ``i``, arcs ``j -> i``): ``x__src`` -> ``x_{j}``,
  the arc's ``w`` -> ``w_{ij}``, printed ``\sum_{j \in pa(i)} \left( ... \right)``;
- inside ``OutSum`` (over the children ``k`` of ``i``, arcs ``i -> k``): ``x__dst`` -> ``x_{k}``,
  ``w`` -> ``w_{ki}``, printed ``\sum_{k \in ch(i)} \left( ... \right)``;
- edge frame (arc ``j -> i``): ``w_{ij}``, ``x__src`` -> ``x_{j}``, ``x__dst`` -> ``x_{i}``;
- global frame: global fields carry no index; ``NodeSum`` and ``EdgeSum`` print as
  ``\sum_{i \in V}`` and ``\sum_{(j,i) \in A}``.

Time derivatives print as ``\dot{x}_{i}``, ``\ddot{x}_{i}`` and, from the third on, as
``x^{(3)}_{i}`` (mathtext's ``\dddot`` cannot be told from ``\ddot`` on screen). Names:
``lambda`` -> ``\lambda``, ``lambda_hat`` -> ``\hat{\lambda}``, ``r_w`` -> ``r_{w}``, a derived
name ``w_d1`` or ``a_d1`` -> ``\dot{w}``, ``\dot{a}``; ``exp(theta t)`` -> ``e^{\theta t}``. Every
line renders with matplotlib's mathtext (:func:`render_png`) as well as with LaTeX and amsmath.
The plain-text printer writes ``x_i'``, ``w_ij''``, ``Dt(w_ij, 4)``, ``[i in O]`` and
``sum_{j in pa(i)} (...)``.

>>> from stlp_sym.action import fn, t
>>> from stlp_sym.frames import OutSum
>>> latex(fn("lambda__dst") * fn("w") + fn("x__src").diff(t), "edge")
'\\lambda_{i} w_{ij} + \\dot{x}_{j}'
>>> text(OutSum(fn("lambda__dst") * fn("w")), "node")
'sum_{k in ch(i)} (lambda_k*w_ki)'
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.conventions import split_super_sub
from sympy.printing.latex import LatexPrinter, translate
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from .action import ROLE_INDICATORS, Action, Aggregate, Field, split_end, t
from .derivation import Derivation
from .errors import StlpError
from .frames import EdgeSum, InSum, NeighbourSum, NodeSum, OutSum

__all__ = [
    "latex",
    "latex_action",
    "latex_document",
    "latex_equations",
    "render_png",
    "text",
    "text_equations",
]

FRAMES = ("node", "edge", "global")
#: Letters of the role sets in Iverson brackets: ``is_output`` -> ``[i \in O]``.
ROLE_SETS = {"input": "I", "output": "O", "free": "N", "hidden": "H", "all": "V"}
_ROLE_OF_INDICATOR = {symbol.name: ROLE_SETS[role] for role, symbol in ROLE_INDICATORS.items()}
_ORDER_SUFFIX = re.compile(r"^(?P<core>.+)_d(?P<order>[0-9]+)$")
#: Dots for the first two time derivatives; from the third on, ``x^{(k)}``: mathtext's
#: ``\dddot`` renders, but its three dots cannot be told from two at screen resolution.
_DOTS = {1: r"\dot", 2: r"\ddot"}


@dataclass(frozen=True)
class _Frame:
    """Index letters of one printing context: a node (``own``) or an arc (``src -> dst``)."""

    kind: str
    own: str | None = None
    src: str | None = None
    dst: str | None = None

    def index(self, end: str | None, node_quantity: bool) -> str | None:
        """The index of a quantity at ``end`` (``None``: the frame's own node or arc)."""
        if end == "src":
            return self.src
        if end == "dst":
            return self.dst
        if self.kind == "edge":
            return self.dst if node_quantity else f"{self.dst}{self.src}"
        return self.own


_TOP = {
    "node": _Frame("node", own="i"),
    "edge": _Frame("edge", src="j", dst="i"),
    "global": _Frame("global"),
}


def _summand_frame(kind: type, frame: _Frame) -> tuple[_Frame, str, str]:
    """The frame of a sum's argument and the sum's index set: ``(frame, index, set)``.

    In the frame of node ``i``, ``InSum`` runs over the parents ``j`` (arcs ``j -> i``) and
    ``OutSum`` over the children ``k`` (arcs ``i -> k``).
    """
    own = frame.own or "i"
    if issubclass(kind, InSum):
        return _Frame("edge", src="j", dst=own), "j", f"pa({own})"
    if issubclass(kind, OutSum):
        return _Frame("edge", src=own, dst="k"), "k", f"ch({own})"
    if issubclass(kind, NodeSum):
        return _TOP["node"], "i", "V"
    if issubclass(kind, EdgeSum):
        return _TOP["edge"], "(j,i)", "A"
    raise TypeError(f"unknown neighbour sum {kind.__name__}")


def _parse_name(name: str) -> tuple[str, bool, int]:
    """``"lambda_hat_d2"`` -> ``("lambda", True, 2)``: core name, hat, derivative order."""
    order = 0
    match = _ORDER_SUFFIX.match(name)
    if match:
        name, order = match["core"], int(match["order"])
    hat = name.endswith("_hat")
    return (name[: -len("_hat")] if hat else name), hat, order


class _FrameMixin:
    """What both printers share: the stack of frames, the global names, quantities, sums."""

    _frames: list[_Frame]
    _globals: frozenset[str]

    def _setup(self, frame: str, global_names: frozenset[str]) -> None:
        if frame not in FRAMES:
            raise ValueError(f"frame must be one of {FRAMES}, not {frame!r}")
        self._frames = [_TOP[frame]]
        self._globals = global_names

    @property
    def frame(self) -> _Frame:
        return self._frames[-1]

    def _quantity(self, expr: sp.Basic) -> tuple[str, str | None, int] | None:
        """``(name, index, order)`` of ``f(t)`` or ``Derivative(f(t), (t, k))``, else None.

        ``name`` is the node-frame name (``x`` for ``x__src``); a ``_dK`` suffix adds to
        ``order`` later, in :meth:`_name`.
        """
        order = 0
        if isinstance(expr, sp.Derivative):
            if any(v != t for v in expr.variables):
                return None
            order, expr = int(expr.derivative_count), expr.expr
        if not isinstance(expr, AppliedUndef) or expr.args != (t,):
            return None
        base, end = split_end(expr.func.__name__)
        index = None if base in self._globals else self.frame.index(end, end is not None)
        return base, index, order

    def _role(self, symbol: sp.Symbol) -> tuple[str | None, str] | None:
        """``(index, set letter)`` of a role indicator symbol, else None."""
        base, end = split_end(symbol.name)
        if base not in _ROLE_OF_INDICATOR:
            return None
        return self.frame.index(end, True), _ROLE_OF_INDICATOR[base]

    def _summand(self, kind: type, argument: sp.Expr) -> tuple[str, str, str]:
        """``(index, set, printed argument)`` of a sum, the argument in the sum's frame."""
        inner, index, over = _summand_frame(kind, self.frame)
        self._frames.append(inner)
        try:
            return index, over, self._print(argument)
        finally:
            self._frames.pop()

    @staticmethod
    def _exp_argument(expr: sp.Expr) -> tuple[bool, sp.Expr] | None:
        """``theta*t`` -> ``(False, theta)``, ``-theta*t`` -> ``(True, theta)``, else None."""
        coeff, rest = expr.as_independent(t, as_Add=False)
        if rest != t:
            return None
        if coeff.could_extract_minus_sign():
            return True, -coeff
        return False, coeff


#: Letters the sums use for node indices.
_INDEX_LETTERS = frozenset({"i", "j", "k"})


class _LatexFramePrinter(_FrameMixin, LatexPrinter):
    """SymPy's LaTeX printer with frame-aware names, indices, derivatives and sums."""

    def __init__(self, frame: str = "node", global_names: frozenset[str] = frozenset()):
        super().__init__()
        self._setup(frame, global_names)

    def _print(self, expr: sp.Basic, **kwargs: object) -> str:
        # Ahead of SymPy's dispatch, which would use NeighbourSum._latex (no index context).
        if isinstance(expr, NeighbourSum):
            return self._print_sum(type(expr), expr.args[0], kwargs.get("exp"))
        return super()._print(expr, **kwargs)

    def _print_sum(self, kind: type, argument: sp.Expr, exp: object = None) -> str:
        index, over, body = self._summand(kind, argument)
        tex = rf"\sum_{{{index} \in {over}}} \left( {body} \right)"
        return rf"\left({tex}\right)^{{{exp}}}" if exp else tex

    def _name(self, name: str, index: str | None, order: int = 0) -> str:
        r"""``lambda_hat``, ``i``, 1 -> ``\dot{\hat{\lambda}}_{i}``; ``r_w`` -> ``r_{w}``."""
        core, hat, own_order = _parse_name(name)
        order += own_order
        head, _supers, subs = split_super_sub(core)
        tex = translate(head)
        if hat:
            tex = rf"\hat{{{tex}}}"
        if order in _DOTS:
            tex = rf"{_DOTS[order]}{{{tex}}}"
        elif order:
            tex = rf"{tex}^{{({order})}}"
        subscripts = [translate(s) for s in subs] + ([index] if index else [])
        return f"{tex}_{{{','.join(subscripts)}}}" if subscripts else tex

    def _print_quantity(self, expr: sp.Basic, exp: str | None) -> str | None:
        found = self._quantity(expr)
        if found is None:
            return None
        tex = self._name(*found)
        if exp is None:
            return tex
        if "^" in tex:
            return rf"\left({tex}\right)^{{{exp}}}"
        return f"{tex}^{{{exp}}}"

    def _print_Function(self, expr: sp.Expr, exp: str | None = None) -> str:
        tex = self._print_quantity(expr, exp)
        return super()._print_Function(expr, exp) if tex is None else tex

    def _print_Derivative(self, expr: sp.Derivative) -> str:
        tex = self._print_quantity(expr, None)
        return super()._print_Derivative(expr) if tex is None else tex

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        role = self._role(expr)
        if role is not None:
            index = role[0] or r"\cdot"
            return rf"[{index} \in {role[1]}]"
        if expr.name in _INDEX_LETTERS:
            # A parameter called i, j or k must not read as a node index of the sums.
            return rf"\mathrm{{{expr.name}}}"
        return self._name(expr.name, None)

    def _print_exp(self, expr: sp.Expr, exp: str | None = None) -> str:
        split = self._exp_argument(expr.args[0])
        if split is None:
            return super()._print_ExpBase(expr, exp)
        negative, coeff = split
        factor = "" if coeff == 1 else self.parenthesize(coeff, PRECEDENCE["Mul"]) + " "
        return self._do_exponent(rf"e^{{{'- ' if negative else ''}{factor}t}}", exp)


class _TextFramePrinter(_FrameMixin, StrPrinter):
    """SymPy's string printer with ``x_i``, ``w_ij``, primes, ``[i in O]`` and named sums."""

    def __init__(self, frame: str = "node", global_names: frozenset[str] = frozenset()):
        super().__init__()
        self._setup(frame, global_names)

    def _print(self, expr: sp.Basic, **kwargs: object) -> str:
        if isinstance(expr, NeighbourSum):
            return self._print_sum(type(expr), expr.args[0])
        return super()._print(expr, **kwargs)

    def _print_sum(self, kind: type, argument: sp.Expr) -> str:
        index, over, body = self._summand(kind, argument)
        return f"sum_{{{index} in {over}}} ({body})"

    def _name(self, name: str, index: str | None, order: int = 0) -> str:
        """``lambda_hat``, ``i``, 1 -> ``lambda_hat_i'``; order 4 -> ``Dt(w_ij, 4)``."""
        core, hat, own_order = _parse_name(name)
        order += own_order
        body = f"{core}_hat" if hat else core
        body = f"{body}_{index}" if index else body
        return f"Dt({body}, {order})" if order > 3 else body + "'" * order

    def _print_quantity(self, expr: sp.Basic) -> str | None:
        found = self._quantity(expr)
        return None if found is None else self._name(*found)

    def _print_Function(self, expr: sp.Expr) -> str:
        text = self._print_quantity(expr)
        return super()._print_Function(expr) if text is None else text

    def _print_Derivative(self, expr: sp.Derivative) -> str:
        text = self._print_quantity(expr)
        return super()._print_Derivative(expr) if text is None else text

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        role = self._role(expr)
        if role is not None:
            return f"[{role[0] or '.'} in {role[1]}]"
        return super()._print_Symbol(expr)

    def _print_exp(self, expr: sp.Expr) -> str:
        split = self._exp_argument(expr.args[0])
        if split is None:
            return super()._print_Function(expr)
        negative, coeff = split
        factor = "" if coeff == 1 else self.parenthesize(coeff, PRECEDENCE["Mul"]) + "*"
        return f"exp({'-' if negative else ''}{factor}t)"


def _global_names(action: Action | None) -> frozenset[str]:
    return frozenset(f.name for f in action.fields_on("global")) if action else frozenset()


def latex(expr: sp.Expr, frame: str = "node", *, action: Action | None = None) -> str:
    r"""LaTeX of one expression of the symbolic code, in a frame.

    Parameters
    ----------
    expr : a SymPy expression in the conventions of :mod:`stlp_sym.frames`.
    frame : ``"node"`` (node ``i``), ``"edge"`` (arc ``j -> i``) or ``"global"``.
    action : if given, its global fields print without an index.

    Returns
    -------
    str
        LaTeX that amsmath and matplotlib's mathtext both accept.

    Examples
    --------
    >>> import sympy as sp
    >>> from stlp_sym.action import IS_OUTPUT, fn, t
    >>> latex(fn("x").diff(t, 2) - sp.Symbol("r_w") * IS_OUTPUT)
    '- [i \\in O] r_{w} + \\ddot{x}_{i}'
    >>> latex(sp.exp(sp.Symbol("theta") * t) * fn("lambda_hat"))
    '\\hat{\\lambda}_{i} e^{\\theta t}'
    """
    return _LatexFramePrinter(frame, _global_names(action)).doprint(expr)


def text(expr: sp.Expr, frame: str = "node", *, action: Action | None = None) -> str:
    """Plain text of one expression in a frame (``x_i'``, ``w_ij``, ``sum_{j in pa(i)} (...)``).

    >>> from stlp_sym.action import fn, t
    >>> text(fn("w").diff(t, 2) + fn("w").diff(t, 4) * fn("x__src"), "edge")
    "x_j*Dt(w_ij, 4) + w_ij''"
    """
    return _TextFramePrinter(frame, _global_names(action)).doprint(expr)


# --------------------------------------------------------------------------- actions


def _fmt(value: float) -> str:
    return f"{value:g}"


def _text_escape(words: str) -> str:
    """Escape what is special in LaTeX text mode (``\\text{...}``, paragraphs).

    >>> print(_text_escape("L = qdot^2/2, x_hat & 5% ~ {a}"))
    L = qdot\\^{}2/2, x\\_hat \\& 5\\% \\~{} \\{a\\}
    """
    special = {"\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}"}
    special |= {c: "\\" + c for c in "_&%$#{}"}
    return "".join(special.get(c, c) for c in words)


Where = tuple[tuple[str, str], ...]


def _where(action: Action, field: Field) -> Where:
    """Where a node field is an unknown, as ``(("in", "N"),)``-style ``(relation, set)`` pairs.

    A field restricted to a role lives on that role's nodes; a clamp takes its nodes away.
    """
    if field.domain != "node":
        return ()
    clamp = action.clamp_of(field.name)
    role = field.role
    if clamp is not None and clamp.role == "input" and role in ("all", "free"):
        return (("in", "N"),)
    conditions = [("in", ROLE_SETS[role])] if role != "all" else []
    if clamp is not None:
        conditions.append(("notin", ROLE_SETS[clamp.role]))
    return tuple(conditions)


def _latex_where(where: Where) -> str:
    return ",\\ ".join(rf"i \{relation} {letter}" for relation, letter in where)


def _text_where(where: Where) -> str:
    words = {"in": "in", "notin": "not in"}
    return ", ".join(f"i {words[relation]} {letter}" for relation, letter in where)


def _field_declaration(action: Action, field: Field) -> str:
    symbol = latex(field.symbol, field.domain, action=action)
    notes = [_latex_where((("in", ROLE_SETS[field.role]),))] if field.role != "all" else []
    if field.multiplier:
        notes.append(r"\text{multiplier}")
    separator = ",\\ "
    return symbol + (rf"\ ({separator.join(notes)})" if notes else "")


def _aggregate_line(aggregate: Aggregate, printer: _LatexFramePrinter | _TextFramePrinter) -> str:
    """``a_i = sum_{j in pa(i)} (g)`` (or over ``ch(i)`` for an outgoing aggregate)."""
    kind = InSum if aggregate.direction == "in" else OutSum
    lhs = printer.doprint(sp.Function(aggregate.name)(t))
    return f"{lhs} = {printer._print_sum(kind, aggregate.expr)}"


def latex_action(action: Action) -> list[str]:
    r"""The action as LaTeX lines: ``S``, the Lagrangian's terms, declarations, aggregates, clamps.

    Returns
    -------
    list of str
        ``S = \int_0^T L\,dt`` with ``L = \sum_i L_i + \sum_{(j,i)} L_{ij} + L_{\mathrm{global}}``
        (zero terms left out), one line per non-zero term, the fields, the parameters with their
        defaults, each aggregate ``a_{i} = \sum_{j \in pa(i)} \left( ... \right)`` and each clamp
        ``x_{i} = u_{i}(t),\ i \in I``.

    Examples
    --------
    >>> from stlp_sym.models import MODELS
    >>> lines = latex_action(MODELS["stlp"].build())
    >>> lines[0]
    'S = \\int_0^T L\\,dt,\\qquad L = \\sum_{i \\in V} L_{i} + \\sum_{(j,i) \\in A} L_{ij}'
    >>> lines[-2:]
    ['a_{i} = \\sum_{j \\in pa(i)} \\left( w_{ij} x_{j} \\right)', 'x_{i} = u_{i}(t),\\ i \\in I']
    """
    terms = action.lagrangian_terms
    names = {"node": r"\sum_{i \in V} L_{i}", "edge": r"\sum_{(j,i) \in A} L_{ij}"}
    names["global"] = r"L_{\mathrm{global}}"
    present = [domain for domain in FRAMES if terms[domain] != 0]
    total = " + ".join(names[d] for d in present) or "0"
    lines = [rf"S = \int_0^T L\,dt,\qquad L = {total}"]
    heads = {"node": "L_{i}", "edge": "L_{ij}", "global": r"L_{\mathrm{global}}"}
    lines += [f"{heads[d]} = {latex(terms[d], d, action=action)}" for d in present]
    fields = ",\\quad ".join(_field_declaration(action, f) for f in action.fields)
    lines.append(rf"\text{{fields: }}{fields}")
    if action.parameters:
        values = ",\\ ".join(f"{latex(p.symbol)} = {_fmt(p.default)}" for p in action.parameters)
        lines.append(rf"\text{{parameters: }}{values}")
    printer = _LatexFramePrinter("node", _global_names(action))
    lines += [_aggregate_line(a, printer) for a in action.aggregates]
    for clamp in action.clamps:
        field = latex(sp.Function(clamp.field)(t), action=action)
        signal = latex(sp.Function(clamp.signal)(t), action=action)
        lines.append(rf"{field} = {signal}(t),\ i \in {ROLE_SETS[clamp.role]}")
    return lines


# --------------------------------------------------------------------------- derivations


def _derived_aggregates(derivation: Derivation) -> list[Aggregate]:
    """Aggregates the derivation introduced (time derivatives such as ``a_d1``)."""
    declared = {a.name for a in derivation.action.aggregates}
    return [a for a in derivation.aggregates if a.name not in declared]


def _equation_parts(derivation: Derivation, printer: type) -> list[tuple[str, str, str, Where]]:
    """Per line: ``(kind, label, body, where)`` in the printer's language.

    ``kind`` is ``"heading"``, ``"equation"``, ``"constraint"``, ``"definition"`` or
    ``"state"``; shared by :func:`latex_equations` and :func:`text_equations`.
    """
    action = derivation.action
    names = _global_names(action)

    def show(expr: sp.Expr, frame: str) -> str:
        return printer(frame, names).doprint(expr)

    title = "Euler-Lagrange equations"
    if derivation.transforms:
        title += f" (after {', '.join(derivation.transforms)})"
    parts: list[tuple[str, str, str, Where]] = [("heading", title, "", ())]
    for eq in derivation.equations:
        kind = "constraint" if eq.is_constraint else "equation"
        where = _where(action, eq.field)
        parts.append((kind, eq.field.name, show(eq.lhs, eq.field.domain), where))
    for aggregate in _derived_aggregates(derivation):
        parts.append(("definition", "", _aggregate_line(aggregate, printer("node", names)), ()))
    system = derivation.system
    if system is None:
        return parts
    parts.append(("heading", "First-order system", "", ()))
    states = [show(s.expr, s.field.domain) for s in system.states]
    parts.append(("states", "", ", ".join(states), ()))
    for state in system.states:
        rhs = system.rhs(state)
        if rhs == sp.Derivative(state.expr, t):
            continue  # the chain q_dK' = q_d(K+1), implied by the list of states
        frame = state.field.domain
        lhs = show(sp.Derivative(state.expr, t), frame)
        parts.append(("state", "", f"{lhs} = {show(rhs, frame)}", _where(action, state.field)))
    for name in system.algebraic:
        field = action.field(name)
        lhs = show(field.symbol, field.domain)
        body = f"{lhs} = {show(system.solution[name], field.domain)}"
        parts.append(("state", "", body, _where(action, field)))
    return parts


def latex_equations(derivation: Derivation) -> list[str]:
    r"""The derived equations as LaTeX lines, then the explicit first-order system.

    One line ``\text{x}:\ <lhs> = 0`` per field (``lhs = sign P0 + P1`` in the field's frame,
    a multiplier's line marked ``\text{(constraint)}``), the derived aggregates, and, when
    ``derivation.system`` exists, the list of states and ``\dot{s} = rhs`` for every state
    whose right-hand side is not simply the next state of the chain, then the algebraic fields.
    Node equations say where they hold (``i \in N``: not on clamped inputs).

    Examples
    --------
    >>> from stlp_sym.derivation import derive
    >>> from stlp_sym.models import MODELS
    >>> lines = latex_equations(derive(MODELS["pendulum"].build()))
    >>> lines[1]
    'q:\\ - \\sin{\\left(q_{i} \\right)} - \\ddot{q}_{i} = 0'
    >>> lines[-1]
    '\\ddot{q}_{i} = - \\sin{\\left(q_{i} \\right)}'
    """
    lines = []
    for kind, label, body, where in _equation_parts(derivation, _LatexFramePrinter):
        suffix = rf",\quad {_latex_where(where)}" if where else ""
        if kind == "heading":
            lines.append(rf"\text{{{_text_escape(label)}}}")
        elif kind == "states":
            lines.append(rf"\text{{states: }}{body}")
        elif kind in ("equation", "constraint"):
            mark = r"\qquad\text{(constraint)}" if kind == "constraint" else ""
            # The field's symbol (no index) names the equation: mathtext's \text cannot
            # show underscores.
            name = latex(sp.Function(label)(t), "global")
            lines.append(rf"{name}:\ {body} = 0{suffix}{mark}")
        else:
            lines.append(body + suffix)
    return lines


def text_equations(derivation: Derivation) -> list[str]:
    """A plain-text version of :func:`latex_equations`, for the terminal.

    Examples
    --------
    >>> from stlp_sym.derivation import derive
    >>> from stlp_sym.models import MODELS
    >>> for line in text_equations(derive(MODELS["pendulum"].build())):
    ...     print(line)
    Euler-Lagrange equations:
      q:  -sin(q_i) - q_i'' = 0
    First-order system:
      states: q_i, q_i'
      q_i'' = -sin(q_i)
    """
    lines = []
    for kind, label, body, where in _equation_parts(derivation, _TextFramePrinter):
        suffix = f"    ({_text_where(where)})" if where else ""
        if kind == "heading":
            lines.append(f"{label}:")
        elif kind == "states":
            lines.append(f"  states: {body}")
        elif kind in ("equation", "constraint"):
            mark = "    [constraint]" if kind == "constraint" else ""
            lines.append(f"  {label}:  {body} = 0{suffix}{mark}")
        else:
            lines.append(f"  {body}{suffix}")
    return lines


_HEADING = re.compile(r"^\\text\{([^{}]*)\}$")


def latex_document(derivation: Derivation) -> str:
    r"""A standalone LaTeX document (article, amsmath) of the action and its equations.

    Lines that are only ``\text{...}`` become unnumbered subsections; the others are displays.

    >>> from stlp_sym.derivation import derive
    >>> from stlp_sym.models import MODELS
    >>> doc = latex_document(derive(MODELS["pendulum"].build()))
    >>> doc.splitlines()[0], doc.rstrip().splitlines()[-1]
    ('\\documentclass{article}', '\\end{document}')
    """
    action = derivation.action
    body = [rf"\section*{{{_text_escape(action.name)}}}"]
    if action.description:
        body.append(_text_escape(action.description))
    body.append(r"\subsection*{Action}")
    for line in [*latex_action(action), *latex_equations(derivation)]:
        heading = _HEADING.match(line)
        if heading:
            body.append(rf"\subsection*{{{heading[1]}}}")
        else:
            body.append(rf"\[ {line} \]")
    preamble = [
        r"\documentclass{article}",
        r"\usepackage{amsmath}",
        r"\usepackage[margin=1.5cm,landscape]{geometry}",
        r"\allowdisplaybreaks",
        r"\begin{document}",
    ]
    return "\n".join([*preamble, *body, r"\end{document}", ""])


# --------------------------------------------------------------------------- PNG


def render_png(
    lines: Sequence[str], path: str | os.PathLike[str], *, fontsize: float = 14, dpi: int = 120
) -> Path:
    """Render LaTeX lines with matplotlib's mathtext (no TeX needed) into a PNG file.

    One line per equation, left-aligned, in a figure sized to fit the widest line. The file is
    written to a temporary name in the same directory and moved into place with ``os.replace``.

    Parameters
    ----------
    lines : LaTeX math lines (without ``$``), e.g. from :func:`latex_equations`.
    path : the PNG file to write.
    fontsize, dpi : text size in points and resolution.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    StlpError
        When there are no lines, or mathtext cannot parse one (the message names the line).
    """
    import matplotlib  # lazily: only this function needs it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not lines:
        raise StlpError("render_png: there are no lines to render")
    path = Path(path)
    margin, gap = 0.25 * dpi, 0.6 * fontsize / 72 * dpi  # pixels
    with matplotlib.rc_context({"text.usetex": False, "mathtext.fontset": "cm"}):
        figure = Figure(figsize=(1, 1), dpi=dpi)
        canvas = FigureCanvasAgg(figure)
        texts = [figure.text(0, 0, f"${line}$", fontsize=fontsize, va="bottom") for line in lines]
        renderer = canvas.get_renderer()
        sizes = []
        for number, (line, item) in enumerate(zip(lines, texts, strict=True), 1):
            try:
                box = item.get_window_extent(renderer)
            except ValueError as exc:
                raise StlpError(f"line {number} cannot be rendered by mathtext: {line!r}") from exc
            sizes.append((box.width, box.height))
        width = max(w for w, _ in sizes) + 2 * margin
        height = sum(h for _, h in sizes) + gap * (len(lines) - 1) + 2 * margin
        figure.set_size_inches(width / dpi, height / dpi)
        top = height - margin
        for item, (_, h) in zip(texts, sizes, strict=True):
            top -= h
            item.set_position((margin / width, top / height))
            top -= gap
        path.parent.mkdir(parents=True, exist_ok=True)
        # A unique name beside the target, created like any file (so the umask applies).
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        try:
            with open(temporary, "xb") as stream:
                figure.savefig(stream, format="png", dpi=dpi, facecolor="white")
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    return path
