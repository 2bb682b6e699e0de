"""The backends a module is generated for, and which options each one generates.

``numpy`` generates every option; ``numba`` (compiled loops printed from the same IR) is
chosen automatically only for the options it generates (:func:`numba_supports`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..options import Options


def numba_supports(options: Options) -> bool:
    """True when the numba backend generates a module for ``options`` (every option: its
    kernels are compiled, the integrators and policies are the NumPy backend's helpers)."""
    return True
