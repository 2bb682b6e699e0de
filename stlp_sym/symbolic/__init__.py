"""The symbolic stages: from an action to its equations, once per domain.

In: an :class:`Action` (fields, signals, clamps, aggregates, parameters, Lagrangian terms),
written with the vocabulary of ``vocabulary`` (``t``, ``fn``, ``src``, ``dst``, ``Field``, ...).
Out: a :class:`Derivation` (Euler-Lagrange equations per field, the explicit first-order system),
transformed (``transforms``: penalty, flip, normalise, ascent, exact), expanded on a graph
(``expansion``), and printed as LaTeX or text (``printing``, ``frameprint``). ``models`` holds the
built-in models. Nothing here generates code or runs anything.
"""
