"""Options: how an action becomes code (a small frozen record, free of SymPy).

One :class:`Options` serves every command and is part of every cache key.

>>> Options(integrator="rk4", backend="numpy").describe()
'flip=True normalise=True policy=none integrator=rk4 cse=True backend=numpy'
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from typing import Literal

from .codegen.integrators import INTEGRATORS as INTEGRATOR_RECORDS
from .errors import ActionError

Policy = Literal["none", "penalty", "ascent", "exact"]
Integrator = Literal["euler", "semi-implicit", "heun", "rk4"]
Backend = Literal["numpy", "numba"]
POLICIES: tuple[str, ...] = ("none", "penalty", "ascent", "exact")
BACKENDS: tuple[str, ...] = ("numpy", "numba")
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
    backend : ``numpy`` (a module that imports only NumPy) or ``numba`` (compiled loops); None
        chooses when the module is built (:func:`resolved`).
    """

    flip: bool = True
    normalise: bool = True
    policy: Policy = "none"
    integrator: Integrator = "euler"
    cse: bool = True
    backend: Backend | None = None

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ActionError(f"policy {self.policy!r} is not one of {', '.join(POLICIES)}")
        if self.integrator not in INTEGRATORS:
            raise ActionError(
                f"integrator {self.integrator!r} is not one of {', '.join(INTEGRATORS)}"
            )
        if self.backend is not None and self.backend not in BACKENDS:
            raise ActionError(
                f"backend {self.backend!r} is not one of {', '.join(BACKENDS)} (or None: automatic)"
            )

    def describe(self) -> str:
        """``flip=True normalise=True ...`` for listings and headers."""
        return " ".join(f"{k}={v}" for k, v in asdict(self).items())


def numba_available() -> bool:
    """True when Numba imports."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


_SAID: set[str] = set()
#: whether notes such as the backend chosen are printed (``stlp ... --quiet`` turns them off)
_NOTES = {"enabled": True}


def set_notes(enabled: bool) -> None:
    """Print (or not) the one-line notes on standard error, such as the backend chosen."""
    _NOTES["enabled"] = bool(enabled)


def resolved(options: Options) -> Options:
    """``options`` with ``backend=None`` resolved: ``numba`` when it imports and generates
    these options, else ``numpy``; says which, once per process, in one line (stderr)."""
    if options.backend is not None:
        return options
    from dataclasses import replace

    from .codegen.backends import numba_supports

    if not numba_available():
        backend, why = "numpy", "numba does not import"
    elif not numba_supports(options):
        backend, why = "numpy", f"the numba backend does not generate {options.describe()}"
    else:
        backend, why = "numba", "numba imports"
    line = f"stlp_sym: backend {backend} (automatic: {why})"
    if line not in _SAID and _NOTES["enabled"]:
        _SAID.add(line)
        print(line, file=sys.stderr)
    return replace(options, backend=backend)
