"""The sparse solve of the exact policy: ``A u = b`` from COO triplets, with scipy.sparse.

A module generated under the exact policy assembles its system in NumPy and calls the solver
installed with its ``set_solver``; this is the one the runner and the checks install. It is not
pasted into modules, which stay NumPy-only.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import StlpError


def sparse_solve(rows, cols, values, b, size) -> np.ndarray:
    """Solve ``A u = b`` with ``A`` given as COO triplets (duplicates are summed).

    >>> sparse_solve(np.array([0, 1, 1]), np.array([0, 1, 1]), np.array([2.0, 1.0, 3.0]),
    ...              np.array([2.0, 8.0]), 2).tolist()
    [1.0, 2.0]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import MatrixRankWarning, spsolve

    matrix = coo_matrix((values, (rows, cols)), shape=(size, size)).tocsc()
    with warnings.catch_warnings():
        warnings.simplefilter("error", MatrixRankWarning)
        try:
            u = np.asarray(spsolve(matrix, b))
        except MatrixRankWarning:
            u = np.full(size, np.nan)
    if not np.all(np.isfinite(u)):  # singular: NaN would pass for a divergence
        empty = np.setdiff1d(np.arange(size), cols[values != 0])
        raise StlpError(
            "the exact policy's linear system is singular"
            + (f" (no equation holds unknowns {empty[:10].tolist()})" if empty.size else "")
            + ": some unknown is determined by no equation on some node, e.g. a multiplier on "
            "nodes where the field it constrains is clamped, or a field outside its role"
        )
    return u
