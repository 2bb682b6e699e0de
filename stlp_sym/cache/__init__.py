"""Cache: from source text to an imported module.

In: an action and options (``store.cache_key`` needs no derivation), the module source.
Out: an intact file in the cache or ``--out`` directory (written atomically, checked by the hash
of its body) and the imported module; ``manifest`` keeps ``generated/`` in step with the generator.
"""
