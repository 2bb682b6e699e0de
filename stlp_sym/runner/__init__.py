"""Runner: integrates a generated module on signals, recording what its monitors ask.

In: an imported module, a :class:`~stlp_sym.graph.Digraph`, a task (``tasks``: the signals) or a
plain ``signals(t)`` callable, parameters, a horizon, monitors (``monitors``), frozen fields, a
start state or a checkpoint to resume (``checkpoint``).
Out: a :class:`~stlp_sym.runner.trace.Trace` (one series per monitor, final state, divergence,
provenance; as an xarray Dataset or NetCDF file) and checkpoints.
"""
