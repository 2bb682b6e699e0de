"""The package's own exception and warning types.

Every error a user can meet is one of these, with a message that names the input at fault and
what to do about it.
"""

from __future__ import annotations


class StlpError(Exception):
    """Base class of every error raised by stlp_sym on bad input."""


class GraphError(StlpError, ValueError):
    """An invalid digraph, graph spec or graph file."""


class ActionError(StlpError, ValueError):
    """An ill-formed action: undeclared symbols, bad identifiers, misplaced terms."""


class StructureError(StlpError):
    """The Euler-Lagrange equations cannot be turned into a local explicit first-order system.

    Raised (or recorded on a :class:`~stlp_sym.symbolic.derivation.Derivation`) for an algebraic
    constraint, a singular leading block, or a block that couples several nodes or arcs.
    """


class StlpWarning(UserWarning):
    """A suspicious but legal input, e.g. an output that no input reaches."""


class InternalError(Exception):
    """A fault of stlp_sym itself, not of its input: please report it.

    Its message asks for a bug report with the model attached; it is deliberately not a
    :class:`StlpError`, so that callers that handle bad input do not hide it.
    """

    def __init__(self, message: str) -> None:
        super().__init__(
            f"{message} (an internal error of stlp_sym: please report it with the model file "
            "or action that triggered it attached)"
        )
