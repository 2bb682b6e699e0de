"""Text to actions, without evaluating anything.

In: expression strings and declarative TOML model files.
Out: SymPy expressions (``expressions``, through the text checks of ``scan`` and the whitelist
tree walk of ``tree``) and :class:`~stlp_sym.symbolic.models.Model` records (``modelfile``).
"""
