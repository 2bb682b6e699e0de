"""The frame-aware LaTeX and plain-text printers of expressions, and :func:`latex` / :func:`text`.

A frame (:mod:`stlp_sym.symbolic.frames`) fixes the index of every quantity: ``x(t)`` ->
``x_{i}`` in the frame of node ``i``, ``x__src`` -> ``x_{j}`` on the arc ``j -> i``, and a
neighbour sum prints its argument in the frame of its summation index.
:mod:`stlp_sym.symbolic.printing` describes the notation in full and builds the lines of actions
and derivations from these printers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.conventions import split_super_sub
from sympy.printing.latex import LatexPrinter, translate
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from ..errors import ActionError, InternalError
from .frames import EdgeSum, InSum, NeighbourSum, NodeSum, OutSum
from .vocabulary import ROLE_INDICATORS, split_end, t

if TYPE_CHECKING:
    from .action import Action

FRAMES = ("node", "edge", "global")
#: Letters of the role sets in Iverson brackets: ``is_output`` -> ``[i \in O]``.
ROLE_SETS = {"input": "I", "output": "O", "free": "N", "hidden": "H", "all": "V"}
_ROLE_OF_INDICATOR = {symbol.name: ROLE_SETS[role] for role, symbol in ROLE_INDICATORS.items()}
_ORDER_SUFFIX = re.compile(r"^(?P<core>.+)_d(?P<order>[0-9]+)$")
#: The suffix of a normalised multiplier's name (``lambda`` -> ``lambda_hat``), printed as a hat.
_HAT = "_hat"
#: A concrete name of an expanded graph: ``x[3]`` (node 3), ``w[0->1]`` (the arc 0 -> 1).
_PLACE = re.compile(r"^(?P<name>[^\[]+)\[(?P<place>[^\]]*)\]$")
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
    raise InternalError(f"unknown neighbour sum {kind.__name__}")


def _parse_name(name: str) -> tuple[str, bool, int, str | None]:
    """``"lambda_hat_d2"`` -> ``("lambda", True, 2, None)``: core name, hat, derivative order
    and the place of a concrete name of an expanded graph (``"lambda_hat[3]"`` -> ``"3"``,
    ``"w[0->1]"`` -> ``"0->1"``)."""
    place = None
    match = _PLACE.match(name)
    if match:
        name, place = match["name"], match["place"]
    order = 0
    match = _ORDER_SUFFIX.match(name)
    if match:
        name, order = match["core"], int(match["order"])
    hat = name.endswith(_HAT)
    return (name[: -len(_HAT)] if hat else name), hat, order, place


def frame_of(expr: sp.Basic) -> str:
    """The frame an expression is most likely written in, for printing it without context.

    ``"edge"`` when a quantity outside the neighbour sums is taken at an arc end (``x__src``,
    ``is_output__dst``), else ``"node"``. An edge expression with no arc end (``w'' + w``)
    reads as a node one: print it with ``latex(expr, "edge")`` instead.

    >>> from stlp_sym.symbolic.vocabulary import fn, src
    >>> frame_of(fn("w") * src(fn("x"))), frame_of(fn("x").diff())
    ('edge', 'node')
    """
    outside = sp.sympify(expr).replace(NeighbourSum, lambda *_args: sp.S.Zero)
    atoms = outside.atoms(AppliedUndef, sp.Symbol)
    names = (a.func.__name__ if isinstance(a, AppliedUndef) else a.name for a in atoms)
    return "edge" if any(split_end(n)[1] is not None for n in names) else "node"


class _FrameMixin:
    """What both printers share: the stack of frames, the global names, quantities, sums."""

    _frames: list[_Frame]
    _globals: frozenset[str]

    def _setup(self, frame: str, global_names: frozenset[str]) -> None:
        if frame not in FRAMES:
            raise ActionError(f"frame must be one of {FRAMES}, not {frame!r}")
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
        # A concrete name of an expanded graph carries its own place, a global none.
        unindexed = base in self._globals or _PLACE.match(base) is not None
        index = None if unindexed else self.frame.index(end, end is not None)
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


class LatexFramePrinter(_FrameMixin, LatexPrinter):
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
        r"""``lambda_hat``, ``i``, 1 -> ``\dot{\hat{\lambda}}_{i}``; ``r_w`` -> ``r_{w}``;
        ``w[0->1]`` -> ``w_{0 \to 1}``."""
        core, hat, own_order, place = _parse_name(name)
        order += own_order
        head, _supers, subs = split_super_sub(core)
        tex = translate(head)
        if hat:
            tex = rf"\hat{{{tex}}}"
        if order in _DOTS:
            tex = rf"{_DOTS[order]}{{{tex}}}"
        elif order:
            tex = rf"{tex}^{{({order})}}"
        if place is not None:
            index = place.replace("->", r" \to ")
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


class TextFramePrinter(_FrameMixin, StrPrinter):
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
        """``lambda_hat``, ``i``, 1 -> ``lambda_hat_i'``; order 4 -> ``Dt(w_ij, 4)``;
        ``w[0->1]`` stays ``w[0->1]``."""
        core, hat, own_order, place = _parse_name(name)
        order += own_order
        body = f"{core}{_HAT}" if hat else core
        body = f"{body}_{index}" if index else body
        body = body if place is None else f"{body}[{place}]"
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


def global_names_of(action: Action | None) -> frozenset[str]:
    return frozenset(f.name for f in action.fields_on("global")) if action else frozenset()


def latex(expr: sp.Expr, frame: str = "node", *, action: Action | None = None) -> str:
    r"""LaTeX of one expression of the symbolic code, in a frame.

    Parameters
    ----------
    expr : a SymPy expression in the conventions of :mod:`stlp_sym.symbolic.frames`.
    frame : ``"node"`` (node ``i``), ``"edge"`` (arc ``j -> i``) or ``"global"``.
    action : if given, its global fields print without an index.

    Returns
    -------
    str
        LaTeX that amsmath and matplotlib's mathtext both accept.

    Examples
    --------
    >>> import sympy as sp
    >>> from stlp_sym.symbolic.vocabulary import IS_OUTPUT, fn, t
    >>> latex(fn("x").diff(t, 2) - sp.Symbol("r_w") * IS_OUTPUT)
    '- [i \\in O] r_{w} + \\ddot{x}_{i}'
    >>> latex(sp.exp(sp.Symbol("theta") * t) * fn("lambda_hat"))
    '\\hat{\\lambda}_{i} e^{\\theta t}'
    """
    return LatexFramePrinter(frame, global_names_of(action)).doprint(expr)


def text(expr: sp.Expr, frame: str = "node", *, action: Action | None = None) -> str:
    """Plain text of one expression in a frame (``x_i'``, ``w_ij``, ``sum_{j in pa(i)} (...)``).

    >>> from stlp_sym.symbolic.vocabulary import fn, t
    >>> text(fn("w").diff(t, 2) + fn("w").diff(t, 4) * fn("x__src"), "edge")
    "x_j*Dt(w_ij, 4) + w_ij''"
    """
    return TextFramePrinter(frame, global_names_of(action)).doprint(expr)
