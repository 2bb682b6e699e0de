"""stlp_sym: SpatioTemporal Local Propagation from a symbolic action on any digraph.

State an action with SymPy, derive its Euler-Lagrange equations once per domain (node, edge,
global), expand them on a concrete graph, and (in later stages) generate vectorised NumPy code.
"""

from .action import (
    IS_FREE,
    IS_HIDDEN,
    IS_INPUT,
    IS_OUTPUT,
    Action,
    Aggregate,
    Clamp,
    Field,
    Parameter,
    Signal,
    dst,
    fn,
    src,
    t,
)
from .errors import ActionError, GraphError, StlpError, StlpWarning, StructureError

__version__ = "0.1.0"

__all__ = [
    "IS_FREE",
    "IS_HIDDEN",
    "IS_INPUT",
    "IS_OUTPUT",
    "Action",
    "ActionError",
    "Aggregate",
    "Clamp",
    "Field",
    "GraphError",
    "Parameter",
    "Signal",
    "StlpError",
    "StlpWarning",
    "StructureError",
    "__version__",
    "dst",
    "fn",
    "src",
    "t",
]
