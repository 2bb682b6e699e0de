"""Runtime helpers of generated modules and of the runner.

In: arrays (a plan, states, parameters). Out: arrays. NumPy only; ``sparse`` (the exact policy's
solve) also uses SciPy and is installed into a module by the runner, never pasted into it.
"""
