r"""SymPy expressions of the package printed in its notation in a notebook.

The package's own objects (actions, derivations, systems, expanded equations, models, reports,
traces) display themselves. A bare SymPy expression, such as ``derivation.equation("x")``, is
printed by SymPy, which knows nothing of frames: ``lambda_hat(t)`` would read
``\lambda_{hat}{\left(t \right)}``. :func:`init_printing` makes IPython print every SymPy
expression with the package's printer instead (``\hat{\lambda}_{i}``, ``[i \in O]``), in the
frame :func:`~stlp_sym.symbolic.frameprint.frame_of` reads off the expression.

>>> from stlp_sym.symbolic.vocabulary import IS_OUTPUT, fn
>>> notebook_latex(IS_OUTPUT * fn("lambda_hat"))
'$[i \\in O] \\hat{\\lambda}_{i}$'
>>> init_printing()  # outside IPython there is nothing to set up
False
"""

from __future__ import annotations

import sympy as sp

from ..symbolic.frameprint import frame_of, latex


def notebook_latex(expr: sp.Basic) -> str:
    """The LaTeX IPython shows for a SymPy expression once :func:`init_printing` ran."""
    return f"${latex(expr, frame_of(expr))}$"


def init_printing() -> bool:
    """Print SymPy expressions in the package's notation in the running IPython (a notebook).

    Returns
    -------
    bool
        True when IPython is running and now uses the package's printer, False when there is
        no IPython (in a script nothing changes).
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    formatter = shell.display_formatter.formatters["text/latex"]
    formatter.for_type(sp.Basic, notebook_latex)
    return True
