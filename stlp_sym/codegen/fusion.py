"""Explicit Euler's edge updates fused into the compiled rhs kernel: each edge field's states
are updated at the end of the arc body of the last pass over the arcs that reads them, so that
at a million arcs no update needs a pass of its own.

A field's chain ``w, w_d1, ...`` moves together, lowest first (each with the old value of the
next one, as the separate passes do), after every read of its states in that arc's iteration.
It is fused when that pass exists: its top state's output is computed by then, no later loop
(a node run, an out-sum, a global sum, an output copied from an input) reads one of its states,
and the node ops after the arcs of that pass do not read them either.
"""

from __future__ import annotations

from .kernel import Kernel
from .loops import LoopKernel, kernel_runs, loop_kernel


def _reads(ops) -> set[str]:
    return set().union(*(op.reads for op in ops))


def fused_runs(kernel: Kernel, chains: list[list[str]]) -> dict[str, int]:
    """``{state: run}``: the edge run (:func:`kernel_runs`) at whose arc bodies' end each
    state of a fusable chain is updated."""
    runs, placed = kernel_runs(kernel), {}
    defined = {op.target: k for k, run in enumerate(runs) for op in _ops(run)}
    for chain in chains:
        jets = {
            v for v, (_, source, key) in kernel.inputs.items() if source == "jet" and key in chain
        }
        out = kernel.outputs.get(chain[-1])
        if out not in defined or jets & set(kernel.outputs.values()):
            continue
        read = [k for k, run in enumerate(runs) if jets & _reads(_ops(run))]
        last = max([*read, defined[out]])
        domain, _, tail, after = runs[last]
        # at the end of the run's last arc loop: nothing after it in the run may read them
        if after or (domain == "edge" and not jets & _reads(tail)):
            placed.update({name: last for name in chain})
    return placed


def _ops(run: tuple) -> list:
    """Every op of a run (:func:`kernel_runs`): its arc loop, node ops and second arc loop."""
    return [*run[1], *run[2], *run[3]]


def fused_kernel(
    kernel: Kernel,
    globals_: tuple[str, ...],
    placed: dict[str, int],
    order: list[str],
    updates: dict[str, list[str]],
) -> LoopKernel:
    """The rhs kernel ``_rhs_kernel_fused_loops`` with the ``updates`` (lines per state, at arc
    ``_ea`` of member ``_mb``) of the ``placed`` states in their runs, in update ``order``;
    its extra arguments ``_K``, ``_F`` and ``_u_<state>`` (the states it updates)."""
    tails: dict[int, list[str]] = {}
    for name in order:
        if name in placed:
            tails.setdefault(placed[name], []).extend(updates[name])
    extra = ("_K", "_F", *[f"_u_{name}" for name in order if name in placed])
    return loop_kernel(kernel, "_rhs_kernel_fused", globals_, tails, extra)
