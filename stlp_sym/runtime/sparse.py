"""The sparse solve of the exact policy: ``A u = b`` from COO triplets, with scipy.sparse.

A module generated under the exact policy assembles its system in NumPy and calls the solver
installed with its ``set_solver``; this is the one the runner and the checks install. It is not
pasted into modules, which stay NumPy-only.
"""

from __future__ import annotations

import numpy as np


def sparse_solve(rows, cols, values, b, size) -> np.ndarray:
    """Solve ``A u = b`` with ``A`` given as COO triplets (duplicates are summed).

    >>> sparse_solve(np.array([0, 1, 1]), np.array([0, 1, 1]), np.array([2.0, 1.0, 3.0]),
    ...              np.array([2.0, 8.0]), 2).tolist()
    [1.0, 2.0]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import spsolve

    matrix = coo_matrix((values, (rows, cols)), shape=(size, size)).tocsc()
    return np.asarray(spsolve(matrix, b))
