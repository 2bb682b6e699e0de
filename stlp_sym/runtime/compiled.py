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
