"""Code generation: from a derivation to the source text of a module.

In: a :class:`~stlp_sym.symbolic.derivation.Derivation` and :class:`~stlp_sym.options.Options`.
Out: the step IR (``ir``: kernels of typed ops, built by ``lowering`` and the passes of
``kernel``; the exact policy's system in ``exact``), printed per backend (``printer``) and placed
into the module template (``render``), with the parts that follow the options (``module_parts``:
tables, ``_MODEL``, public functions), the runtime helpers they call (``paste``) and the
integrator records (``integrators``).
"""
