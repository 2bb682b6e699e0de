"""Parameter values a run is given: a number, one per member of a batch, or, for a parameter on
nodes or arcs (the module's ``PARAM_DOMAINS``), one per node (in the graph's node order) or per
arc (in the order the graph's arcs were given), shared by the members or one row per member.

>>> import types, numpy as np
>>> module = types.SimpleNamespace(PARAMS={"c": 1.0, "tau": 1.0}, PARAM_DOMAINS={"tau": "node"})
>>> check_shape(module, "tau", np.ones(3), n=3, arcs=2, members=None)
>>> check_shape(module, "tau", np.ones(2), n=3, arcs=2, members=None)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
stlp_sym.errors.StlpError: parameter 'tau' has one value per node: give 3 values (the ...
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from ..errors import StlpError


def check_shape(
    module: ModuleType, name: str, values: np.ndarray, n: int, arcs: int, members: int | None
) -> None:
    """Refuse a value of parameter ``name`` whose shape does not fit the graph or the batch."""
    domain = getattr(module, "PARAM_DOMAINS", {}).get(name)
    if domain is None:
        if values.ndim > 1 or (values.ndim == 1 and values.size != (members or values.size)):
            raise StlpError(
                f"parameter {name!r} is a number (or one per member of a batch), not an array "
                f"of shape {values.shape}"
            )
        return
    size, where = (n, "node") if domain == "node" else (arcs, "arc")
    order = "the graph's node order" if domain == "node" else "the order the arcs were given"
    shapes = [(), (size,)] + ([(members, size)] if members else [])
    if values.shape not in shapes:
        batch = f", or a ({members or 'members'}, {size}) array for a batch"
        raise StlpError(
            f"parameter {name!r} has one value per {where}: give {size} values ({order})"
            f"{batch}, not an array of shape {values.shape}"
        )
