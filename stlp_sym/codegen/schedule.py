"""Pass: order a kernel's ops so that each comes after what it reads, and count hops.

A hop is a gather or a scatter: the number of hops on the longest path to an output is the
radius of the neighbourhood its update reads (0: the node or arc itself, 1: its parents or
children, ...), which the generated module states in its header. An update that reads a global
field or a sum over every node or arc is not local at all, whatever its hops: its *reach*
(:func:`global_reach`) names the global quantities it reads.

>>> import sympy as sp
>>> ops = [Op("s", "node", "scatter", source="g", end="dst"),
...        Op("g", "edge", "gather", source="x", end="src")]
>>> ordered = schedule(ops, {"x"})
>>> [str(op) for op in ordered], count_hops(ordered)
(['edge g = gather_src(x)', 'node s = scatter_dst(g)'], {'g': 1, 's': 2})
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import InternalError
from .kernel import Op

#: How a sum into a global is named in a locality report.
REDUCED = {"nodes": "a sum over every node", "arcs": "a sum over every arc"}


def schedule(ops: list[Op], inputs: set[str]) -> list[Op]:
    """Order ops so that each comes after what it reads (stable otherwise)."""
    pending, done, ordered = list(ops), set(inputs), []
    while pending:
        ready = [op for op in pending if op.reads <= done | {"t"}]
        if not ready:
            missing = sorted(set().union(*(op.reads for op in pending)) - done)
            raise InternalError(f"lowering produced a cycle or undefined variables: {missing}")
        for op in ready:
            ordered.append(op)
            done.add(op.target)
        pending = [op for op in pending if op.target not in done]
    return ordered


def count_hops(ops: list[Op]) -> dict[str, int]:
    """Gathers and scatters on the longest path to each variable of scheduled ``ops``."""
    hops: dict[str, int] = {}
    for op in ops:
        base = max((hops.get(name, 0) for name in op.reads), default=0)
        hops[op.target] = base + (op.kind != "expr")
    return hops


def global_reach(ops: list[Op], inputs: Mapping[str, tuple[str, str, str]]) -> dict[str, set[str]]:
    """The global quantities each variable of scheduled ``ops`` reads: the global fields among
    ``inputs`` (by key) and the sums over every node or arc (:data:`REDUCED`).

    >>> ops = [Op("r", "global", "reduce", source="x", end="nodes")]
    >>> global_reach(ops, {"x": ("node", "jet", "x")})
    {'r': {'a sum over every node'}}
    """
    reach = {var: {key} for var, (domain, _, key) in inputs.items() if domain == "global"}
    for op in ops:
        read = set().union(*(reach.get(name, set()) for name in op.reads))
        if op.kind == "reduce":
            read.add(REDUCED[op.end])
        reach[op.target] = read
    return {var: read for var, read in reach.items() if read}
