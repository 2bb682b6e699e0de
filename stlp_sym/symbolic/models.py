"""The built-in models: the actions of docs/theory.md section 3.

Each builder returns a fresh :class:`~stlp_sym.symbolic.action.Action`; :data:`MODELS` lists
them by the name the command line uses.

>>> sorted(MODELS)
['cal4', 'henon-heiles', 'high-order', 'pendulum', 'stlp', 'stlp-holonomic']
>>> MODELS["stlp"].build().parameter_defaults["q"]
100.0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp

from ..options import Options
from .action import Action
from .vocabulary import IS_FREE, IS_OUTPUT, Aggregate, Clamp, Field, Parameter, Signal, fn, src, t

x, w, lam, u, z, a = (fn(name) for name in ("x", "w", "lambda", "u", "z", "a"))
c, theta, q, r, r_w, m_x, m_w, alpha = sp.symbols("c theta q r r_w m_x m_w alpha")
phi = sp.exp(theta * t)
sigma = sp.tanh

_NEURAL = {
    "signals": (Signal("u", "input"), Signal("z", "output")),
    "clamps": (Clamp("x", "u", "input"),),
    "aggregates": (Aggregate("a", w * src(x)),),
    "output": "x",
    "target": "z",
}
_TRACKING = phi * q / 2 * IS_OUTPUT * (x - z) ** 2


def stlp() -> Action:
    """docs/theory.md section 3: the neural ODE constraint ``xdot = c (sigma(a) - x)``."""
    return Action(
        name="stlp",
        factor=phi,
        description="STLP, neural ODE constraint xdot = c (sigma(a) - x) (Hamiltonian view)",
        fields=(Field("x"), Field("lambda", role="free", multiplier=True), Field("w", "edge")),
        parameters=_parameters(c=1.0, theta=1.0, q=100.0, r=0.1, r_w=1.0),
        node=_TRACKING + lam * (x.diff(t) - c * (sigma(a) - x)),
        edge=phi * (r / 2 * w.diff(t) ** 2 + r_w / 2 * w**2),
        **_NEURAL,
    )


def stlp_holonomic() -> Action:
    """docs/theory.md section 3: the algebraic constraint ``x = sigma(a)`` with massive neurons."""
    return Action(
        name="stlp-holonomic",
        factor=phi,
        description="STLP with the algebraic constraint x = sigma(a) and massive neurons",
        fields=(Field("x"), Field("lambda", role="free", multiplier=True), Field("w", "edge")),
        parameters=_parameters(theta=2.0, q=100.0, m_x=0.1, m_w=0.1, r_w=1.0),
        node=phi * m_x / 2 * IS_FREE * x.diff(t) ** 2 + _TRACKING + lam * (x - sigma(a)),
        edge=phi * (m_w / 2 * w.diff(t) ** 2 + r_w / 2 * w**2),
        **_NEURAL,
    )


def cal4() -> Action:
    """docs/theory.md section 3: STLP whose weights carry a fourth-order (``wddot``) term."""
    return stlp().replace(
        name="cal4",
        description="STLP with a higher-order kinetic term on the weights (fourth-order w)",
        parameters=_parameters(c=1.0, theta=1.0, q=100.0, r=0.1, r_w=1.0, alpha=1e-3),
        edge=phi * (r / 2 * w.diff(t) ** 2 - alpha / 2 * w.diff(t, 2) ** 2 + r_w / 2 * w**2),
    )


def pendulum() -> Action:
    """SymPy's pendulum ``L = qdot^2/2 + cos q`` on a one-node graph."""
    qq = fn("q")
    return Action(
        name="pendulum",
        description="Mechanics: pendulum L = qdot^2/2 + cos q (one-node graph)",
        fields=(Field("q"),),
        node=qq.diff(t) ** 2 / 2 + sp.cos(qq),
    )


def henon_heiles() -> Action:
    """SymPy's Henon-Heiles Lagrangian on a one-node graph."""
    xx, yy = fn("x"), fn("y")
    kinetic = sum(v.diff(t) ** 2 / 2 - v**2 / 2 for v in (xx, yy))
    return Action(
        name="henon-heiles",
        description="Mechanics: Henon-Heiles (one-node graph)",
        fields=(Field("x"), Field("y")),
        node=kinetic - xx**2 * yy + yy**3 / 3,
    )


def high_order() -> Action:
    """SymPy's third-derivative case ``m xdot^2/2 + m ydot^2/2 - k xdot yddot + k ydot xddot``."""
    xx, yy = fn("x"), fn("y")
    m, k = sp.symbols("m k")
    lagrangian = m * xx.diff(t) ** 2 / 2 + m * yy.diff(t) ** 2 / 2
    lagrangian += -k * xx.diff(t) * yy.diff(t, 2) + k * yy.diff(t) * xx.diff(t, 2)
    return Action(
        name="high-order",
        description="Mechanics: third-order cross-coupled Lagrangian (one-node graph)",
        fields=(Field("x"), Field("y")),
        parameters=_parameters(m=1.0, k=1.0),
        node=lagrangian,
    )


def _parameters(**defaults: float) -> tuple[Parameter, ...]:
    return tuple(Parameter(name, value) for name, value in defaults.items())


@dataclass(frozen=True)
class Model:
    """A built-in model: its name, the builder of its action and its default options."""

    name: str
    build: Callable[[], Action]
    options: Options = field(default_factory=Options)

    @property
    def description(self) -> str:
        return self.build().description

    def _repr_markdown_(self) -> str:
        """Name, description and default options, then the action, for notebooks."""
        action = self.build()
        return (
            f"**{self.name}**: {action.description}  \n"
            f"options: `{self.options.describe()}`\n\n{action._repr_latex_()}"
        )


# Mechanics models are never flipped and have no multipliers to normalise.
_MECHANICS = Options(flip=False, normalise=False, integrator="rk4")

MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model("stlp", stlp, Options()),
        Model("stlp-holonomic", stlp_holonomic, Options(policy="penalty")),
        Model("cal4", cal4, Options(integrator="rk4")),
        Model("pendulum", pendulum, _MECHANICS),
        Model("henon-heiles", henon_heiles, _MECHANICS),
        Model("high-order", high_order, _MECHANICS),
    )
}
