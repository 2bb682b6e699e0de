"""Helpers of the numba backend's kernel wrappers: plain NumPy, run before the compiled loops.

A compiled kernel reads every node or edge array as ``(rows, size)`` (one row per batch member,
one row unbatched), its parameters as one ``(rows, count)`` array, and the plan's arcs as CSR
arrays: ``src`` and ``in_ptr`` (arcs sorted by destination) and ``out_ptr``/``by_src`` (the
same arcs by source, for sums into sources).

>>> as_rows(np.arange(3.0), 2, 3).tolist()
[[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]
>>> param_rows({"c": 2.0, "q": np.array([[1.0], [3.0]])}, ["q", "c"], 2).tolist()
[[1.0, 2.0], [3.0, 2.0]]
"""

import numpy as np

from .chunk import frozen_flags
from .loop import run_recorded
from .params import model_params


def batch_rows(lead) -> int:
    """Rows of a compiled kernel's arrays: the batch size, 1 unbatched."""
    rows = 1
    for size in lead:
        rows *= size
    return rows


def as_rows(value, rows, size) -> np.ndarray:
    """``value`` (``(size,)``, ``(rows, size)`` or broadcastable) as a C-contiguous
    ``(rows, size)`` float array, a view when it already is one."""
    value = np.asarray(value, dtype=np.float64)
    if value.shape == (size,) and rows == 1:
        value = value.reshape(1, size)
    if value.shape == (rows, size) and value.flags.c_contiguous:
        return value
    return np.ascontiguousarray(np.broadcast_to(value, (rows, size)))


def global_rows(value, rows) -> np.ndarray:
    """A global value (``()`` unbatched, ``(B,)`` for a batch) as a ``(rows, 1)`` column, a
    view of it when it has one value per row (a state updated in place stays one)."""
    value = np.asarray(value, dtype=np.float64)
    if value.size == rows and value.flags.c_contiguous:
        return value.reshape(rows, 1)
    return np.ascontiguousarray(np.broadcast_to(value.reshape(-1, 1), (rows, 1)))


def signal_rows(value, rows) -> np.ndarray:
    """A signal as ``(1, n)`` (shared by every member) or ``(rows, n)`` (one row each)."""
    value = np.asarray(value, dtype=np.float64)
    if value.ndim == 1:
        return value.reshape(1, -1) if value.flags.c_contiguous else value.copy().reshape(1, -1)
    return (
        np.ascontiguousarray(value)
        if value.shape[0] == rows
        else as_rows(value, rows, value.shape[-1])
    )


def time_rows(t) -> np.ndarray:
    """The time as a 1-D float array: one value shared by every row, or one per row (the
    records of a run evaluated together, each at its own time).

    >>> time_rows(0.5).tolist(), time_rows(np.array([[0.0], [1.0]])).tolist()
    ([0.5], [0.0, 1.0])
    """
    return np.ascontiguousarray(np.reshape(np.asarray(t, dtype=np.float64), -1))


def loop_buffers(plan, owner, shapes) -> list:
    """Work arrays of the given ``shapes`` for ``owner``, allocated once per plan and shapes."""
    key = (owner, shapes)
    held = plan["buffers"].get(key)
    if held is None:
        held = plan["buffers"][key] = [np.empty(shape) for shape in shapes]
    return held


def param_rows(p, names, rows) -> np.ndarray:
    """The parameters ``names`` of ``p`` as a ``(rows, len(names))`` array (a value per member
    or one shared)."""
    out = np.empty((rows, max(1, len(names))))
    for j, name in enumerate(names):
        out[:, j] = np.reshape(p[name], -1) if np.ndim(p[name]) else p[name]
    return out


def loop_plan(plan) -> tuple:
    """``(src, in_ptr, out_ptr, by_src)`` of the plan, the by-source order computed once."""
    if "by_src" not in plan:
        by_src = np.argsort(plan["src"], kind="stable")
        out_degree = np.bincount(plan["src"], minlength=plan["n"])
        plan["by_src"] = by_src
        plan["out_ptr"] = np.concatenate(([0], np.cumsum(out_degree)))
    return plan["src"], plan["in_ptr"], plan["out_ptr"], plan["by_src"]


def decay_rows(decays, names, rows) -> np.ndarray:
    """The decay rates ``names`` as a ``(rows, len(names))`` array (one per member or shared)."""
    out = np.zeros((rows, max(1, len(names))))
    for j, name in enumerate(names):
        value = decays[name]
        out[:, j] = np.reshape(value, -1) if np.ndim(value) else value
    return out


def table_signals(table, names, n) -> dict:
    """The table's signals ``names`` as C-contiguous, writable ``(rows, n)`` arrays (zeros
    when absent: an optional clamp's signal the task does not give). Writable like the signals
    the kernels get elsewhere, so that Numba compiles each kernel for one array type only."""
    present = {}
    for name in names:
        values = table["signals"].get(name)
        if values is None:
            values = np.zeros((1, n))
        values = np.broadcast_to(values, (len(values), n))
        present[name] = np.require(values, np.float64, ["C_CONTIGUOUS", "WRITEABLE"])
    return present


def live_rows(plan, name) -> np.ndarray:
    """Where node state ``name`` exists, as a float mask (1 where it does)."""
    live = plan["live"].get(name)
    return np.ones(plan["n"]) if live is None else live.astype(np.float64)


def run_steps_compiled(t0, dt, steps, state, plan, params, table, record, model) -> int:
    """``run_steps`` with the steps in compiled code (``model["chunk"]``): a compiled call
    returns only at a divergence, at the end, or when its snapshot buffers are full, and the
    records are evaluated from the snapshots (see :func:`run_recorded`)."""
    p = model_params(params, plan, model)
    frozen = frozen_flags(plan, model)
    limit, stride, chunk = record["limit"], record["stride"], model["chunk"]

    def advance(k0, count, info, snaps):
        return chunk(t0, dt, k0, count, state, plan, p, table, limit, info, stride, snaps, frozen)

    return run_recorded(advance, t0, dt, steps, state, plan, params, table, record, model)
