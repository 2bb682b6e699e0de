r"""LaTeX and plain-text printing of actions and derivations, and a PNG of the LaTeX lines.

Expressions are printed in a *frame* (:mod:`stlp_sym.symbolic.frames`), which fixes the index
of every quantity:

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
line renders with matplotlib's mathtext (:func:`stlp_sym.display.png.render_png`) as well as
with LaTeX and amsmath.
The plain-text printer writes ``x_i'``, ``w_ij''``, ``Dt(w_ij, 4)``, ``[i in O]`` and
``sum_{j in pa(i)} (...)``.

The frame-aware printers and :func:`latex` / :func:`text` live in
:mod:`stlp_sym.symbolic.frameprint`; this module re-exports them and builds the lines of
actions and derivations.

>>> from stlp_sym.symbolic.vocabulary import fn, t
>>> from stlp_sym.symbolic.frames import OutSum
>>> latex(fn("lambda__dst") * fn("w") + fn("x__src").diff(t), "edge")
'\\lambda_{i} w_{ij} + \\dot{x}_{j}'
>>> text(OutSum(fn("lambda__dst") * fn("w")), "node")
'sum_{k in ch(i)} (lambda_k*w_ki)'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import sympy as sp

from .frameprint import (
    FRAMES,
    ROLE_SETS,
    LatexFramePrinter,
    TextFramePrinter,
    frame_of,
    global_names_of,
    latex,
    text,
)
from .frames import InSum, OutSum
from .vocabulary import Aggregate, Field, t

if TYPE_CHECKING:
    from .action import Action
    from .derivation import Derivation, FieldEquation
    from .expansion import ExpandedEquations
    from .system import FirstOrderSystem

__all__ = [
    "latex",
    "latex_action",
    "latex_document",
    "latex_equations",
    "latex_expanded",
    "latex_field_equation",
    "latex_system",
    "text",
    "text_equations",
]


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


def _aggregate_line(aggregate: Aggregate, printer: LatexFramePrinter | TextFramePrinter) -> str:
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
    >>> from stlp_sym.symbolic.models import MODELS
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
    printer = LatexFramePrinter("node", global_names_of(action))
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
    names = global_names_of(action)

    def show(expr: sp.Expr, frame: str) -> str:
        return printer(frame, names).doprint(expr)

    title = "Euler-Lagrange equations"
    if derivation.transforms:
        title += f" (after {', '.join(derivation.transforms)})"
    parts = [("heading", title, "", ())]
    for eq in derivation.equations:
        kind = "constraint" if eq.is_constraint else "equation"
        where = _where(action, eq.field)
        parts.append((kind, eq.field.name, show(eq.lhs, eq.field.domain), where))
    for aggregate in _derived_aggregates(derivation):
        parts.append(("definition", "", _aggregate_line(aggregate, printer("node", names)), ()))
    system = derivation.system
    if system is None:
        return parts

    def where(name: str) -> Where:
        return _where(action, action.field(name))

    def frame(name: str, _rhs: sp.Expr) -> str:
        return action.field(name).domain

    return parts + _system_parts(system, show, frame, where)


def _system_parts(
    system: FirstOrderSystem,
    show: Callable[[sp.Expr, str], str],
    frame: Callable[[str, sp.Expr], str],
    where: Callable[[str], Where],
) -> list[tuple[str, str, str, Where]]:
    """The ``"heading"``, ``"states"`` and ``"state"`` parts of a first-order system.

    ``frame(field, rhs)`` is the frame a field's quantities print in and ``where(field)`` where
    its equations hold.
    """
    parts: list[tuple[str, str, str, Where]] = [("heading", "First-order system", "", ())]
    states = [show(s.expr, s.field.domain) for s in system.states]
    parts.append(("states", "", ", ".join(states), ()))
    for state in system.states:
        rhs = system.rhs(state)
        if rhs == sp.Derivative(state.expr, t):
            continue  # the chain q_dK' = q_d(K+1), implied by the list of states
        name = state.field.name
        lhs = show(sp.Derivative(state.expr, t), state.field.domain)
        parts.append(("state", "", f"{lhs} = {show(rhs, state.field.domain)}", where(name)))
    for name in system.algebraic:
        rhs = system.solution[name]
        domain = frame(name, rhs)
        body = f"{show(system.leading[name], domain)} = {show(rhs, domain)}"
        parts.append(("state", "", body, where(name)))
    return parts


def _latex_lines(parts: list[tuple[str, str, str, Where]]) -> list[str]:
    """LaTeX lines of :func:`_equation_parts` or :func:`_system_parts`."""
    lines = []
    for kind, label, body, where in parts:
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


def latex_equations(derivation: Derivation) -> list[str]:
    r"""The derived equations as LaTeX lines, then the explicit first-order system.

    One line ``\text{x}:\ <lhs> = 0`` per field (``lhs = sign P0 + P1`` in the field's frame,
    a multiplier's line marked ``\text{(constraint)}``), the derived aggregates, and, when
    ``derivation.system`` exists, the list of states and ``\dot{s} = rhs`` for every state
    whose right-hand side is not simply the next state of the chain, then the algebraic fields.
    Node equations say where they hold (``i \in N``: not on clamped inputs).

    Examples
    --------
    >>> from stlp_sym.symbolic.derivation import derive
    >>> from stlp_sym.symbolic.models import MODELS
    >>> lines = latex_equations(derive(MODELS["pendulum"].build()))
    >>> lines[1]
    'q:\\ - \\sin{\\left(q_{i} \\right)} - \\ddot{q}_{i} = 0'
    >>> lines[-1]
    '\\ddot{q}_{i} = - \\sin{\\left(q_{i} \\right)}'
    """
    return _latex_lines(_equation_parts(derivation, LatexFramePrinter))


def latex_system(system: FirstOrderSystem) -> list[str]:
    r"""A first-order system on its own as LaTeX lines: the states, then ``\dot{s} = rhs``.

    Without the action, a global field prints with an index and an algebraic field in the frame
    :func:`~stlp_sym.symbolic.frameprint.frame_of` reads off its solution;
    :func:`latex_equations` knows both.

    >>> from stlp_sym.symbolic.derivation import derive
    >>> from stlp_sym.symbolic.models import MODELS
    >>> latex_system(derive(MODELS["pendulum"].build()).system)[1:]
    ['\\text{states: }q_{i}, \\dot{q}_{i}', '\\ddot{q}_{i} = - \\sin{\\left(q_{i} \\right)}']
    """

    def show(expr: sp.Expr, frame: str) -> str:
        return LatexFramePrinter(frame).doprint(expr)

    return _latex_lines(_system_parts(system, show, lambda _name, rhs: frame_of(rhs), lambda _: ()))


def latex_field_equation(equation: FieldEquation) -> str:
    r"""One field's equation ``name:\ lhs = 0`` in its domain's frame.

    >>> from stlp_sym.symbolic.derivation import derive
    >>> from stlp_sym.symbolic.models import MODELS
    >>> latex_field_equation(derive(MODELS["pendulum"].build()).field_equation("q"))
    'q:\\ - \\sin{\\left(q_{i} \\right)} - \\ddot{q}_{i} = 0'
    """
    field = equation.field
    kind = "constraint" if equation.is_constraint else "equation"
    body = latex(equation.lhs, field.domain)
    return _latex_lines([(kind, field.name, body, ())])[0]


def latex_expanded(expanded: ExpandedEquations) -> list[str]:
    r"""The rows ``leading &= solution`` of a graph's solved system (``0 &= lhs`` without one).

    Concrete names print with their place: ``x[3]`` -> ``x_{3}``, ``lambda_hat[3]`` ->
    ``\hat{\lambda}_{3}``, ``w[0->1]`` -> ``w_{0 \to 1}``.

    >>> from stlp_sym.graph.digraph import Digraph
    >>> from stlp_sym.symbolic.expansion import expand
    >>> from stlp_sym.symbolic.models import MODELS
    >>> from stlp_sym.symbolic.transforms import apply_options
    >>> stlp = MODELS["stlp"]
    >>> expanded = expand(apply_options(stlp.build(), stlp.options), Digraph.from_spec("chain:2"))
    >>> sorted(expanded.solution)
    [('lambda_hat', 1), ('w', 0), ('x', 1)]
    >>> print(latex_expanded(expanded)[-1])
    \dot{x}_{1} &= - c x_{1} + c \tanh{\left(u_{0} w_{0 \to 1} \right)}
    """
    printer = LatexFramePrinter("global")
    if expanded.solution:
        return [
            f"{printer.doprint(expanded.leading[key])} &= {printer.doprint(value)}"
            for key, value in sorted(expanded.solution.items())
        ]
    return [f"0 &= {printer.doprint(value)}" for _, value in sorted(expanded.equations.items())]


def text_equations(derivation: Derivation) -> list[str]:
    """A plain-text version of :func:`latex_equations`, for the terminal.

    Examples
    --------
    >>> from stlp_sym.symbolic.derivation import derive
    >>> from stlp_sym.symbolic.models import MODELS
    >>> for line in text_equations(derive(MODELS["pendulum"].build())):
    ...     print(line)
    Euler-Lagrange equations:
      q:  -sin(q_i) - q_i'' = 0
    First-order system:
      states: q_i, q_i'
      q_i'' = -sin(q_i)
    """
    lines = []
    for kind, label, body, where in _equation_parts(derivation, TextFramePrinter):
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


def latex_document(derivation: Derivation, equations: Sequence[str] | None = None) -> str:
    r"""A standalone LaTeX document (article, amsmath) of the action and its equations.

    ``equations`` (LaTeX lines) replace :func:`latex_equations`, e.g. the equations written out
    on a graph (:func:`~stlp_sym.symbolic.expandprint.expanded_latex`). Lines that are only
    ``\text{...}`` become unnumbered subsections; the others are displays.

    >>> from stlp_sym.symbolic.derivation import derive
    >>> from stlp_sym.symbolic.models import MODELS
    >>> doc = latex_document(derive(MODELS["pendulum"].build()))
    >>> doc.splitlines()[0], doc.rstrip().splitlines()[-1]
    ('\\documentclass{article}', '\\end{document}')
    """
    action = derivation.action
    body = [rf"\section*{{{_text_escape(action.name)}}}"]
    if action.description:
        body.append(_text_escape(action.description))
    body.append(r"\subsection*{Action}")
    equations = latex_equations(derivation) if equations is None else equations
    for line in [*latex_action(action), *equations]:
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
