"""Runner: integrates a generated module on signals.

In: an imported module, a :class:`~stlp_sym.graph.Digraph`, a task (``tasks``: the signals) or a
plain ``signals(t)`` callable, parameters and a horizon.
Out: a :class:`~stlp_sym.runner.trace.Trace` (outputs, reference, energy, final state, divergence).
"""
