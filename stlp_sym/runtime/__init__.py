"""Runtime helpers of generated modules and of the runner.

In: arrays (a plan, states, parameters) and a module's ``_MODEL`` (its tables and kernels).
Out: arrays. NumPy only: ``plan`` (the per-graph plan, gathers, scatters, work arrays),
``params``, ``clamps``, ``rates`` (the time derivative of every state), ``integrate`` (explicit
Runge-Kutta from a tableau, semi-implicit Euler, explicit Euler with ``dt`` folded), ``exact``
(the exact policy's sparse system) and ``energy``. Code generation pastes the functions a module
calls into it, verbatim, so a module stays standalone; these files are read as text there,
never imported. ``sparse`` (the exact policy's solve) also uses SciPy and is installed into a
module by the runner, never pasted into it.
"""
