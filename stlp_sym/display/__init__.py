"""Display: pictures of what the other stages produced.

In: LaTeX lines (``png``) or a trace (``plots``). Out: PNG files, written atomically.
"""
