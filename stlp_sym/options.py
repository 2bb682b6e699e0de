"""Options: how an action becomes code (a small frozen record, free of SymPy).

One :class:`Options` serves every command and is part of every cache key.

>>> Options(integrator="rk4").describe()
'flip=True normalise=True policy=none integrator=rk4 cse=True'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from .codegen.integrators import INTEGRATORS as INTEGRATOR_RECORDS
from .errors import ActionError

Policy = Literal["none", "penalty", "ascent", "exact"]
Integrator = Literal["euler", "semi-implicit", "heun", "rk4"]
POLICIES: tuple[str, ...] = ("none", "penalty", "ascent", "exact")
#: the names of :data:`~stlp_sym.codegen.integrators.INTEGRATORS`, the one record per method
INTEGRATORS: tuple[str, ...] = tuple(INTEGRATOR_RECORDS)


@dataclass(frozen=True)
class Options:
    """How an action becomes code; shared by every command and part of every cache key.

    flip : Hamiltonian sign flip, ``s = -1`` on every non-multiplier field.
    normalise : multipliers as ``factor * normalised multiplier``, equations divided by the
        factor's power.
    policy : for algebraic constraints: ``none``, ``penalty``, ``ascent`` or ``exact``.
    integrator : ``euler``, ``semi-implicit``, ``heun`` or ``rk4``.
    cse : common-subexpression elimination in generated code.
    """

    flip: bool = True
    normalise: bool = True
    policy: Policy = "none"
    integrator: Integrator = "euler"
    cse: bool = True

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ActionError(f"policy {self.policy!r} is not one of {', '.join(POLICIES)}")
        if self.integrator not in INTEGRATORS:
            raise ActionError(
                f"integrator {self.integrator!r} is not one of {', '.join(INTEGRATORS)}"
            )

    def describe(self) -> str:
        """``flip=True normalise=True ...`` for listings and headers."""
        return " ".join(f"{k}={v}" for k, v in asdict(self).items())
